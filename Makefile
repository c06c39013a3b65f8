# Deskside: `make run` starts the stack, `make test` runs the suite.
# Both install what they need first; nothing else has to be set up.

.DEFAULT_GOAL := help
SHELL := /bin/bash

UV_VERSION := 0.13.8
# Use the uv on PATH if there is one; otherwise bootstrap a private copy with pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS ?= never

ROLE ?= requester
SUB ?= dev-user
EMAIL ?=
NAME ?=
DEPARTMENT ?=

SOURCE := shared/contracts/src shared/kit/src shared/client/src services/tickets/src services/inventory/src services/notify/src gateway/src cli/src
# pip-audit asks PyPI's per-release JSON API about each locked version; probed first.
ADVISORIES_PROBE := https://pypi.org/pypi/pip/24.0/json

.PHONY: help install run seed test lint format token migrate clean deploy-check deploy-test test-hard audit bench

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@echo "Installing uv $(UV_VERSION) into .tools/ ..."
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools/pip "uv==$(UV_VERSION)"
	@mkdir -p .tools/bin && ln -sf ../pip/bin/uv .tools/bin/uv

.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced ## install everything (uv, Python packages) into .venv

run: install ## start the whole stack on http://127.0.0.1:8080 (Ctrl-C stops it)
	@exec $(UV) run --frozen --no-sync python -m deskside_kit.devstack

seed: install ## fill the running stack (make run) with a realistic desk: TICKETS=300
	$(UV) run --frozen --no-sync python -m deskside_tickets.seed --tickets "$(or $(TICKETS),300)"

test: install ## run the whole suite, on SQLite and on PostgreSQL
	$(UV) run --frozen --no-sync pytest $(PYTEST_ARGS)

test-hard: install ## only the attack and fault battery (tests/hard/), printing its figures
	$(UV) run --frozen --no-sync pytest -m hard tests/hard -s $(PYTEST_ARGS)

lint: install ## ruff and mypy (strict on the source)
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .
	$(UV) run --frozen --no-sync mypy $(SOURCE)

audit: install ## bandit on the source (no medium or high findings), pip-audit on uv.lock
	$(UV) run --frozen --no-sync bandit -q -r $(SOURCE) --severity-level medium
	@mkdir -p var
	$(UV) export --frozen --all-groups --no-emit-workspace --no-hashes --format requirements-txt \
		-q -o var/audit-requirements.txt
	@if $(UV) run --frozen --no-sync python -c "import urllib.request as r; r.urlopen('$(ADVISORIES_PROBE)', timeout=10)" 2>/dev/null; then \
		$(UV) run --frozen --no-sync pip-audit --strict --no-deps --disable-pip --progress-spinner off \
			-r var/audit-requirements.txt; \
	else \
		echo "pip-audit: PyPI's advisory API does not answer from this machine ($(ADVISORIES_PROBE)): uv.lock was NOT audited."; \
		if [ -n "$$DESKSIDE_REQUIRE_AUDIT" ]; then exit 1; fi; \
	fi

deploy-check: install ## check the Dockerfile, compose file and Kubernetes manifests (no Docker needed)
	$(UV) run --frozen --no-sync hadolint deploy/Dockerfile tests/deploy/postgres/Dockerfile
	$(UV) run --frozen --no-sync check-jsonschema --builtin-schema vendor.compose-spec \
		deploy/compose.yaml tests/deploy/compose.host.yaml
	$(UV) run --frozen --no-sync kubernetes-validate --strict \
		$(filter-out %/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))
	$(UV) run --frozen --no-sync yamllint --strict deploy tests/deploy

deploy-test: install ## build the images and run them under compose on a private dockerd (root, minutes)
	$(UV) run --frozen --no-sync pytest -m deploy tests/deploy -p no:cacheprovider --timeout=1800 -s --durations=5 $(PYTEST_ARGS)

bench: install ## the benchmark suite, PostgreSQL and a million tickets (bench/README.md; minutes)
	@command -v wrk >/dev/null || { \
		echo "Installing wrk, the load generator (Debian package) ..."; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q --no-install-recommends wrk; }
	$(UV) run --frozen --no-sync python -m bench $(BENCH_ARGS)

format: install ## apply ruff's fixes and formatting
	$(UV) run --frozen --no-sync ruff check --fix .
	$(UV) run --frozen --no-sync ruff format .

token: install ## print a development token: make token ROLE=agent SUB=alice EMAIL=alice@example.com
	@$(UV) run --frozen --no-sync python -m deskside_kit.tokens --role "$(ROLE)" --sub "$(SUB)" \
		$(if $(EMAIL),--email "$(EMAIL)") $(if $(NAME),--name "$(NAME)") \
		$(if $(DEPARTMENT),--department "$(DEPARTMENT)")

migrate: install ## apply every service's migrations (what production runs before starting)
	$(UV) run --frozen --no-sync python -m deskside_tickets migrate
	$(UV) run --frozen --no-sync python -m deskside_inventory migrate
	$(UV) run --frozen --no-sync python -m deskside_notify migrate

clean: ## remove the local data (var/) and installed tools
	rm -rf var .venv .tools
