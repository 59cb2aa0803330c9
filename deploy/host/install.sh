#!/bin/sh
# Installs lanner as a systemd service on this host (EC2 or any Linux >= 5.8 with BTF), using
# the eBPF driver to watch the whole system.
#
#   sudo deploy/host/install.sh [path/to/lanner] [path/to/rules.yaml]
#
# With no arguments: the lanner on PATH (or ./target/release/lanner) and the embedded default
# rules, written out to /etc/lanner/rules.yaml so that they can be edited. Run again to upgrade:
# existing rules are kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-}
rules=${2:-}

die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v systemctl >/dev/null 2>&1 || die "systemd is needed (systemctl not found)"

if [ -z "$bin" ]; then
    if [ -x "$here/../../target/release/lanner" ]; then
        bin="$here/../../target/release/lanner"
    else
        bin=$(command -v lanner) || die "no lanner binary: give its path, or run cargo build --release"
    fi
fi
[ -x "$bin" ] || die "$bin is not an executable"

# Say now, not in the journal later, if this machine cannot run the eBPF driver.
if ! "$bin" drivers | grep -q '^ebpf: available'; then
    echo "install.sh: warning: the eBPF driver cannot run here yet:" >&2
    "$bin" drivers | sed -n '/^ebpf/,/^[a-z]/p' >&2
fi

install -m 0755 "$bin" /usr/local/bin/lanner
install -d -m 0755 /etc/lanner
install -d -m 0700 /var/log/lanner
if [ -n "$rules" ]; then
    install -m 0644 "$rules" /etc/lanner/rules.yaml
elif [ ! -e /etc/lanner/rules.yaml ]; then
    install -m 0644 "$here/../../agent/rules/default.yaml" /etc/lanner/rules.yaml
fi
/usr/local/bin/lanner rules check /etc/lanner/rules.yaml >/dev/null || die "/etc/lanner/rules.yaml does not load"

install -m 0644 "$here/lanner.service" /etc/systemd/system/lanner.service
systemctl daemon-reload
systemctl enable --now lanner.service
systemctl --no-pager status lanner.service || true
echo "lanner: alerts in /var/log/lanner/alerts.jsonl; logs: journalctl -u lanner"
