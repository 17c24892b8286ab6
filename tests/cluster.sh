#!/usr/bin/env bash
# The tests' own PostgreSQL cluster: `tests/cluster.sh start|stop|restart|status|url|port|datadir`.
#
# `make test` runs every test against a cluster of its own instead of the machine's server:
#   - fsync, synchronous_commit and full_page_writes are off: a test database is made and
#     dropped per test, and nothing here must survive a power cut (about half of the suite's
#     time was spent flushing those copies to disk);
#   - it listens on its own port (GDP_TEST_PGPORT; by default one port per checkout, 55000 +
#     a checksum of the checkout's path modulo 1000, so two checkouts on one machine never share
#     a cluster) and keeps its data in GDP_TEST_PGDATA (default /dev/shm/gdp-test-pg-<port>
#     when /dev/shm is a tmpfs with 4 GB free, else /var/tmp/gdp-test-pg-<port>; `datadir`
#     prints it), so tests that restart or load the server never disturb anything else;
#   - PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user and is
#     started as that user when this script runs as root.
# Starting is idempotent: a running cluster is reused, a stopped one restarted, a missing one
# created. The binaries are the machine's PostgreSQL (the newest under /usr/lib/postgresql).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
default_port() { echo $((55000 + $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 1000)); }
PORT="${GDP_TEST_PGPORT:-$(default_port)}"
# In memory (tmpfs) when the machine has room for it, else on disk. CREATE DATABASE copies the
# template's ~2,000 files and DROP DATABASE unlinks them, once per test: on this ext4 disk that
# is ~0.45 s of the server's CPU (kernel time) per clone and drop, on tmpfs ~0.02 s.
LEGACY_DATA="/var/tmp/gdp-test-pg-$PORT"
default_data() {
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
        [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -ge 4194304 ] 2>/dev/null; then
        echo "/dev/shm/gdp-test-pg-$PORT"
    else
        echo "$LEGACY_DATA"
    fi
}
DATA="${GDP_TEST_PGDATA:-$(default_data)}"
BIN="${GDP_TEST_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
OWNER=postgres

as_owner() {
    if [ "$(id -un)" = "$OWNER" ]; then
        "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u "$OWNER" -- "$@"
    else
        sudo -u "$OWNER" -- "$@"
    fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
    # A cluster this script started before in the other place (on disk, before it moved to
    # tmpfs): stopped, so the port is free for the one in $DATA.
    if [ "$LEGACY_DATA" != "$DATA" ] && [ -s "$LEGACY_DATA/postmaster.pid" ] && ready; then
        as_owner "$BIN/pg_ctl" -D "$LEGACY_DATA" -m fast -w stop >/dev/null
    fi
    if ready; then
        return 0
    fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
        mkdir -p "$DATA"
        chown "$OWNER" "$DATA" 2>/dev/null || true
        chmod 700 "$DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync \
            --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        # Throwaway data: durability off, room for many parallel test connections, and the
        # server's own socket directory inside the data directory (no shared /run needed).
        cat >>"$DATA/postgresql.conf" <<EOF

# --- tests/cluster.sh: a disposable test cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_connections = 300
shared_buffers = 256MB
checkpoint_timeout = 30min
max_wal_size = 4GB
log_min_messages = warning
log_min_error_statement = panic
EOF
    fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null
    ready
}

stop() {
    if [ -s "$DATA/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    restart) as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -m fast -w restart >/dev/null ;;
    status) ready && echo "test cluster on 127.0.0.1:$PORT ($DATA)" ;;
    url) echo "postgresql://postgres@127.0.0.1:$PORT" ;;
    port) echo "$PORT" ;;
    datadir) echo "$DATA" ;;
    *) echo "usage: tests/cluster.sh start|stop|restart|status|url|port|datadir" >&2; exit 2 ;;
esac
