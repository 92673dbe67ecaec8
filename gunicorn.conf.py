# Read by gunicorn when started from the repository root (make web, make run, the Docker image's
# /app): its access and error logs never show a subject's access token or an e-mail address.
logger_class = "config.gunicorn_logging.RedactingLogger"
