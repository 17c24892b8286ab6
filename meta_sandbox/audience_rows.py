"""Custom Audience upload payloads: `payload={schema, data}` and `session`, as Meta documents
them (docs/meta-rules.md §3.1-3.3). Hashed columns must be lowercase SHA-256 hex or ""; a row
with a bad value is counted in `num_invalid_entries` (with up to 100 samples) and not matched.
Rows that do not line up with the schema, or more than 10,000 rows, reject the whole request
(code 100).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from meta_sandbox.errors import invalid_param
from meta_sandbox.params import json_param

MAX_ROWS = 10_000
MAX_SAMPLES = 100
SINGLE_KEY_SCHEMAS = {
    "EMAIL_SHA256": "EMAIL",
    "PHONE_SHA256": "PHONE",
    "MOBILE_ADVERTISER_ID": "MADID",
}
HASHED_COLUMNS = frozenset(
    {
        "EMAIL",
        "PHONE",
        "GEN",
        "DOBY",
        "DOBM",
        "DOBD",
        "LN",
        "FN",
        "FI",
        "CT",
        "ST",
        "ZIP",
        "COUNTRY",
    }
)
UNHASHED_COLUMNS = frozenset({"EXTERN_ID", "MADID"})
EXTRA_COLUMNS = frozenset(
    {
        "DATA_PROCESSING_OPTIONS", "DATA_PROCESSING_OPTIONS_COUNTRY",
        "DATA_PROCESSING_OPTIONS_STATE", "LOOKALIKE_VALUE",
    }
)  # fmt: skip
IDENTITY_COLUMNS = ("EMAIL", "PHONE", "EXTERN_ID", "MADID")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# SHA-256 of "": what a client sends when it hashes a missing value instead of leaving it "".
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_MADID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Session:
    session_id: int
    batch_seq: int
    last_batch_flag: bool
    estimated_num_total: int | None


@dataclass(slots=True)
class ParsedRows:
    schema: tuple[str, ...]
    rows: list[set[str]] = field(default_factory=list)
    num_received: int = 0
    num_invalid: int = 0
    samples: dict[str, str] = field(default_factory=dict)

    def invalid(self, value: str, reason: str) -> None:
        self.num_invalid += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples[value[:200]] = reason


def _schema(raw: Any, replace: bool) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        raise invalid_param("payload.schema must be a key name or a list of key names")
    if len(raw) == 1 and raw[0] in SINGLE_KEY_SCHEMAS:
        return (SINGLE_KEY_SCHEMAS[raw[0]],)
    allowed = HASHED_COLUMNS | UNHASHED_COLUMNS | EXTRA_COLUMNS
    for column in raw:
        if column not in allowed:
            raise invalid_param(f"payload.schema: {column!r} is not a supported key")
    if len(set(raw)) != len(raw):
        raise invalid_param("payload.schema lists a key twice")
    if replace and "EXTERN_ID" in raw:
        # UNVERIFIED (docs/meta-rules.md, open item 5): the usersreplace schema list omits
        # EXTERN_ID. The stricter reading: refuse it, so a client never relies on it against Meta.
        raise invalid_param("payload.schema: EXTERN_ID is not supported by usersreplace")
    if not set(raw) & (HASHED_COLUMNS | UNHASHED_COLUMNS):
        raise invalid_param("payload.schema has no matching key")
    return tuple(raw)


def parse_payload(params: dict[str, Any], *, replace: bool = False) -> ParsedRows:
    payload = json_param(params, "payload")
    if not isinstance(payload, dict):
        raise invalid_param("The parameter payload is required: {schema, data}")
    schema = _schema(payload.get("schema"), replace)
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise invalid_param("payload.data must be a non-empty list of rows")
    if len(data) > MAX_ROWS:
        raise invalid_param(
            f"payload.data holds {len(data)} rows; at most {MAX_ROWS} are allowed per request"
        )
    parsed = ParsedRows(schema=schema, num_received=len(data))
    fast = _FastRows.of(schema)
    for index, row in enumerate(data):
        if len(schema) == 1 and not isinstance(row, list):
            row = [row]
        if not isinstance(row, list) or len(row) != len(schema):
            raise invalid_param(
                f"payload.data[{index}] has {len(row) if isinstance(row, list) else 'no'} "
                f"values; the schema has {len(schema)} keys"
            )
        keys = fast.keys(row) if fast is not None else None
        if keys is None:
            keys = _row_keys(schema, row, parsed)
        if keys is not None:
            parsed.rows.append(keys)
    return parsed


@dataclass(frozen=True, slots=True)
class _FastRows:
    """The keys of a row every value of which is valid, checked with one regular expression
    over its hashed cells; None sends the row through _row_keys, which checks each cell and
    says what is wrong (so the answer is the same, only a valid row is faster)."""

    hashed: tuple[int, ...]
    extern: int | None
    other: tuple[tuple[int, str], ...]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, schema: tuple[str, ...]) -> _FastRows | None:
        if not set(schema) <= HASHED_COLUMNS | EXTRA_COLUMNS | {"EXTERN_ID"}:
            return None  # MADID: checked cell by cell
        hashed = tuple(i for i, c in enumerate(schema) if c in HASHED_COLUMNS)
        cell = "(?:[0-9a-f]{64})?"
        pattern = re.compile(",".join([cell] * len(hashed)))
        extern = schema.index("EXTERN_ID") if "EXTERN_ID" in schema else None
        other = tuple((i, c) for i, c in enumerate(schema) if c not in EXTRA_COLUMNS)
        return cls(hashed, extern, other, pattern)

    def keys(self, row: list[Any]) -> set[str] | None:
        try:
            joined = ",".join([row[i] for i in self.hashed])
        except TypeError:
            return None  # a value that is not a string
        if self.pattern.fullmatch(joined) is None or EMPTY_SHA256 in joined:
            return None
        if self.extern is not None:
            extern = row[self.extern]
            if not isinstance(extern, str) or (extern and not extern.strip()):
                return None
        values = {c: row[i] for i, c in self.other if row[i]}
        if not values:
            return None
        strong = {f"{c}:{values[c]}" for c in IDENTITY_COLUMNS if c in values}
        if strong:
            return strong
        return {"MATCH:" + "|".join(f"{c}={v}" for c, v in sorted(values.items()))}


def _row_keys(schema: tuple[str, ...], row: list[Any], parsed: ParsedRows) -> set[str] | None:
    values: dict[str, str] = {}
    for column, value in zip(schema, row, strict=True):
        if column in EXTRA_COLUMNS:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and column == "EXTERN_ID":
            value = str(value)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            parsed.invalid(str(value), f"{column}: must be a string")
            return None
        if column in HASHED_COLUMNS and _SHA256.fullmatch(value) is None:
            parsed.invalid(value, f"{column}: not a SHA-256 hash (64 lowercase hex characters)")
            return None
        if value == EMPTY_SHA256:
            parsed.invalid(value, f"{column}: the hash of an empty string; send \"\" instead")
            return None
        if column == "MADID" and _MADID.fullmatch(value) is None:
            parsed.invalid(value, "MADID: must be an unhashed lowercase advertising id")
            return None
        if column == "EXTERN_ID" and not value.strip():
            parsed.invalid(value, "EXTERN_ID: blank")
            return None
        values[column] = value
    if not values:
        parsed.invalid("", "row has no values")
        return None
    strong = {f"{c}:{values[c]}" for c in IDENTITY_COLUMNS if c in values}
    if strong:
        return strong
    return {"MATCH:" + "|".join(f"{c}={v}" for c, v in sorted(values.items()))}


def parse_session(params: dict[str, Any], *, required: bool) -> Session | None:
    raw = json_param(params, "session")
    if raw is None:
        if required:
            raise invalid_param("The parameter session is required for usersreplace")
        return None
    if not isinstance(raw, dict):
        raise invalid_param("Param session must be an object")

    def integer(name: str, minimum: int) -> int | None:
        value = raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise invalid_param(f"session.{name} must be an integer")
        try:
            number = int(value)
        except ValueError:
            raise invalid_param(f"session.{name} must be an integer") from None
        if not minimum <= number < 2**63:
            raise invalid_param(f"session.{name} must be a positive 64-bit integer")
        return number

    session_id = integer("session_id", 1)
    batch_seq = integer("batch_seq", 1)
    if session_id is None or batch_seq is None:
        raise invalid_param("session.session_id and session.batch_seq are required")
    flag = raw.get("last_batch_flag", False)
    if isinstance(flag, str) and flag.lower() in {"true", "false"}:
        flag = flag.lower() == "true"
    if not isinstance(flag, bool):
        raise invalid_param("session.last_batch_flag must be a boolean")
    return Session(session_id, batch_seq, flag, integer("estimated_num_total", 0))
