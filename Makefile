# Set-up and everyday commands. Needs only Python 3.11, Node/npm and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CHECKOV_VENV := .venv-checkov
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
# Python's default: keep compiled modules (and pytest's rewritten test modules) between runs, even where
# the shell turns that off; the inner loop (`make test-fast`) would otherwise recompile them every run.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup synth test test-fast docs bench diagrams clean

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: synthesize every lab in both profiles and print one line per stack
synth: setup
	rm -rf cdk.out cdk.out.production
	$(CDK) synth --quiet -c profile=sandbox -o cdk.out
	$(CDK) synth --quiet -c profile=production -o cdk.out.production
	$(VENV)/bin/python -m labs summary cdk.out cdk.out.production

## diagrams: redraw docs/diagrams/<lab>.svg and .png from freshly synthesized templates
diagrams: synth
	for lab in $$($(VENV)/bin/python -c 'from catalog import LABS; print(*LABS)'); do \
		$(VENV)/bin/python -m labs diagram $$lab || exit 1; done

## test: the whole test suite (gates, snapshots, assertions, handlers, practice steps)
test: setup
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

## test-fast: the inner loop, everything but the external gates (tests/gates) and the end-to-end deploy (tests/e2e)
test-fast: setup
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile --ignore=tests/gates --ignore=tests/e2e

## docs: the documentation site from docs/ (MkDocs, Material theme) into site/, strict: a broken link fails
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/python -m mkdocs build --strict

## bench: time cdk synth of all labs against an empty CDK app, and the labs command's start against importing boto3
bench: setup
	$(VENV)/bin/python bench/synth.py
	$(VENV)/bin/python bench/cli.py

clean:
	rm -rf cdk.out cdk.out.production .pytest_cache site
