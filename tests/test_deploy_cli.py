"""`gdp db`: release checks, refusals with one clear line (the command tree in process, as
tests/test_meta_cli.py does), deploys that race, and one killed half-way (a real process)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import Result
from psycopg import sql
from typer.testing import CliRunner

from tests import deploy_support as supa
from tests.conftest import make_url
from workers.cli.main import app
from workers.db import migrate, release
from workers.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
GDP = str(ROOT / ".venv" / "bin" / "gdp")


def _copy_repo_db(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "db", tmp_path / "db")
    shutil.copytree(ROOT / "supabase", tmp_path / "supabase")
    return tmp_path / "db"


@pytest.fixture
def gdp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """`gdp db ARGS` with GDP_DB_DIR and other variables set for the call."""

    def run(*args: str, db_dir: Path, **env: str) -> Result:
        monkeypatch.setenv("GDP_DB_DIR", str(db_dir))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["db", *args])
        finally:
            for name in env:
                monkeypatch.delenv(name)
            get_settings.cache_clear()

    yield run
    get_settings.cache_clear()


def _drop(name: str) -> None:
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _exists(name: str) -> bool:
    with psycopg.connect(make_url("postgres")) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def test_db_check_names_a_due_release_and_a_stale_supabase_copy(
    tmp_path: Path, gdp: Callable[..., Result]
) -> None:
    db_dir = _copy_repo_db(tmp_path)
    ok = gdp("check", db_dir=db_dir)
    assert ok.exit_code == 0, ok.output

    with (db_dir / "functions" / "00_common.sql").open("a", encoding="utf-8") as handle:
        handle.write("\n-- a comment is a change too: the release records what it was made from\n")
    copies = sorted((tmp_path / "supabase" / "migrations").glob("*.sql"))
    copies[0].unlink()
    due = gdp("check", db_dir=db_dir)
    assert due.exit_code == 1
    assert due.stderr.count("\n") == 1 and "Traceback" not in due.stderr
    assert "db/functions or db/policies changed since the last release" in due.stderr
    assert "supabase/migrations differs from db/migrations" in due.stderr


def test_production_deploy_refuses_unreleased_changes_before_touching_anything(
    tmp_path: Path, gdp: Callable[..., Result]
) -> None:
    db_dir = _copy_repo_db(tmp_path)
    with (db_dir / "policies" / "00_grants.sql").open("a", encoding="utf-8") as handle:
        handle.write("\nGRANT USAGE ON SCHEMA shared TO anon;\n")
    name = f"gdp_t{os.getpid()}_refused"
    assert not _exists(name)
    done = gdp("up", db_dir=db_dir, DATABASE_URL=make_url(name), GDP_ENV="production")
    assert done.exit_code == 1
    assert done.stderr.strip() == (
        "gdp: db/functions or db/policies changed since the last release migration: run "
        "`gdp db release` and deploy the migration it writes"
    )
    assert not _exists(name)
    flag = gdp("up", "--release-only", db_dir=db_dir, DATABASE_URL=make_url(name))
    assert flag.exit_code == 1 and not _exists(name)


def test_release_with_nothing_new_writes_nothing(
    tmp_path: Path, gdp: Callable[..., Result]
) -> None:
    db_dir = _copy_repo_db(tmp_path)
    before = sorted(p.name for p in (db_dir / "migrations").iterdir())
    done = gdp("release", db_dir=db_dir)
    assert done.exit_code == 0, done.output
    assert "released already; no migration written" in done.stdout
    assert sorted(p.name for p in (db_dir / "migrations").iterdir()) == before


def test_two_deploys_at_once_apply_each_migration_once(
    tmp_path: Path, db_url: str, gdp: Callable[..., Result]
) -> None:
    """Two `gdp db up` of one new database race: one waits for the other, nothing runs twice,
    and a development deploy then says it applied unreleased files."""
    supa.require_released()
    name = f"{psycopg.conninfo.conninfo_to_dict(db_url)['dbname']}_race"
    url = make_url(name)
    _drop(name)
    results: list[migrate.UpResult] = []
    errors: list[BaseException] = []

    def deploy() -> None:
        try:
            results.append(migrate.up(url, release_only=True))
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=deploy) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert errors == []
        applied = sorted(m for r in results for m in r.migrations_applied)
        assert applied == sorted(p.name for p in (ROOT / "db" / "migrations").glob("*.sql"))
        assert sorted(r.database_created for r in results) in ([False, True], [False, False])
        assert release.schema_dump(url) == release.schema_dump(db_url)

        db_dir = _copy_repo_db(tmp_path)
        with (db_dir / "functions" / "00_common.sql").open("a", encoding="utf-8") as handle:
            handle.write("\n-- changed while developing\n")
        dev = gdp("up", db_dir=db_dir, DATABASE_URL=url)
        assert dev.exit_code == 0, dev.output
        assert "migrations: none pending" in dev.stdout
        assert "note: db/functions or db/policies changed since the last release" in dev.stderr
    finally:
        _drop(name)


def test_a_deploy_killed_half_way_loses_and_repeats_nothing(
    db_url: str, gdp: Callable[..., Result]
) -> None:
    """gdp db up (and its dbmate) killed at some point; the next one finishes the job and the
    database is what a single deploy makes."""
    supa.require_released()
    name = f"{psycopg.conninfo.conninfo_to_dict(db_url)['dbname']}_killed"
    url = make_url(name)
    _drop(name)
    try:
        env = {**os.environ, "DATABASE_URL": url}
        process = subprocess.Popen(
            [GDP, "db", "up"],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if _exists(name):
                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT to_regclass('gdp_migrations.schema_migrations') IS NOT NULL"
                    ).fetchone()
                if row and row[0]:
                    break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        with psycopg.connect(url) as conn:
            partial = conn.execute(
                "SELECT count(*) FROM gdp_migrations.schema_migrations"
            ).fetchone()
        status = gdp("status", db_dir=ROOT / "db", DATABASE_URL=url)
        assert status.exit_code == 0, status.output
        assert partial is not None
        assert f"{partial[0]} migrations applied" in status.stdout
        finished = migrate.up(url, release_only=True)
        total = len(list((ROOT / "db" / "migrations").glob("*.sql")))
        assert partial is not None and partial[0] + len(finished.migrations_applied) == total
        assert release.schema_dump(url) == release.schema_dump(db_url)
    finally:
        _drop(name)


def test_concurrent_index_migrations_stand_alone() -> None:
    """CREATE INDEX CONCURRENTLY cannot run in a transaction (dbmate) or after another statement
    of a pipeline (the Supabase CLI): such a migration says transaction:false and holds that one
    statement."""
    for path in sorted((ROOT / "db" / "migrations").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"\bCONCURRENTLY\b", text, re.IGNORECASE):
            continue
        assert "-- migrate:up transaction:false" in text, path.name
        up = text.split("-- migrate:down")[0]
        statements = [s for s in supa.split_statements(up) if re.sub(r"--[^\n]*", "", s).strip()]
        assert len(statements) == 1, f"{path.name}: one statement per CONCURRENTLY migration"


@pytest.mark.parametrize("bad", ["not a url", "postgresql://nobody@127.0.0.1:1/x"])
def test_db_up_with_a_bad_database_url_is_one_line(bad: str, gdp: Callable[..., Result]) -> None:
    done = gdp("up", db_dir=ROOT / "db", DATABASE_URL=bad)
    assert done.exit_code != 0
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("gdp: ") and done.stderr.count("\n") == 1
