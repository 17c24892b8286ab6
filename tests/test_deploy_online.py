"""Online deploys: a new version goes on while events flow, inserts never wait longer than the
lock_timeout, functions and policies that were removed are dropped, and an upgraded database is
the same as one built from scratch."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests import deploy_support as supa
from tests.conftest import make_url
from workers.db import migrate, release
from workers.errors import GdpError

ROOT = Path(__file__).resolve().parents[1]
# The last release deployed the old way (functions and policies re-applied by `gdp db up`,
# history in public.schema_migrations).
PREVIOUS_RELEASE = "8344477"
LOCK_TIMEOUT_S = float(release.LOCK_TIMEOUT.removesuffix("s"))
# What a busy two-core machine adds to an insert that waited out the lock_timeout.
SLACK_S = 2.0
# How long the reader holds shared.event: well past lock_timeout + slack, so that a deploy that
# waited for it (no lock_timeout, as before) could not pass for one that gave up in time.
READER_HOLDS_S = LOCK_TIMEOUT_S + SLACK_S + 2.0
BUSY_TABLES = ("shared.event", "shared.person", "shared.attribution_events")
# Migrations up to this version were deployed before online deploys were required.
BASELINE = "20261128000006"


@dataclass
class Traffic:
    """Inserts into shared.event, one per transaction, as fast as they go, timing each one."""

    url: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    conn.execute(
                        "INSERT INTO shared.event (product_id, event_id, event_name) "
                        "VALUES ('snapmix', %s, 'PageView')",
                        (str(uuid.uuid4()),),
                    )
                except psycopg.Error as exc:
                    self.errors.append(str(exc))
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.002)


@pytest.fixture
def traffic_on() -> Iterator[Callable[[str], Traffic]]:
    """Starts insert traffic against a database; stopped at the end of the test."""
    threads: list[tuple[Traffic, threading.Thread]] = []

    def start(url: str) -> Traffic:
        traffic = Traffic(url)
        thread = threading.Thread(target=traffic.run, daemon=True)
        threads.append((traffic, thread))
        thread.start()
        while not traffic.latencies and thread.is_alive():
            time.sleep(0.01)
        return traffic

    yield start
    for traffic, thread in threads:
        traffic.stop.set()
        thread.join(10)


def _recreate(name: str) -> str:
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(name)


def _drop(name: str) -> None:
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _previous_db_dir(target: Path) -> Path:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE, "db"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not in this clone (shallow?)")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target / "db"


def _build_the_old_way(url: str, old_db: Path) -> None:
    """What `gdp db up` did at the previous release: dbmate with its default history table, then
    every function and policy file re-applied in one transaction."""
    migrate.ensure_pgmq(url)
    command = migrate.dbmate_command(url, "--no-dump-schema", "up", db_dir=old_db)
    at = command.index("--migrations-table")
    del command[at : at + 2]
    subprocess.run(command, check=True, capture_output=True)
    with psycopg.connect(url) as conn, conn.transaction():
        migrate.apply_files(conn, old_db)  # type: ignore[arg-type]


def _events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM shared.event").fetchone()
    return int(row[0]) if row else 0


def test_upgrade_from_the_previous_release_under_traffic(
    tmp_path: Path, db_url: str, traffic_on: Callable[[str], Traffic]
) -> None:
    supa.require_released()
    name = f"{psycopg.conninfo.conninfo_to_dict(db_url)['dbname']}_upgrade"
    url = _recreate(name)
    try:
        _build_the_old_way(url, _previous_db_dir(tmp_path))
        with psycopg.connect(url) as conn:
            before = conn.execute(
                "SELECT array_agg(version ORDER BY version) FROM public.schema_migrations"
            ).fetchone()
        traffic = traffic_on(url)
        result = migrate.up(url, release_only=True)
        time.sleep(0.2)
        traffic.stop.set()
        time.sleep(0.1)

        assert result.history_adopted and result.history_adopted.startswith(
            "moved public.schema_migrations"
        )
        assert before and set(before[0]) & set(result.migrations_applied) == set()
        assert traffic.errors == []
        print(f"inserts: {len(traffic.latencies)}, longest {max(traffic.latencies):.3f} s")
        assert max(traffic.latencies) < LOCK_TIMEOUT_S + SLACK_S
        assert _events(url) == len(traffic.latencies)
        assert release.schema_dump(url) == release.schema_dump(db_url), (
            "an upgraded database differs from one built from scratch"
        )
    finally:
        _drop(name)


# What an earlier release left in the database: a function, a trigger and a policy on
# shared.event, written here as a hand migration so that one `gdp db release` covers the change.
PROBE_BEFORE = """-- migrate:up
CREATE FUNCTION shared._probe_old() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;
REVOKE ALL ON FUNCTION shared._probe_old() FROM PUBLIC;
CREATE FUNCTION shared._probe_touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN NEW; END $$;
REVOKE ALL ON FUNCTION shared._probe_touch() FROM PUBLIC;
CREATE TRIGGER probe_touch BEFORE UPDATE OF fbp ON shared.event
    FOR EACH ROW EXECUTE FUNCTION shared._probe_touch();
CREATE POLICY "Probe: old" ON shared.event FOR SELECT TO authenticated USING (false);
-- migrate:down
"""

# What the files say now: the old function gone, a new one, the trigger and the policy changed.
PROBE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION shared._probe_{name}() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;
COMMENT ON FUNCTION shared._probe_{name}() IS 'probe {name}';

CREATE OR REPLACE FUNCTION shared._probe_touch() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;

CREATE OR REPLACE TRIGGER probe_touch BEFORE UPDATE OF fbp, fbc ON shared.event
    FOR EACH ROW EXECUTE FUNCTION shared._probe_touch();
"""

