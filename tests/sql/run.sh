#!/usr/bin/env bash
# Run the pgTAP files with pg_prove against a fresh database built by `gdp db up`.
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${GDP_TEST_BASE_URL:-postgresql://postgres@127.0.0.1:5432}"
db="gdp_pgtap_$$"
url="$base/$db"
cleanup() { psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
DATABASE_URL="$url" .venv/bin/gdp db up >/dev/null
PGOPTIONS='-c client_min_messages=warning' psql -q -v ON_ERROR_STOP=1 "$url" -f tests/sql/support/helpers.sql
pg_prove --failures -d "$url" tests/sql/*.sql
