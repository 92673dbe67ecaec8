#!/bin/sh
# CI check of the deployment files without a Docker engine: the compose file parses and
# interpolates (with and without the gpu profile), and the entrypoint is valid sh.
#   docker/validate.sh            (needs Debian's docker-compose: apt-get install docker-compose)
set -eu
cd "$(dirname "$0")/.."
export SECRET_KEY=ci-only AUDIT_SIGNING_KEY=ci-only FIELD_ENCRYPTION_KEYS=ci-only POSTGRES_PASSWORD=ci-only EMAIL_URL=none
docker-compose -f docker/compose.yaml config -q
docker-compose -f docker/compose.yaml --profile gpu config -q
docker-compose -f docker/compose.yaml --profile monitoring config -q
# Each service and the profile it starts with (docker-compose 1.x lists every service whatever
# the profile, so the profiles are read from the resolved file): mailpit only with `dev`,
# Prometheus and Grafana only with `monitoring`.
docker-compose -f docker/compose.yaml config | python3 -c '
import sys, yaml
found = {name: s.get("profiles") for name, s in yaml.safe_load(sys.stdin)["services"].items()}
expected = {"postgres": None, "redis": None, "migrate": None, "web": None, "worker": None,
            "beat": None, "gpu-worker": ["gpu"], "mailpit": ["dev"],
            "prometheus": ["monitoring"], "grafana": ["monitoring"]}
sys.exit(0 if found == expected else f"compose.yaml: services and profiles {found}, expected {expected}")
'
sh -n docker/entrypoint.sh
echo "docker/: compose.yaml and entrypoint.sh are valid"
