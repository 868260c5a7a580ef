# « Mes données de santé » — Rasa 3.6 assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
WEB_ASSETS := webapp/static/vendor/.installed
OIDC_MOCK  := var/oidc-provider-mock
OIDC_MOCK_STAMP := $(OIDC_MOCK)/.installed
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

RASA_PORT   ?= 5005
ACTION_PORT ?= 5055

.PHONY: help install data validate train promote rollback model-status tune compare-classifiers run shell migrate operator purge remask bench bench-console audit system-deps lint format test test-python test-stories clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@PY310=$$(scripts/find-python.sh) || exit 1; \
	 if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	   echo "Creating $(VENV) with $$PY310"; rm -rf $(VENV); "$$PY310" -m venv $(VENV) || exit 1; \
	 fi
	@echo "Installing locked dependencies (log: var/logs/pip.log) ..."
	@mkdir -p var/logs
	@$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt > var/logs/pip.log 2>&1 \
	  || { tail -30 var/logs/pip.log; echo "pip install failed, see var/logs/pip.log"; exit 1; }
	@$(PY) -m pip check > /dev/null || { $(PY) -m pip check; exit 1; }
	@touch $(STAMP)

install: $(STAMP) $(WEB_ASSETS) $(OIDC_MOCK_STAMP) ## Create the virtual environment and install the locked dependencies

# oidc-provider-mock, the OpenID provider process of the console's single sign-on tests, in an
# environment of its own: it needs pydantic 2, which Rasa 3.6's cannot hold.
$(OIDC_MOCK_STAMP): requirements-oidc-mock.txt
	@PY310=$$(scripts/find-python.sh) || exit 1; rm -rf $(OIDC_MOCK); "$$PY310" -m venv $(OIDC_MOCK) || exit 1
	@mkdir -p var/logs
	@$(OIDC_MOCK)/bin/python -m pip install --disable-pip-version-check -q -r requirements-oidc-mock.txt > var/logs/pip-oidc-mock.log 2>&1 \
	  || { tail -30 var/logs/pip-oidc-mock.log; echo "pip install failed, see var/logs/pip-oidc-mock.log"; exit 1; }
	@touch $@

# Browser assets (DSFR, socket.io client, axe-core) from the npm registry, locked by package-lock.json.
$(WEB_ASSETS): widget/package.json widget/package-lock.json webapp/assets.py $(STAMP)
	@command -v npm > /dev/null || { echo "npm is needed for the widget's assets (apt-get install npm, or Node.js 18+)"; exit 1; }
	@mkdir -p var/logs
	@cd widget && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error > ../var/logs/npm.log 2>&1 || { tail -20 ../var/logs/npm.log; exit 1; }
	@$(PY) -m webapp.assets
	@touch $@

data: $(STAMP) ## Check the facts and generate the NLU data from them
	@$(PY) -m training.facts
	@$(PY) -m training.nlu_data

validate: data ## Validate the training data (rasa data validate)
	@$(PY) -m rasa data validate --quiet --config config.yml --domain domain.yml --data data > var/logs/validate.log 2>&1 \
	  || { cat var/logs/validate.log; exit 1; }
	@echo "rasa data validate: OK"

train: data ## Train the model if config, domain or data changed (cached by fingerprint)
	@$(PY) -m training.model_store

promote: train ## Put the trained model in service if it does not regress on dev, real and blind (training/releases.py)
	@$(PY) -m training.releases promote $(PROMOTE_ARGS)

rollback: $(STAMP) ## Put the previous model release back in service
	@$(PY) -m training.releases rollback

model-status: $(STAMP) ## Show the model in service and the previous ones, with their figures
	@$(PY) -m training.releases status

tune: train ## Tune the fallback thresholds on the development set (docs/fallback-threshold.md)
	@$(PY) -m training.thresholds

compare-classifiers: data ## Compare classifier designs on dev and in cross-validation, never on the test sets (docs/classifier-selection.md)
	@$(PY) -m training.model_selection

migrate: $(STAMP) ## Bring the application database (DATABASE_URL) to the latest schema
	@$(PY) -m storage.database

