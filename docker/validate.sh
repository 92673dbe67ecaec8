#!/bin/sh
# CI check of the deployment files without a Docker engine: the compose file parses and
# interpolates (with and without the gpu profile), and the entrypoint is valid sh.
#   docker/validate.sh            (needs Debian's docker-compose: apt-get install docker-compose)
set -eu
cd "$(dirname "$0")/.."
export SECRET_KEY=ci-only AUDIT_SIGNING_KEY=ci-only FIELD_ENCRYPTION_KEYS=ci-only POSTGRES_PASSWORD=ci-only EMAIL_URL=none
docker-compose -f docker/compose.yaml config -q
docker-compose -f docker/compose.yaml --profile gpu config -q
docker-compose -f docker/compose.yaml --profile dev config --services | grep -qx mailpit \
  || { echo "compose.yaml: no mailpit service in the dev profile" >&2; exit 1; }
docker-compose -f docker/compose.yaml --profile gpu config --services | sort | tr '\n' ' ' \
  | grep -qx 'beat gpu-worker migrate postgres redis web worker ' \
  || { echo "compose.yaml: unexpected set of services" >&2; exit 1; }
sh -n docker/entrypoint.sh
echo "docker/: compose.yaml and entrypoint.sh are valid"
