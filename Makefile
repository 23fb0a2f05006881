# Clickpulse: `make up` runs the whole stack with a demo; `make test` proves it against real services.
.PHONY: setup setup-for-tests up test test-unit lint clean

setup:
	@scripts/setup.sh

setup-for-tests:
	@scripts/setup.sh --for-tests

up: setup
	.venv/bin/clickpulse up --demo

test: setup-for-tests
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	cd tracker_js && npm test --silent
	.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15

test-unit: setup-for-tests
	.venv/bin/python -m pytest -q tests/unit

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean:
	rm -rf .local/data .pytest_cache