PROBE_POLICIES = """
DROP POLICY IF EXISTS "Probe: old" ON shared.event;
DROP POLICY IF EXISTS "Probe: new" ON shared.event;
CREATE POLICY "Probe: new" ON shared.event FOR SELECT TO authenticated USING (true);
REVOKE ALL ON FUNCTION shared._probe_{name}(), shared._probe_touch() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shared._probe_{name}() TO service_role;
"""


def _probe_files(db_dir: Path, name: str) -> None:
    (db_dir / "functions" / "99_probe.sql").write_text(
        PROBE_FUNCTIONS.format(name=name), encoding="utf-8"
    )
    (db_dir / "policies" / "99_probe.sql").write_text(
        PROBE_POLICIES.format(name=name), encoding="utf-8"
    )


@pytest.mark.slow
def test_a_release_replaces_what_changed_drops_what_went_and_waits_at_most_lock_timeout(
    tmp_path: Path, db_url: str, traffic_on: Callable[[str], Traffic]
) -> None:
    db_dir = tmp_path / "db"
    shutil.copytree(ROOT / "db", db_dir, ignore=shutil.ignore_patterns("schema.sql"))
    supabase_dir = tmp_path / "supabase"
    (db_dir / "migrations" / "29990101000000_probe.sql").write_text(PROBE_BEFORE, encoding="utf-8")
    # This test's database, a copy of the current release, gets the earlier state.
    migrate.up(db_url, db_dir=db_dir, release_only=False)
    _probe_files(db_dir, "new")
    made = release.generate(db_url, db_dir, supabase_dir, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert made.path is not None and made.path.name == "29990101000001_release.sql"
    text = made.path.read_text(encoding="utf-8")
    assert "DROP FUNCTION IF EXISTS shared._probe_old()" in text
    assert '"Probe: old"' in text and "CREATE OR REPLACE TRIGGER probe_touch" in text
    assert "function shared._probe_old()" in made.dropped
    assert (supabase_dir / "migrations" / made.path.name).read_text() == text
    # Lock-taking statements come after every function, grant and comment they need.
    assert text.index("DROP POLICY") > text.rindex("CREATE OR REPLACE FUNCTION")
    assert text.index("DROP POLICY") > text.rindex("GRANT ")

    # A reader holds shared.event for longer than lock_timeout: the deploy gives up, inserts
    # flow again, and a later attempt goes through.
    traffic = traffic_on(db_url)
    holding = threading.Event()

    def hold_the_table() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute("SELECT count(*) FROM shared.event")
            holding.set()
            time.sleep(READER_HOLDS_S)

    reader = threading.Thread(target=hold_the_table)
    reader.start()
    holding.wait(10)
    result = migrate.up(db_url, db_dir=db_dir, release_only=True)
    reader.join()
    time.sleep(0.2)
    traffic.stop.set()
    time.sleep(0.1)

    assert result.migrations_applied == [made.path.name]
    assert result.lock_retries >= 1
    assert traffic.errors == []
    print(f"inserts: {len(traffic.latencies)}, longest {max(traffic.latencies):.3f} s")
    assert max(traffic.latencies) < LOCK_TIMEOUT_S + SLACK_S
    assert _events(db_url) == len(traffic.latencies)
    with psycopg.connect(db_url) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT proname FROM pg_proc WHERE proname LIKE '\\_probe\\_%'"
            ).fetchall()
        }
        policies = {
            r[0]
            for r in conn.execute(
                "SELECT polname FROM pg_policy WHERE polname LIKE 'Probe:%'"
            ).fetchall()
        }
    assert names == {"_probe_new", "_probe_touch"}
    assert policies == {"Probe: new"}
    assert release.schema_dump(db_url) == made.schema, (
        "the upgraded database differs from one built from scratch"
    )

    # Something outside the managed schemas still uses a function the files no longer
    # define: the release is refused, naming both.
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE VIEW public.probe_user AS SELECT shared._probe_new() AS one")
        conn.commit()
    _probe_files(db_dir, "newer")
    with (
        psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn,
        pytest.raises(
            GdpError,
            match=r"shared\._probe_new\(\) is no longer defined.*"
            r"view probe_user depends on function shared\._probe_new\(\)",
        ),
    ):
        release.plan(conn, db_dir)


_LOCKING = re.compile(
    r"(ALTER\s+TABLE(\s+ONLY)?|CREATE\s+(UNIQUE\s+)?INDEX(?!\s+CONCURRENTLY)[^;]*?\bON|"
    r"(CREATE|ALTER|DROP)\s+POLICY[^;]*?\bON|CREATE\s+(OR\s+REPLACE\s+)?TRIGGER[^;]*?\bON|"
    r"LOCK\s+TABLE|TRUNCATE)\s+(" + "|".join(re.escape(t) for t in BUSY_TABLES) + r")\b",
    re.IGNORECASE,
)


def test_migrations_that_lock_busy_tables_set_lock_timeout() -> None:
    """Every migration after the baseline that takes a lock on a busy table bounds the wait."""
    offenders = []
    for path in sorted((ROOT / "db" / "migrations").glob("*.sql")):
        if path.name.split("_")[0] <= BASELINE:
            continue
        text = path.read_text(encoding="utf-8")
        if _LOCKING.search(text) and "lock_timeout" not in text:
            offenders.append(path.name)
    assert offenders == [], "SET lock_timeout = '2s' at the top of: " + ", ".join(offenders)
