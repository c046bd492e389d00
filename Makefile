# One command runs the main job (`make run`), one passes the tests (`make test`).
# Both create .venv and install what they need when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install db migrate rollback psql check lint test test-pgbouncer run bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with dev and bench extras

db: $(STAMP)  ## start the embedded PostgreSQL (no-op with DATABASE_URL)
	$(BIN)/datalayer db url

migrate: $(STAMP)  ## apply pending migrations
	$(BIN)/datalayer migrate

rollback: $(STAMP)  ## roll back the newest migration
	$(BIN)/datalayer migrate --rollback

psql: $(STAMP)  ## psql on the configured database
	$(BIN)/datalayer db psql

check: $(STAMP)  ## prepare every named query against the schema and compare with its model
	$(BIN)/datalayer check

SQUAWK := .tools/node_modules/.bin/squawk

$(SQUAWK):
	npm install --silent --no-audit --no-fund --prefix .tools squawk-cli@2.66.0

lint: $(STAMP) $(SQUAWK)  ## ruff, mypy --strict, and squawk on migrations/ (tools/squawk_migrations.py: the policy)
	$(BIN)/ruff check datalayer tests bench tools
	$(BIN)/ruff format --check datalayer tests bench tools
	$(BIN)/mypy datalayer
	$(BIN)/python tools/squawk_migrations.py

test: $(STAMP)  ## the test suite on a real PostgreSQL (embedded, or DATABASE_URL's server)
	$(BIN)/pytest

test-pgbouncer: $(STAMP)  ## the suite again, every repository test through a PgBouncer in transaction mode
	DATALAYER_TEST_PGBOUNCER=1 $(BIN)/pytest

run: $(STAMP)  ## start the database, migrate, load every bot's sample data, print health and stats
	$(BIN)/datalayer migrate
	@# the sample API keys need a digest key: a throwaway one when none is set (never stored; they are samples)
	DATALAYER_API_KEY_SECRET=$${DATALAYER_API_KEY_SECRET:-$$($(BIN)/datalayer secret-key)} $(BIN)/datalayer seed --all
	$(BIN)/datalayer health || [ $$? -eq 1 ]  # warnings (exit 1) are shown, not fatal; critical (2) fails
	$(BIN)/datalayer stats

bench: $(STAMP)  ## every workload at full size (1M/10M rows, cached between runs): repository vs raw asyncpg vs aiosql vs SQLAlchemy vs pgbench; writes bench/results.json
	$(BIN)/python -m bench.run --scale full

bench-quick: $(STAMP)  ## the same at small sizes (about a minute); writes bench/results-quick.json
	$(BIN)/python -m bench.run --scale quick --out bench/results-quick.json

clean:  ## remove .venv (the embedded cluster in .datalayer/ is kept)
	rm -rf $(VENV)
