"""Customer-file Custom Audiences: create, `/users` add and remove, `/usersreplace` sessions.

Members are identified by their row: EMAIL, PHONE, EXTERN_ID and MADID each identify a person
on their own (a row matching a member on any of them is that member); a row without any of them
is identified by the combination of its other columns. Replace sessions follow Meta's rules
(docs/meta-rules.md §3.2): session required, `batch_seq` 1 starts the replace, one replace at
a time, 90 minutes from the first batch, `last_batch_flag` completes it and swaps the members
atomically.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.audience_rows import ParsedRows, Session, parse_payload, parse_session
from meta_sandbox.errors import (
    audience_update_error,
    invalid_param,
    nonexisting_field,
    unknown_object,
)
from meta_sandbox.graph import begin, sandbox_of
from meta_sandbox.paging import paginate
from meta_sandbox.params import fields_param, str_param
from meta_sandbox.state import Audience, MemberSet, ReplaceSession, Sandbox

router = APIRouter()

AUDIENCE_ID_BASE = 23_850_000_000_000_000
REPLACE_SESSION_S = 90 * 60
SUBCODE_IN_PROGRESS = 1870145
SUBCODE_FIRST_BATCH = 1870147
SUBCODE_TIMED_OUT = 1870158
SUBCODE_FINISHED = 1870159

CUSTOMER_FILE_SOURCES = frozenset(
    {"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}
)
READ_FIELDS = frozenset(
    {
        "id", "account_id", "name", "description", "subtype", "customer_file_source",
        "approximate_count_lower_bound", "approximate_count_upper_bound", "operation_status",
        "delivery_status", "time_created", "time_updated",
    }
)  # fmt: skip


def _account(sandbox: Sandbox, account_id: str, method: str) -> None:
    if account_id != sandbox.config.ad_account_id:
        raise unknown_object(account_id, method)


def audience_of(sandbox: Sandbox, audience_id: str, method: str) -> Audience:
    audience = sandbox.audiences.get(audience_id)
    if audience is None:
        raise unknown_object(audience_id, method)
    return audience


def expire_replace(audience: Audience, now: float) -> None:
    """A replace session ends 90 minutes after its first batch; what it staged is applied."""
    session = audience.replace
    if session is not None and now - session.started_at > REPLACE_SESSION_S:
        audience.members = session.staged
        audience.changed(now)
        session.state = "timed_out"
        audience.finished_sessions[session.session_id] = "timed_out"
        audience.replace = None


@router.post("/{version}/{account_id}/customaudiences")
async def create_audience(request: Request, version: str, account_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="custom_audience")
    _account(sandbox, account_id, "POST")
    name = (str_param(params, "name") or "").strip()
    if not name:
        raise invalid_param("The parameter name is required")
    subtype = str_param(params, "subtype")
    if subtype != "CUSTOM":
        raise invalid_param("The parameter subtype is required and must be CUSTOM")
    source = str_param(params, "customer_file_source")
    if source not in CUSTOMER_FILE_SOURCES:
        raise invalid_param(
            "The parameter customer_file_source is required: one of "
            + ", ".join(sorted(CUSTOMER_FILE_SOURCES))
        )
    description = str_param(params, "description")
    with sandbox.lock:
        now = sandbox.now()
        audience_id = sandbox.new_id(AUDIENCE_ID_BASE)
        sandbox.audiences[audience_id] = Audience(
            id=audience_id,
            account_id=account_id.removeprefix("act_"),
            name=name,
            description=description,
            subtype=subtype,
            customer_file_source=source,
            created_at=now,
            updated_at=now,
        )
    return JSONResponse({"id": audience_id})


@router.get("/{version}/{account_id}/customaudiences")
async def list_audiences(request: Request, version: str, account_id: str) -> JSONResponse:
    """The account's audiences, oldest first, with Graph cursor paging (Meta advises limit=20)."""
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="custom_audience")
    _account(sandbox, account_id, "GET")
    fields = fields_param(params, ("id",))
    for name in fields:
        if name not in READ_FIELDS:
            raise nonexisting_field(name, "CustomAudience")
    with sandbox.lock:
        now = sandbox.now()
        rows = []
        for audience in sandbox.audiences.values():
            if audience.account_id != account_id.removeprefix("act_"):
                continue
            expire_replace(audience, now)
            full = describe(sandbox, audience)
            rows.append({n: full[n] for n in ["id", *fields] if full[n] is not None})
    return JSONResponse(paginate(request, sandbox, rows, params, inject_empty=False))


