"""Test fixtures: the real PostgreSQL, a template built once by `gdp db up`, a database per test.

pytest-postgresql's noproc fixtures run against the server the machine already runs (PostgreSQL
will not start as root). The template is built by the same code path as production deploys
(migrate.up: pgmq, dbmate migrations, functions, policies); every test gets a fresh
`CREATE DATABASE ... TEMPLATE` copy. Database names carry the pid, so parallel runs do not collide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from pytest_postgresql import factories

from tests.support.sandbox import SandboxControl, running_sandbox
from workers.db import migrate

PG_HOST = os.environ.get("GDP_TEST_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GDP_TEST_PGPORT", "5432"))
PG_USER = os.environ.get("GDP_TEST_PGUSER", "postgres")
TEST_DBNAME = f"gdp_t{os.getpid()}"


def make_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def load_schema(
    host: str, port: int, user: str, dbname: str, password: str | None = None, **_: Any
) -> None:
    migrate.up(f"postgresql://{user}@{host}:{port}/{dbname}")


gdp_server = factories.postgresql_noproc(
    host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=TEST_DBNAME, load=[load_schema]
)
gdp_database = factories.postgresql("gdp_server")


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
