# Rationale: one entry point. `make run` shows the product; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Where `make run` keeps the demo's database, broker, keys and links.
VAR_DIR ?= var

# Python 3.12: python3.12 on PATH if it really runs (a pyenv shim may not), else pyenv's install.
PYTHON312 := $(shell for c in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	if $$c -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then echo $$c; break; fi; done)

# Test environment: real PostgreSQL and Redis (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rationale
TEST_BROKER_URL ?= redis://127.0.0.1:6399/0
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	SECRET_KEY=test-secret-key-not-for-production \
	AUDIT_SIGNING_KEY=dGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcy1sb25nISE= \
	FIELD_ENCRYPTION_KEYS=dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU= \
	SECURE_COOKIES=0 RATIONALE_VAR_DIR=$(CURDIR)/var/test \
	CACHE_URL=$(patsubst %/0,%/1,$(TEST_BROKER_URL)) EMAIL_URL=none
DEMO_ENV := DEBUG=1 PUBLIC_BASE_URL=http://$(HOST):$(PORT) RATIONALE_VAR_DIR=$(abspath $(VAR_DIR))

.PHONY: help venv run migrate migrate-test seed web worker beat test lint format bench clean

help:
	@echo "make run      - install, migrate, load the demo, start web + worker + beat (SQLite, no servers needed)"
	@echo "make test     - the whole test suite (needs PostgreSQL on 127.0.0.1:5432 and Redis on :6379)"
	@echo "make lint     - ruff, the layers contract (import-linter) and the migrations check"
	@echo "make worker   - a Celery explanation worker (uses CELERY_BROKER_URL / DATABASE_URL)"
	@echo "make beat     - the periodic sweeper and audit checkpoints"
	@echo "make bench    - benchmarks (see bench/README.md)"

$(BIN)/.installed: requirements.txt requirements-dev.txt requirements.lock
	@if [ -z "$(PYTHON312)" ]; then \
		echo "Python 3.12 not found. Install it (e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv') and retry."; \
		exit 1; fi
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c requirements.lock
	@touch $@

venv: $(BIN)/.installed

migrate: venv
	$(DEMO_ENV) $(PY) manage.py migrate --noinput

seed: migrate
	$(DEMO_ENV) $(PY) manage.py seed_demo --api-key-file $(VAR_DIR)/demo-api-key \
		--links-file $(VAR_DIR)/demo-subject-links.txt

# The web server, a worker and the periodic tasks, started and stopped together by
# demo/supervise.py: Ctrl-C, or SIGTERM to make's process group, stops each cleanly within 10 s.
# `exec`, so that no shell sits between make and it to die of the signal first.
run: seed
	@$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@echo ""
	@echo "  Rationale is starting at http://$(HOST):$(PORT)/  (embedded SQLite + filesystem broker)"
	@echo "    sign in:     http://$(HOST):$(PORT)/accounts/login/"
	@echo "                 caseworker: casey / rationale-demo    auditor: audrey / rationale-demo"
	@echo "                 admin:      admin / rationale-demo"
	@echo "    API docs:    http://$(HOST):$(PORT)/api/docs/"
	@echo "    API key:     $$(cat $(VAR_DIR)/demo-api-key)"
	@echo "    subject links of sample decisions: $(VAR_DIR)/demo-subject-links.txt"
	@echo "    try:  curl -s -X POST http://$(HOST):$(PORT)/api/v1/decisions/ -H \"Authorization: Api-Key $$(cat $(VAR_DIR)/demo-api-key)\" \\"
	@echo "            -H 'Content-Type: application/json' -d @bench/sample_decision.json"
	@echo "    stop:  Ctrl-C"
	@echo ""
	@$(DEMO_ENV) exec $(PY) -m demo.supervise --bind $(HOST):$(PORT)

web: venv
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-4}

worker: venv
	$(BIN)/celery -A config worker -Q $${WORKER_QUEUES:-cpu} --concurrency $${WORKER_CONCURRENCY:-2} --loglevel INFO

beat: venv
	$(BIN)/celery -A config beat --loglevel INFO -s var/celerybeat-schedule

test: venv
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

migrate-test: venv
	$(TEST_ENV) $(PY) manage.py migrate --noinput

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	@echo "see bench/README.md for each benchmark's command"

clean:
	rm -rf var/ staticfiles/ .pytest_cache