@router.post("/_sandbox/audience-processing")
async def set_processing(request: Request) -> JSONResponse:
    """Control: seconds before uploads reach the reported size (0 = immediately)."""
    sandbox = sandbox_of(request)
    body = await request.json()
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
        0 <= seconds <= 86_400
    ):
        return JSONResponse({"detail": "seconds: a number from 0 to 86400"}, status_code=422)
    with sandbox.lock:
        sandbox.audience_processing_s = float(seconds)
    return JSONResponse({"seconds": sandbox.audience_processing_s})


async def _users(request: Request, audience_id: str, remove: bool) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="custom_audience")
    if str(params.get("method", "")).upper() == "DELETE":
        remove = True
    audience = audience_of(sandbox, audience_id, request.method)
    parsed = parse_payload(params)
    session = parse_session(params, required=False)
    with sandbox.lock:
        now = sandbox.now()
        expire_replace(audience, now)
        if audience.replace is not None:
            raise audience_update_error(
                SUBCODE_IN_PROGRESS,
                "Audience update in progress: a replace session is running; /users calls are "
                "refused until it completes",
            )
        for keys in parsed.rows:
            if remove:
                audience.members.remove(keys)
            else:
                audience.members.add(keys)
        if remove:
            audience.rows_removed += parsed.num_received
        else:
            audience.rows_added += parsed.num_received
        audience.uploads += 1
        audience.changed(now)
        if session is None:
            session_id = int(sandbox.new_id(7_000_000_000_000_000))
            received = parsed.num_received
        else:
            session_id = session.session_id
            received = audience.user_sessions.get(session_id, 0) + parsed.num_received
            audience.user_sessions[session_id] = received
    return JSONResponse(
        {
            "audience_id": audience_id,
            "session_id": str(session_id),
            "num_received": received,
            "num_invalid_entries": parsed.num_invalid,
            "invalid_entry_samples": parsed.samples,
        }
    )


@router.post("/{version}/{audience_id}/users")
async def add_users(request: Request, version: str, audience_id: str) -> JSONResponse:
    return await _users(request, audience_id, remove=False)


@router.delete("/{version}/{audience_id}/users")
async def remove_users(request: Request, version: str, audience_id: str) -> JSONResponse:
    return await _users(request, audience_id, remove=True)


def _replace_batch(
    audience: Audience, session: Session, parsed: ParsedRows, now: float
) -> ReplaceSession:
    expire_replace(audience, now)
    active = audience.replace
    if active is not None and active.session_id != session.session_id:
        raise audience_update_error(
            SUBCODE_IN_PROGRESS,
            f"Audience update in progress: replace session {active.session_id} is running; "
            "only one replace at a time",
        )
    if active is None:
        finished = audience.finished_sessions.get(session.session_id)
        if finished == "completed":
            raise audience_update_error(
                SUBCODE_FINISHED,
                "Session already finished: last_batch_flag was sent for this session",
            )
        if finished == "timed_out":
            raise audience_update_error(
                SUBCODE_TIMED_OUT,
                "Session timed out: 90 minutes passed since its first batch; what was uploaded "
                "was applied. Finish with /users adds",
            )
        if session.batch_seq != 1:
            raise audience_update_error(
                SUBCODE_FIRST_BATCH,
                f"The first batch of a replace session must have batch_seq 1, not "
                f"{session.batch_seq}",
            )
        active = ReplaceSession(
            session_id=session.session_id,
            started_at=now,
            schema=parsed.schema,
            staged=MemberSet(),
        )
        audience.replace = active
    else:
        if session.batch_seq == 1:
            raise audience_update_error(
                SUBCODE_IN_PROGRESS,
                "batch_seq 1 starts a replace and was already sent for this session",
            )
        if parsed.schema != active.schema:
            raise invalid_param("payload.schema must stay the same for the whole session")
    for keys in parsed.rows:
        active.staged.add(keys)
    active.num_received += parsed.num_received
    active.num_invalid += parsed.num_invalid
    active.batches += 1
    if session.last_batch_flag:
        audience.members = active.staged  # atomic swap at completion
        audience.uploads += 1
        audience.changed(now)
        active.state = "completed"
        audience.finished_sessions[active.session_id] = "completed"
        audience.replace = None
    return active


