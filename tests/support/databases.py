"""A fresh database per test, cloned from the template before the test asks for it.

`CREATE DATABASE … TEMPLATE` is the slowest part of a database test's set-up, and `DROP
DATABASE` of its tear-down. Neither needs the test: a background thread keeps a few clones of
the template ready and drops used ones behind, on its own connection, so the server does that
work on the other core while the tests run. Every test still gets a database nobody has touched.

The clone copies the template's files (STRATEGY FILE_COPY) instead of PostgreSQL 15's default of
reading every page and writing it to the WAL: for a template this small, on a cluster without
fsync, that is about half the server's CPU per clone, and a few hundred tests clone one.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg import sql

Job = tuple[Literal["clone", "drop"], str]


@dataclass
class DatabasePool:
    """Clones of `template` named `<template>_<n>`, made `ahead` at a time."""

    maintenance_url: str
    template: str
    ahead: int = 2
    _ready: queue.Queue[str | BaseException] = field(default_factory=queue.Queue)
    _work: queue.Queue[Job | None] = field(default_factory=queue.Queue)
    _made: int = 0
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="test-db-pool", daemon=True)
        self._thread.start()
        for _ in range(self.ahead):
            self._clone_one()

    def take(self) -> str:
        """The name of a fresh clone (waits for one if none is ready yet)."""
        self._clone_one()  # the replacement starts now, while this test runs
        item = self._ready.get(timeout=300)
        if isinstance(item, BaseException):
            raise item
        return item

    def give_back(self, name: str) -> None:
        """Drop a used clone, in the background."""
        self._work.put(("drop", name))

    def close(self) -> None:
        """Drop the clones nobody took and wait for every drop to finish."""
        self._work.put(None)
        if self._thread is not None:
            self._thread.join(timeout=300)
        with _connect(self.maintenance_url) as conn:
            while not self._ready.empty():
                item = self._ready.get_nowait()
                if isinstance(item, str):
                    _drop(conn, item)

    def _clone_one(self) -> None:
        self._made += 1
        self._work.put(("clone", f"{self.template}_{self._made}"))

    def _run(self) -> None:
        conn = _connect(self.maintenance_url)
        try:
            while (job := self._work.get()) is not None:
                kind, name = job
                try:
                    conn = self._do(conn, kind, name)
                except BaseException as exc:
                    if kind == "clone":  # reported to the test that takes it
                        self._ready.put(exc)
                    # a failed drop leaves a database behind; the next run's clone drops it
                else:
                    if kind == "clone":
                        self._ready.put(name)
        finally:
            conn.close()

    def _do(
        self, conn: psycopg.Connection[object], kind: str, name: str
    ) -> psycopg.Connection[object]:
        """Run one job; a connection the server dropped (a test restarted it) is replaced once.
        Returns the connection to use from now on."""
        for attempt in (1, 2):
            try:
                if kind == "clone":
                    _drop(conn, name)  # a leftover of a killed run with the same pid
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                            sql.Identifier(name), sql.Identifier(self.template)
                        )
                    )
                else:
                    _drop(conn, name)
                return conn
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                conn.close()
                conn = _connect(self.maintenance_url)
        return conn


def _connect(url: str, attempts: int = 240) -> psycopg.Connection[object]:
    """A maintenance connection, waiting out a server that is restarting."""
    for attempt in range(attempts):
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _drop(conn: psycopg.Connection[object], name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
