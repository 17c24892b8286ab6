# The two commands: `make demo` (the main job) and `make test` (the tests).
# Both work on a fresh python-svc machine: they create the venv, install the package and the
# Debian packages they need, and start PostgreSQL if it is not running.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
# The tests' own PostgreSQL cluster (tests/cluster.sh): fsync off, a port and data directory
# of this checkout's own.
TEST_PG_PORT ?= $(shell tests/cluster.sh port)
# Bytecode caches on, whatever the environment says (some images set PYTHONDONTWRITEBYTECODE):
# otherwise every pytest process rewrites and compiles every test module's asserts again, and
# every `gdp` or worker process a test starts compiles the project's modules again (__pycache__
# is ignored by git; Python checks each cache against its source).
PYCACHE_ENV := PYTHONDONTWRITEBYTECODE=
TEST_ENV := GDP_TEST_PGPORT=$(TEST_PG_PORT) GDP_TEST_BASE_URL=postgresql://postgres@127.0.0.1:$(TEST_PG_PORT) \
	$(PYCACHE_ENV)
# pytest-xdist workers: two per core. Many tests spend most of their time waiting (on worker
# processes, the sandbox's latency, a browser, lease timeouts), so one per core leaves the
# cores idle; worksteal hands the queued tests of a busy worker to an idle one, so a long test
# near the end does not hold the run up.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
# The tests that restart PostgreSQL run at the same time as the others, on a second cluster
# of their own (tests/cluster.sh with another port and data directory): the restart reaches no
# other test.
RESTART_PG_PORT ?= $(shell echo $$(( $(TEST_PG_PORT) + 1000 )))
RESTART_ENV := GDP_TEST_PGPORT=$(RESTART_PG_PORT) \
	GDP_TEST_BASE_URL=postgresql://postgres@127.0.0.1:$(RESTART_PG_PORT) $(PYCACHE_ENV)
# Only the files that use the marker are collected for that run (-m still selects the tests):
# collecting all of them would import every test module once more for a handful of tests.
RESTART_TESTS := $(shell grep -l restarts_server tests/test_*.py)

.PHONY: demo test test-python test-sql test-cluster lint setup system-deps compiler compiled \
	postgres bench schema release supabase-cli clean dashboard

demo: setup compiled postgres dashboard
	$(BIN)/gdp demo

# Lint, the Python tests and pgTAP run at the same time (their outputs are printed whole, one
# after the other, as each finishes): lint and pgTAP take a few seconds of CPU, which the cores
# have spare while the pytest workers start up and while the last long tests finish.
test: setup system-deps compiled supabase-cli test-cluster dashboard
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint test-python test-sql

# GDP_REQUIRE_COMPILED: tests/test_normalize_compiled.py fails if the compiled rules did not load.
# Tests that restart a cluster run beside the parallel run, on their own cluster; their report
# is printed when both are done, and either one failing fails the target.
test-python: test-cluster
	@GDP_TEST_PGPORT=$(RESTART_PG_PORT) tests/cluster.sh start
	@mkdir -p tests/artifacts
	@$(RESTART_ENV) GDP_REQUIRE_COMPILED=1 $(BIN)/pytest -q -m restarts_server $(RESTART_TESTS) \
		>tests/artifacts/restarts_server.log 2>&1 & restarts=$$!; \
	$(TEST_ENV) GDP_REQUIRE_COMPILED=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal \
		-m "not restarts_server"; status=$$?; \
	wait $$restarts; restarts_status=$$?; \
	echo "--- tests that restart PostgreSQL (their own cluster, port $(RESTART_PG_PORT)):"; \
	cat tests/artifacts/restarts_server.log; \
	exit $$(( status ? status : restarts_status ))

test-sql: test-cluster
	$(TEST_ENV) tests/sql/run.sh

# Started as the postgres user (PostgreSQL will not run as root); reused when already running.
test-cluster:
	@GDP_TEST_PGPORT=$(TEST_PG_PORT) tests/cluster.sh start

