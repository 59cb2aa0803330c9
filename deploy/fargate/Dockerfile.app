# An application image with lanner inside it, for task definitions patched without a sidecar
# (`lanner fargate patch TASKDEF.json`). Only the COPY lines matter; put them in your own
# Dockerfile or build on top of your image as here.
#
# Build context: the repository root, after `cargo xtask dist`:
#   docker build -f deploy/fargate/Dockerfile.app --build-arg APP_IMAGE=my-app:1.2 -t my-app:1.2-lanner .
ARG APP_IMAGE
FROM ${APP_IMAGE}
COPY dist/lanner-*-x86_64-linux-static /lanner/lanner
COPY dist/rules/ /lanner/rules/
# The image's ENTRYPOINT/CMD stay as they are: the task definition says what runs, and
# `lanner fargate patch` puts lanner in front of it. To run the image under lanner without a
# task definition too (docker run), repeat them here after lanner, e.g.:
#   ENTRYPOINT ["/lanner/lanner", "run", "--driver", "ptrace", "--", "/usr/local/bin/docker-entrypoint.sh"]
#   CMD ["node", "server.js"]
