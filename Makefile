# Two commands on a fresh machine: `make run` (the demo) and `make test` (the whole suite).
# Both create .venv and install the pinned dependencies (requirements-dev.lock) on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

IDP_HOST ?= 127.0.0.1
IDP_PORT ?= 8000
RP_PORT ?= 8001
export IDP_ISSUER ?= http://$(IDP_HOST):$(IDP_PORT)
export RP_ISSUER ?= $(IDP_ISSUER)
export RP_BASE_URL ?= http://$(IDP_HOST):$(RP_PORT)

.PHONY: run federation-demo test fuzz lint format screenshots venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1))." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: venv
	$(BIN)/idp db upgrade
	$(BIN)/idp demo seed
	@test -f "$${IDP_KEYS_DIR:-keys}/eid-demo-ca.pem" || $(BIN)/idp card demo-ca
	@test -f "$${IDP_KEYS_DIR:-keys}/signature-ca.pem" || $(BIN)/idp ca init
	@test -f var/demo-cards/45678905.p12 || { mkdir -p var/demo-cards && \
		$(BIN)/idp card issue --document 4.567.890-5 --name "Carlos Fernández" \
			--out var/demo-cards/45678905.p12 --password demo-ciudadania; }
	@echo "Software eID card of 4.567.890-5: var/demo-cards/45678905.p12 (password demo-ciudadania)"
	@echo "Try signing: log in to the portal as 4.567.890-5, open \"Firmar una declaración\", and confirm with that card (the provider's card page prints the command)."
	$(BIN)/rp-demo register
	$(BIN)/python -m relying_party_demo.launcher --host $(IDP_HOST) --idp-port $(IDP_PORT) --rp-port $(RP_PORT)

# Cross-border login on one machine: a Trust Anchor, Uruguay's provider with the portal and
# Brazil's provider (ports 8010-8013; data in var/federation-demo/).
federation-demo: venv
	$(BIN)/python -m relying_party_demo.federation_demo

test: venv
	$(BIN)/pytest

# Long fuzzing: schemathesis over the machine endpoints and the hypothesis properties (redirect
# URI matcher, JOSE validators, federation trust chains) with far more examples than `make test`.
FUZZ_EXAMPLES ?= 1000
fuzz: venv
	IDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) IDP_FUZZ_RANDOM=1 HYPOTHESIS_PROFILE=fuzz \
		$(BIN)/pytest -q tests/security/test_fuzz_openapi.py \
			tests/security/test_redirect_uri_matching.py tests/security/test_jose_attacks.py \
			tests/federation/test_properties.py

# Pictures of the main pages for the README (Debian's chromium, Node and npm needed).
screenshots: venv
	IDP_TEST_SCREENSHOTS_DIR=docs/screenshots IDP_TEST_REQUIRE_BROWSER=1 \
		$(BIN)/pytest -q tests/browser/test_screenshots.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
