"""Test fixtures: the real PostgreSQL, a template built once by `gdp db up`, a database per test.

The server is the tests' own cluster (`tests/cluster.sh`, started by `make test`: fsync off, its
own port, GDP_TEST_PGPORT); without it, the machine's server on 5432. pytest-postgresql's noproc
fixture builds the template by the same code path as production deploys (migrate.up: pgmq,
dbmate migrations, functions, policies); every test gets a fresh `CREATE DATABASE ... TEMPLATE`
copy, cloned ahead of time in the background (tests/support/databases.py). Database names carry
the pid, so parallel runs (pytest-xdist workers, two checkouts) do not collide.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg.rows import dict_row
from pytest_postgresql import factories

from tests.support.databases import DatabasePool
from tests.support.ordering import deal_slow_first
from tests.support.sandbox import SandboxControl, running_sandbox
from workers.db import migrate

if TYPE_CHECKING:
    from tests.insights_helpers import ServedSandbox

CLUSTER_SCRIPT = Path(__file__).with_name("cluster.sh")


@pytest.hookimpl(trylast=True)  # after -m has deselected what it deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked `slow` first, one at the head of each xdist worker's share."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = deal_slow_first(items, workers)


def _test_server_port() -> int:
    """GDP_TEST_PGPORT when set (make test sets it after starting the cluster); otherwise this
    checkout's own cluster (tests/cluster.sh), started here if it is not running (a file lock
    keeps parallel pytest workers from creating it twice)."""
    explicit = os.environ.get("GDP_TEST_PGPORT")
    if explicit:
        return int(explicit)
    port = subprocess.run(
        [str(CLUSTER_SCRIPT), "port"], check=True, capture_output=True, text=True
    ).stdout.strip()
    with open(f"/tmp/gdp-test-cluster-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([str(CLUSTER_SCRIPT), "start"], check=True)
    return int(port)


PG_HOST = os.environ.get("GDP_TEST_PGHOST", "127.0.0.1")
PG_PORT = _test_server_port()
PG_USER = os.environ.get("GDP_TEST_PGUSER", "postgres")
TEST_DBNAME = f"gdp_t{os.getpid()}"


def make_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def load_schema(
    host: str, port: int, user: str, dbname: str, password: str | None = None, **_: Any
) -> None:
    # One template build at a time per server: the migrations create cluster-wide roles, and
    # two pytest-xdist workers creating the same role at once collide in pg_authid.
    with open(f"/tmp/gdp-test-template-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate.up(f"postgresql://{user}@{host}:{port}/{dbname}")


gdp_server = factories.postgresql_noproc(
    host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=TEST_DBNAME, load=[load_schema]
)


@pytest.fixture(scope="session")
def database_pool(gdp_server: Any) -> Iterator[DatabasePool]:
    pool = DatabasePool(make_url("postgres"), gdp_server.template_dbname)
    pool.start()
    yield pool
    pool.close()


@pytest.fixture
def gdp_database(database_pool: DatabasePool) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's own fresh database (dropped after the test)."""
    name = database_pool.take()
    try:
        with psycopg.connect(make_url(name)) as conn:
            yield conn
    finally:
        database_pool.give_back(name)


@pytest.fixture
def db_url(gdp_database: psycopg.Connection[Any]) -> str:
    """URL of this test's own database, a fresh copy of the template."""
    return make_url(gdp_database.info.dbname)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A dict-row connection to this test's database (autocommit: each statement commits)."""
    with psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as conn:
        yield conn


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    """Environment for subprocesses (gdp CLI, workers) pointed at this test's database."""
    environment = dict(os.environ)
    environment["DATABASE_URL"] = db_url
    environment.pop("META_CAPI_ACCESS_TOKEN", None)
    return environment


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxControl]:
    """One Meta Graph API sandbox process for the session."""
    with running_sandbox() as control:
        yield control


@pytest.fixture
def sandbox(sandbox_server: SandboxControl) -> SandboxControl:
    """The sandbox, emptied and without faults, for one test."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def meta() -> Iterator[ServedSandbox]:
    """An in-process sandbox for the audience tests, uploads processed at once (its modules
    imported here, not when every test process starts)."""
    from meta_sandbox.config import SandboxConfig
    from tests.insights_helpers import served_sandbox

    with served_sandbox(SandboxConfig(audience_processing_s=0)) as served:
        yield served