operator: $(STAMP) ## Create or reset a console account, or change its role: make operator NAME=identifiant [ROLE=lecteur|réviseur|dpo|admin]
	@$(PY) -m storage.database > /dev/null
	@$(PY) -m console.accounts "$(NAME)" "$(ROLE)"

purge: $(STAMP) ## Delete conversation logs older than CONVERSATION_RETENTION_DAYS (requests are kept)
	@$(PY) -m conversations.retention

remask: $(STAMP) ## Re-apply the masking of names, addresses and health details to conversations stored earlier
	@$(PY) -m conversations.remask

run: train $(WEB_ASSETS) ## Install, train if needed, and start the Rasa and action servers
	@scripts/run.sh

shell: train ## Chat with the assistant in the terminal
	@scripts/shell.sh

# Debian packages the tests use: a real browser, and docker-compose to check docker/.
SYSTEM_PACKAGES := chromium docker-compose nginx
system-deps: ## Install chromium, docker-compose and nginx with apt when missing (as root)
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p > /dev/null || missing="$$missing $$p"; done; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	     echo "Installing$$missing with apt-get ..."; \
	     apt-get update -qq > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing fonts-dejavu-core > /dev/null \
	       || { echo "apt-get install$$missing failed"; exit 1; }; \
	   else echo "The tests need$$missing: install them (Debian: sudo apt-get install$$missing)"; exit 1; fi; \
	 fi

lint: $(STAMP) ## ruff: lint and format check (ruff.toml); `make format` fixes what it can
	@$(VENV)/bin/ruff check --quiet . && $(VENV)/bin/ruff format --check --quiet . \
	  || { echo "ruff found problems: run 'make format', then fix what remains"; exit 1; }
	@echo "ruff: OK"

format: $(STAMP) ## Apply ruff's import order and formatting
	@$(VENV)/bin/ruff check --fix --quiet . ; $(VENV)/bin/ruff format --quiet .

test: train $(WEB_ASSETS) $(OIDC_MOCK_STAMP) system-deps ## Run the whole test suite (what CI runs)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory validate
	@$(MAKE) --no-print-directory test-python
	@$(MAKE) --no-print-directory test-stories

test-python: $(OIDC_MOCK_STAMP) ## pytest: facts, actions, privacy, NLU held-out set, end-to-end
	@$(PY) -m pytest

test-stories: ## Conversation tests: rasa test core with --fail-on-prediction-errors
	@rm -rf var/test-results/stories
	@$(PY) -m rasa_addons.rasa_cli test core --quiet --model $$($(PY) -m training.model_store path) \
	  --stories tests/stories --out var/test-results/stories \
	  --fail-on-prediction-errors > var/logs/test-stories.log 2>&1 \
	  || { tail -40 var/logs/test-stories.log; cat var/test-results/stories/failed_test_stories.yml 2>/dev/null; exit 1; }
	@$(PY) scripts/story_summary.py var/test-results/stories/story_report.json

bench: train ## Benchmarks: understanding vs baselines, serving speed vs plain Rasa (docs/benchmarks.md)
	@$(PY) -m bench $(BENCH_ARGS) 2> var/logs/bench.log || { tail -30 var/logs/bench.log; exit 1; }

bench-quick: train ## A few minutes, before and after a performance change: serving against a plain Rasa bot, printed
	@$(PY) -m bench --quick 2> var/logs/bench-quick.log || { tail -30 var/logs/bench-quick.log; exit 1; }

bench-console: $(STAMP) ## Console pages over 100,000 conversations in local PostgreSQL (docs/benchmarks-console.md)
	@$(PY) -m bench.console_queries 2> var/logs/bench-console.log || { tail -30 var/logs/bench-console.log; exit 1; }

audit: $(STAMP) ## Audit the locked dependencies with pip-audit (needs PyPI's JSON API or OSV)
	@$(PY) -m pip install -q pip-audit > /dev/null
	@$(PY) -m pip_audit -r requirements.txt --no-deps --disable-pip --progress-spinner off

clean: ## Remove generated data, trained models and logs (keeps the databases in var/ and models/releases/)
	rm -rf models/mds-* data/nlu/facts.yml var/logs var/test-results
