"""Graph request parameters: query string plus body (JSON, form-encoded or multipart).

Graph takes parameters from either place, so the two are merged (body wins). Form values are
strings; JSON-typed parameters (`data`, `payload`, `session`, `time_range`, ...) may therefore be
JSON strings, and `json_param` decodes them. Multipart bodies are parsed with the standard
library's MIME parser so the sandbox needs no extra dependency.
"""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from meta_sandbox.errors import invalid_param

MAX_BODY_BYTES = 50 * 1024 * 1024


async def read_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    if len(body) > MAX_BODY_BYTES:
        raise invalid_param("Request body too large")
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json" or (not mime and body.lstrip()[:1] == b"{"):
        try:
            decoded = _loads(body)
        except (ValueError, UnicodeDecodeError):
            raise invalid_param("The request body is not valid JSON") from None
        if not isinstance(decoded, dict):
            raise invalid_param("The JSON request body must be an object")
        params.update(decoded)
    elif mime == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_param("The form body is not valid UTF-8") from None
        params.update(dict(parse_qsl(text, keep_blank_values=True)))
    elif mime == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:
        raise invalid_param(f"Unsupported content type {mime or '(none)'!r}")
    return params


def _loads(body: bytes) -> Any:
    """orjson for speed (an audience upload is megabytes); the standard library for what orjson
    refuses and Graph takes (integers past 64 bits, NaN)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise invalid_param("Malformed multipart/form-data body")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        if not isinstance(raw, bytes):
            raw = b""
        charset = part.get_content_charset() or "utf-8"
        try:
            fields[name] = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise invalid_param(f"Form field {name!r} is not valid text") from None
    return fields


def json_param(params: dict[str, Any], name: str) -> Any:
    """The parameter decoded from JSON if it arrived as a string (form), else as it came."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise invalid_param(f"Param {name} must be valid JSON") from None
    return value


def str_param(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid_param(f"Param {name} must be a string")
    return str(value)


def int_param(params: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid_param(f"Param {name} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_param(f"Param {name} must be an integer") from None
    if not minimum <= number <= maximum:
        raise invalid_param(f"Param {name} must be between {minimum} and {maximum}")
    return number


def fields_param(params: dict[str, Any], default: tuple[str, ...]) -> list[str]:
    raw = params.get("fields")
    if raw is None or raw == "":
        return list(default)
    if isinstance(raw, list):
        items = [str(item) for item in raw]
    elif isinstance(raw, str) and raw.lstrip().startswith("["):
        # A JSON array, as the SDK sends fields in a POST body.
        try:
            decoded = json.loads(raw)
        except ValueError:
            raise invalid_param("Param fields must be a comma-separated list") from None
        if not isinstance(decoded, list):
            raise invalid_param("Param fields must be a comma-separated list")
        items = [str(item) for item in decoded]
    elif isinstance(raw, str):
        items = raw.split(",")
    else:
        raise invalid_param("Param fields must be a comma-separated list")
    out: list[str] = []
    for item in items:
        name = item.strip()
        if name and name not in out:
            out.append(name)
    return out
