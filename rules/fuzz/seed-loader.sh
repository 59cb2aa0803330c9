#!/bin/sh
# Seeds corpus/loader with the default and upstream rules files, whole and split into their
# items (one file per top-level `- ` item), for `cargo +nightly fuzz run loader`.
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/loader
for f in ../../agent/rules/default.yaml ../../agent/rules/falco_rules.yaml; do
    cp "$f" "corpus/loader/whole-$(basename "$f")"
    awk -v out="corpus/loader/$(basename "$f" .yaml)-" \
        '/^- /{n++} n{print > (out n ".yaml")}' "$f"
done
ls corpus/loader | wc -l
