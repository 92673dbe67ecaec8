#!/bin/sh
# One image, several roles:
#   web      gunicorn on :8000 (WEB_CONCURRENCY sync workers, default 3)
#   worker   Celery explanation worker; extra arguments are passed on (e.g. -Q gpu)
#            (WORKER_QUEUES default cpu, WORKER_CONCURRENCY default 1)
#   beat     Celery beat: explanation sweeper, audit checkpoints, retention erasure
#   migrate  apply database migrations and exit
#   manage   any manage.py command: `manage verify_audit_chain`
# Anything else is executed as given.
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
      python manage.py migrate --noinput
    fi
    exec gunicorn config.wsgi \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-3}" \
      --timeout "${WEB_TIMEOUT:-60}" \
      --max-requests "${WEB_MAX_REQUESTS:-10000}" \
      --max-requests-jitter 1000 \
      --access-logfile - \
      --logger-class config.gunicorn_logging.RedactingLogger \
      "$@"
    ;;
  worker)
    # -Q given as an argument (the GPU image's default) wins over WORKER_QUEUES.
    case " $* " in
      *" -Q "*) queues="" ;;
      *) queues="-Q ${WORKER_QUEUES:-cpu}" ;;
    esac
    # shellcheck disable=SC2086 # $queues is two words on purpose
    exec celery -A config worker $queues \
      --concurrency "${WORKER_CONCURRENCY:-1}" \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --hostname "${WORKER_NAME:-worker}@%h" \
      "$@"
    ;;
  beat)
    exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${RATIONALE_VAR_DIR:-/var/lib/rationale}/celerybeat-schedule" "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