@router.post("/{version}/{audience_id}/usersreplace")
async def replace_users(request: Request, version: str, audience_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="custom_audience")
    audience = audience_of(sandbox, audience_id, "POST")
    session = parse_session(params, required=True)
    assert session is not None
    parsed = parse_payload(params, replace=True)
    with sandbox.lock:
        active = _replace_batch(audience, session, parsed, sandbox.now())
    return JSONResponse(
        {
            "account_id": audience.account_id,
            "audience_id": audience_id,
            "session_id": str(active.session_id),
            "num_received": active.num_received,
            "num_invalid_entries": parsed.num_invalid,
            "invalid_entry_samples": parsed.samples,
        }
    )


def approximate_bounds(count: int) -> tuple[int, int]:
    """A rounded range around the true size (two significant digits), never excluding it."""
    if count <= 0:
        return 0, 0
    step = 10 ** max(0, len(str(count)) - 2)
    lower = (count * 9 // 10) // step * step
    upper = -(-(count * 11 // 10 + 1) // step) * step
    return min(lower, count), max(upper, count)


def describe(sandbox: Sandbox, audience: Audience) -> dict[str, Any]:
    """Every readable field of an audience (callers pick what was asked for). The size is the
    one processed `audience_processing_s` ago, as a rounded range (Meta's counts lag)."""
    count = audience.reported_size(sandbox.now(), sandbox.audience_processing_s)
    lower, upper = approximate_bounds(count)
    if audience.replace is not None:
        operation = {"code": 414, "description": "Replace in progress."}
    elif audience.uploads == 0:
        operation = {"code": 410, "description": "No upload: no file has been uploaded yet."}
    else:
        operation = {"code": 200, "description": "Normal"}
    if count < sandbox.config.min_audience_size:
        delivery = {
            "code": 300,
            "description": "This audience is too small to be used. Add more people to it.",
        }
    else:
        delivery = {"code": 200, "description": "This audience is ready for use."}
    return {
        "id": audience.id,
        "account_id": audience.account_id,
        "name": audience.name,
        "description": audience.description,
        "subtype": audience.subtype,
        "customer_file_source": audience.customer_file_source,
        "approximate_count_lower_bound": lower,
        "approximate_count_upper_bound": upper,
        "operation_status": operation,
        "delivery_status": delivery,
        "time_created": int(audience.created_at),
        "time_updated": int(audience.updated_at),
    }


def read_audience(sandbox: Sandbox, audience: Audience, params: dict[str, Any]) -> dict[str, Any]:
    fields = fields_param(params, ("id",))
    for name in fields:
        if name not in READ_FIELDS:
            raise nonexisting_field(name, "CustomAudience")
    with sandbox.lock:
        expire_replace(audience, sandbox.now())
        full = describe(sandbox, audience)
    return {name: full[name] for name in ["id", *fields] if full[name] is not None}


def delete_audience(sandbox: Sandbox, audience_id: str) -> None:
    with sandbox.lock:
        if sandbox.audiences.pop(audience_id, None) is None:
            raise unknown_object(audience_id, "DELETE")
