"""Meta user_data normalization: golden vectors from Meta's docs and a table of tricky inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from workers.meta.normalize import (
    AUDIENCE_KEYS,
    HASHED_KEYS,
    UNHASHED_KEYS,
    Dropped,
    NormalizedUserData,
    explain_user_data,
    is_sha256_hex,
    normalize_audience_rows,
    normalize_user_data,
    sha256_hex,
)

# Golden vectors (tests/golden/user_data.json), shared with the SQL and compiled-build tests:
# Meta's documented examples first, (key, raw, normalized, hash), then tricky inputs, (key, raw,
# other fields of the person, normalized or None when dropped).
VECTORS = json.loads((Path(__file__).parent / "golden" / "user_data.json").read_text())["cases"]
GOLDEN = [(c["key"], c["raw"], c["normalized"], c["sha256"]) for c in VECTORS if "source" in c]
KEYS = json.loads((Path(__file__).parent / "golden" / "user_data_keys.json").read_text())


def one(key: str, value: object, **extra: object) -> NormalizedUserData:
    return normalize_user_data({key: value, **extra})


def normalized(key: str, value: object, **extra: object) -> Any:
    return one(key, value, **extra).normalized.get(key)


@pytest.mark.parametrize(("key", "raw", "form", "digest"), GOLDEN)
def test_golden_vectors(key: str, raw: str, form: str, digest: str) -> None:
    result = one(key, raw)
    assert result.normalized[key] == form
    assert result.user_data[key] == digest
    assert result.dropped == ()
    assert sha256_hex(form) == digest == hashlib.sha256(form.encode()).hexdigest()


@pytest.mark.parametrize(("key", "raw", "form", "digest"), GOLDEN)
def test_golden_vectors_with_prd_names(key: str, raw: str, form: str, digest: str) -> None:
    prd = {"em": "email", "ph": "phone", "fn": "first_name", "db": "date_of_birth"}.get(key, key)
    assert normalize_user_data({prd: raw}).user_data == {key: digest}


def test_golden_vectors_in_audience_rows() -> None:
    rows, dropped = normalize_audience_rows(
        [
            {
                "EMAIL": "John_Smith@gmail.com",
                "PHONE": "(650)555-1212",
                "FN": "mary",
                "COUNTRY": "us",
            }
        ],
        ["EMAIL", "PHONE", "FN", "COUNTRY"],
    )
    assert dropped == []
    assert rows == [[digest for key, _, _, digest in GOLDEN if key != "db"]]


TRICKY: list[tuple[str, object, dict[str, str], str | None]] = [
    (c["key"], c["raw"], c.get("person", {}), c["normalized"]) for c in VECTORS if "source" not in c
]


def test_the_vectors_hash_what_they_say() -> None:
    for case in VECTORS:
        form = case["normalized"]
        assert case["sha256"] == (None if form is None else sha256_hex(form)), case


def test_key_lists_match_the_golden_key_kinds() -> None:
    assert list(HASHED_KEYS) == KEYS["hashed"]
    assert sorted(UNHASHED_KEYS) == sorted(KEYS["id"] + KEYS["browser"])


@pytest.mark.parametrize(("key", "raw", "person", "expected"), TRICKY)
def test_tricky_inputs(key: str, raw: object, person: dict[str, str], expected: str | None) -> None:
    result = one(key, raw, **person)
    if expected is None:
        assert key not in result.user_data
        reasons = [d.reason for d in result.dropped if d.key == key]
        assert len(reasons) == 1 and reasons[0].startswith(f"{key}: ")
        assert isinstance(raw, str) and raw.strip() not in reasons[0]
    else:
        assert result.normalized[key] == expected
        assert result.user_data[key] == sha256_hex(expected)
        assert [d for d in result.dropped if d.key == key] == []


def test_phone_region_order_number_then_country_then_default() -> None:
    assert normalized("ph", "+44 20 7946 0958", country="us") == "442079460958"
    assert normalized("ph", "020 7946 0958", country="gb") == "442079460958"
    assert normalize_user_data({"ph": "020 7946 0958"}, default_region="GB").normalized == {
        "ph": "442079460958"
    }
    assert normalized("ph", "020 7946 0958") is None  # not a valid US number


def test_dropped_reason_names_key_and_region_not_value() -> None:
    assert one("ph", "123").dropped == (
        Dropped("ph", "ph: not a valid phone number for region US"),
    )


def test_already_hashed_passes_through_lowercased_never_rehashed() -> None:
    digest = GOLDEN[0][3]
    for key in ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"):
        result = one(key, "  " + digest.upper() + " ")
        assert result.user_data == {key: digest}, key
        assert result.dropped == ()


def test_hash_in_a_must_not_hash_key_is_dropped() -> None:
    digest = GOLDEN[0][3]
    for key in ("client_ip_address", "client_user_agent", "fbc", "fbp", "anon_id", "ctwa_clid"):
        result = one(key, digest)
        assert result.user_data == {}
        assert result.dropped[0].key == key
        assert "unhashed" in result.dropped[0].reason


def test_unhashed_keys_pass_through_raw() -> None:
    raw = {
        "client_ip_address": " 2001:0DB8:0000::1 ",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
        "fbp": "fb.1.1596403881668.1116446470",
        "lead_id": "1234567890123456",
        "subscription_id": "sub_42",
        "fb_login_id": "100000000000001",
        "madid": "AB12CD34-0000-1111-2222-333344445555",
        "anon_id": "anon-1",
        "page_id": 1234567890,
        "page_scoped_user_id": "987654321",
        "ctwa_clid": "ARAkLkA8rmlF",
        "ig_account_id": "17841400000000000",
        "ig_sid": "igsid-1",
    }
    result = normalize_user_data(raw)
    assert result.dropped == ()
    assert result.user_data == {
        **raw,
        "client_ip_address": "2001:db8::1",
        "madid": "ab12cd34-0000-1111-2222-333344445555",
        "page_id": "1234567890",
    }
    assert not any(is_sha256_hex(v) for v in result.user_data.values())


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1.2.3.4", True),
        ("::ffff:1.2.3.4", True),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("224.0.0.1", False),
        ("1.2.3", False),
        ("1.2.3.4 ", True),
        ("1.2. 3.4", False),
        ("fe80::1%eth0", False),
        ("256.1.1.1", False),
    ],
)
def test_client_ip_address(value: str, ok: bool) -> None:
    assert ("client_ip_address" in one("client_ip_address", value).user_data) is ok


def test_lists_are_normalized_then_deduplicated_in_order() -> None:
    result = one("em", ["B@example.com", " b@example.com", "a@example.com", "bad", None, ""])
    assert result.normalized["em"] == ["b@example.com", "a@example.com"]
    assert result.user_data["em"] == [sha256_hex("b@example.com"), sha256_hex("a@example.com")]
    assert [d.reason for d in result.dropped] == ["em: not a valid email address"]


def test_hashed_and_raw_forms_of_the_same_value_deduplicate() -> None:
    digest = GOLDEN[0][3]
    assert one("em", ["John_Smith@gmail.com", digest.upper()]).user_data == {"em": digest}


def test_alias_and_meta_key_merge() -> None:
    result = normalize_user_data({"email": "a@example.com", "em": ["b@example.com"]})
    assert result.normalized == {"em": ["a@example.com", "b@example.com"]}


def test_lines_with_the_same_keys_give_what_grouping_each_line_gives() -> None:
    """Key orders are planned once (no grouping per line); the results are the same as for an
    order seen for the first time, with merged spellings, unknown keys and the country first."""
    lines = [
        {"zip": "94107", "phone": "(415) 555-0100", "country": "US", "email": "A@Example.com"},
        {"email": "a@example.com", "em": ["b@example.com"], "country": "gb"},
        {"Email ": "a@example.com", "favourite_colour": "red", "zip": "SW1A 1AA", "country": "GB"},
        {"first_name": "Ann", "state": "California", "city": "SF", "gender": "x"},
    ]
    first = [normalize_user_data(dict(line)) for line in lines]
    again = [normalize_user_data(dict(line)) for line in lines]  # the planned orders now
    assert again == first
    assert list(first[0].user_data) == ["zp", "ph", "country", "em"]
    assert first[1].normalized["em"] == ["a@example.com", "b@example.com"]
    assert first[2].dropped == (Dropped("favourite_colour", "unknown user_data key"),)
    assert [d.key for d in first[3].dropped] == ["ge"]


def test_single_valued_keys_keep_the_first_valid_value() -> None:
    result = one("client_ip_address", ["bad", "1.2.3.4", "5.6.7.8"])
    assert result.user_data == {"client_ip_address": "1.2.3.4"}
    assert [d.reason for d in result.dropped] == [
        "client_ip_address: not a valid IPv4 or IPv6 address",
        "client_ip_address: only one value allowed; extra value left out",
    ]


@pytest.mark.parametrize("value", [None, "", "   ", [], [None, "", " "]])
def test_empty_values_are_absent_not_errors(value: object) -> None:
    assert one("em", value) == NormalizedUserData({}, (), {})


def test_unknown_keys_and_person_id_are_dropped() -> None:
    result = normalize_user_data(
        {"person_id": "p1", "favourite_colour": "blue", 7: "x", "john@example.com": "x"}
    )
    assert result.user_data == {}
    assert result.dropped == (
        Dropped("person_id", "person_id is never sent to Meta; map it to external_id explicitly"),
        Dropped("favourite_colour", "unknown user_data key"),
        Dropped("<int key>", "unknown user_data key"),
        Dropped("<unprintable key>", "unknown user_data key"),  # a key that looks like PII
    )


def test_key_case_and_spaces_are_forgiven() -> None:
    assert one(" EM ", "a@example.com").normalized == {"em": "a@example.com"}


@pytest.mark.parametrize("value", [1.5, True, {"a": 1}, b"bytes", ["ok@example.com", 2.5]])
def test_unsupported_types_are_dropped_not_raised(value: object) -> None:
    result = one("em", value)
    assert any("unsupported value type" in d.reason for d in result.dropped)


def test_ints_are_accepted_as_text() -> None:
    assert normalized("zp", 94025) == "94025"
    assert normalized("ph", 16505551212) == "16505551212"


def test_programming_errors_raise() -> None:
    with pytest.raises(TypeError):
        normalize_user_data([("em", "a@example.com")])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        normalize_user_data({}, default_region="XX")


def test_output_keys_follow_the_input_order_on_both_paths() -> None:
    raw = {
        "fbp": "fb.1.1596403881668.1116446470",
        "country": "us",
        "email": "a@example.com",
        "zip": "94025",
    }
    assert list(normalize_user_data(raw).user_data) == ["fbp", "country", "em", "zp"]
    merged = normalize_user_data({**raw, "em": "b@example.com"})  # merged by the general path
    assert list(merged.user_data) == ["fbp", "country", "em", "zp"]
    assert len(merged.user_data["em"]) == 2


def test_normalized_values_are_not_in_the_repr() -> None:
    result = one("em", "secret.person@example.com")
    assert "secret.person" not in repr(result)
    assert "secret.person" not in str(result.dropped)


def test_explain_reports_every_value() -> None:
    result, explained = explain_user_data(
        {"em": ["John_Smith@gmail.com", "bad", "john_smith@gmail.com"], "ip": "1.2.3.4"}
    )
    assert result.user_data == {"em": GOLDEN[0][3]}
    assert [(e.value, e.normalized, e.reason) for e in explained] == [
        ("John_Smith@gmail.com", "john_smith@gmail.com", None),
        ("bad", None, "em: not a valid email address"),
        ("john_smith@gmail.com", "john_smith@gmail.com", "duplicate"),
    ]
    assert Dropped("ip", "unknown user_data key") in result.dropped


# --- Custom Audience rows -------------------------------------------------------------------


def test_audience_rows_align_to_schema_with_blanks() -> None:
    schema = ["EXTERN_ID", "EMAIL", "PHONE", "COUNTRY", "MADID", "ZIP"]
    rows, dropped = normalize_audience_rows(
        [
            {
                "external_id": " abc ",
                "email": "A@Example.com",
                "country": "GB",
                "phone": "020 7946 0958",
                "madid": "AB12CD34-0000-1111-2222-333344445555",
            },
            {"EMAIL": "bad"},
        ],
        schema,
    )
    assert rows[0] == [
        sha256_hex("abc"),
        sha256_hex("a@example.com"),
        sha256_hex("442079460958"),
        sha256_hex("gb"),
        "ab12cd34-0000-1111-2222-333344445555",
        "",
    ]
    assert rows[1] == [""] * len(schema)
    assert dropped == [
        Dropped("EMAIL", "row 1: EMAIL: not a valid email address"),
        Dropped("row", "row 1: no usable identifier for the schema"),
    ]


def test_audience_extern_id_matches_capi_external_id_unless_raw_requested() -> None:
    capi = normalize_user_data({"external_id": " u-1 "}).user_data["external_id"]
    rows, _ = normalize_audience_rows([{"EXTERN_ID": " u-1 "}], ["EXTERN_ID"])
    assert rows == [[capi]]
    rows, _ = normalize_audience_rows([{"EXTERN_ID": " u-1 "}], ["EXTERN_ID"], hash_extern_id=False)
    assert rows == [["u-1"]]


def test_audience_derived_columns() -> None:
    schema = ["FN", "FI", "DOBY", "DOBM", "DOBD", "GEN", "ST", "CT"]
    rows, dropped = normalize_audience_rows(
        [
            {
                "first_name": "Élodie",
                "date_of_birth": "2/16/1997",
                "gender": "Female",
                "state": "New York",
                "city": "New York",
            }
        ],
        schema,
    )
    assert dropped == []
    assert rows == [
        [sha256_hex(v) for v in ("élodie", "é", "1997", "02", "16", "f", "ny", "newyork")]
    ]


def test_audience_explicit_dob_parts() -> None:
    rows, dropped = normalize_audience_rows(
        [{"DOBY": "1997", "DOBM": "2", "DOBD": "6"}, {"DOBY": "97", "DOBM": "13", "DOBD": "32"}],
        ["DOBY", "DOBM", "DOBD"],
    )
    assert rows[0] == [sha256_hex("1997"), sha256_hex("02"), sha256_hex("06")]
    assert rows[1] == ["", "", ""]
    assert len(dropped) == 4


def test_audience_schema_errors_raise() -> None:
    with pytest.raises(ValueError):
        normalize_audience_rows([], ["EMAIL", "NOPE"])
    with pytest.raises(ValueError):
        normalize_audience_rows([], ["EMAIL", "EMAIL"])
    with pytest.raises(ValueError):
        normalize_audience_rows([], "EMAIL")
    with pytest.raises(TypeError):
        normalize_audience_rows([["x"]], ["EMAIL"])  # type: ignore[list-item]
    assert set(AUDIENCE_KEYS) == {
        "EMAIL",
        "PHONE",
        "FN",
        "LN",
        "FI",
        "GEN",
        "DOBY",
        "DOBM",
        "DOBD",
        "CT",
        "ST",
        "ZIP",
        "COUNTRY",
        "EXTERN_ID",
        "MADID",
    }


def test_memo_skips_keys_whose_values_never_repeat() -> None:
    """Unique emails stop being looked up and stored after a probe; repeated names stay
    memoized. Either way the results are the same (test_normalize_properties)."""
    import workers.meta.normalize as module

    try:
        module.configure_cache(65536)
        for i in range(5000):
            normalize_user_data({"em": f"p{i}@example.com", "fn": ["Mary", "Ann"][i % 2]})
        tables = module._MEMO.now.tables
        assert tables["em"].skip > 0
        assert tables["fn"].skip == 0 and len(tables["fn"].young) + len(tables["fn"].old) == 2
    finally:
        module.configure_cache(module._cache_size_from_env())