# lint-imports: the layers and private-module contracts in pyproject.toml ([tool.importlinter]).
lint:
	$(BIN)/ruff check workers edge_compat meta_sandbox tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: setup compiled postgres
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/run.py

schema: setup postgres
	$(BIN)/gdp db dump

# db/functions + db/policies as a release migration (db/README.md, Releases), then db/schema.sql.
release: setup postgres
	$(BIN)/gdp db release
	$(BIN)/gdp db dump

setup: $(VENV)/.installed

# The Meta Graph API sandbox (meta_sandbox/) is its own distribution, installed here for the
# tests and the demo; a production `pip install .` leaves it out.
$(VENV)/.installed: pyproject.toml meta_sandbox/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	GDP_META_COMPILE=0 $(BIN)/python -m pip install --quiet -e ./meta_sandbox -e '.[dev]'
	@touch $@

# The Meta rules (workers/meta/*.py) compiled with mypyc, in place (setup.py): the same source,
# faster. Rebuilt only when missing or older than a source (workers/meta/__init__.py decides;
# -W error turns its staleness warning into a rebuild). Without it the rules run as plain Python.
compiled: setup compiler
	@$(BIN)/python -W error -c 'import workers.meta as m; raise SystemExit(not m.compiled())' \
		2>/dev/null || { echo "compiling workers/meta with mypyc"; \
		$(BIN)/python -W ignore setup.py -q build_ext --inplace >/dev/null && touch workers/meta/*.so; }
	@$(BIN)/python -W error -c 'import workers.meta as m; raise SystemExit(not m.compiled())' || \
		{ echo "make compiled: the mypyc build of workers/meta did not load"; exit 1; }

# A C compiler for mypyc; installed when missing.
compiler:
	@command -v gcc >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gcc >/dev/null; }

# The Supabase CLI for the deploy tests (`supabase db push`/`db reset`): npm's `supabase`, whose
# platform package carries the binary; pinned, under .tools/. Without npm or the registry the
# tests fall back to their emulation of the CLI (tests/deploy_support.py) and say so.
SUPABASE_CLI_VERSION := 3.1.0
supabase-cli:
	@if [ "$$(.tools/node_modules/.bin/supabase --version 2>/dev/null)" != "$(SUPABASE_CLI_VERSION)" ]; then \
		command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }; \
		npm install --prefix .tools --no-audit --no-fund --silent supabase@$(SUPABASE_CLI_VERSION) \
			|| echo "make supabase-cli: not installed; the deploy tests emulate the Supabase CLI"; \
	fi

# pgTAP and pg_prove come from Debian; installed only when missing.
system-deps:
	@if ! command -v pg_prove >/dev/null || [ ! -f /usr/share/postgresql/15/extension/pgtap.control ] \
		|| [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl chromium >/dev/null; \
	fi
	@# Node.js runs the browser snippet's and the Next.js drop-in's own tests (Debian's is new
	@# enough: node:test needs 18+).
	@command -v node >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs >/dev/null; }

# The dashboard page (edge_compat/dashboard): Chart.js and esbuild from npm at build time (the
# lock file pins them), bundled into dist/ which `gdp serve` serves; nothing from a CDN at run time.
DASHBOARD := edge_compat/dashboard
dashboard: $(DASHBOARD)/dist/index.html

$(DASHBOARD)/dist/index.html: $(DASHBOARD)/package-lock.json $(DASHBOARD)/build.mjs $(wildcard $(DASHBOARD)/src/*)
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

postgres:
	@if ! pg_isready -q -h $(PG_HOST) -p $(PG_PORT); then \
		echo "starting PostgreSQL"; \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start; \
		for i in $$(seq 1 30); do pg_isready -q -h $(PG_HOST) -p $(PG_PORT) && break; sleep 1; done; \
	fi
	@pg_isready -h $(PG_HOST) -p $(PG_PORT)

clean:
	rm -rf $(VENV) .tools *.egg-info meta_sandbox/*.egg-info .mypy_cache .ruff_cache tests/artifacts build workers/meta/*.so \
		$(DASHBOARD)/node_modules $(DASHBOARD)/dist
