"""Request and response bodies of the PRD's HTTP contracts (GAP-001, GAP-006), as pydantic models.

Strict: no coercion (a number sent as a string is an error), unknown fields refused where the
PRD defines the shape. `custom_data` and `metadata` accept custom properties by design.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from edge_compat.validation import (
    CURRENCY,
    EVENT_ID,
    HTTP_URL,
    META_EVENT_NAME,
    PRODUCT_ID,
    UUID_TEXT,
    currency_codes,
)
from workers.statuses import ActionSource as ActionSource

MAX_TEXT = 2048
MAX_VALUES = 20
MAX_BATCH = 1000
FUTURE_TOLERANCE_S = 60


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
ShortText = Annotated[str, StringConstraints(max_length=1000)]
EventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=EVENT_ID),
    Field(description="Deduplication id: the same id as the browser Pixel event (1-200 chars)."),
]
PersonId = Annotated[
    str, StringConstraints(pattern=UUID_TEXT), Field(description="shared.person id (UUID).")
]


def _text_or_list(value: object) -> str | list[str]:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"must be at most {MAX_TEXT} characters")
        return value
    if isinstance(value, list):
        if len(value) > MAX_VALUES:
            raise ValueError(f"must have at most {MAX_VALUES} values")
        if all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
            return value
    raise ValueError("must be a string or a list of strings")


def _id_text(value: object) -> str | int:
    if isinstance(value, str) and len(value) <= 200:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return value
    raise ValueError("must be a string or a whole number (an id)")


def _id_list(value: object) -> list[str | int]:
    if isinstance(value, list) and len(value) <= MAX_BATCH:
        return [_id_text(v) for v in value]
    raise ValueError(f"must be a list of at most {MAX_BATCH} ids (strings or whole numbers)")


TextOrList = Annotated[
    str | list[str],
    PlainValidator(_text_or_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
IdText = Annotated[
    str | int,
    PlainValidator(_id_text),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]
IdList = Annotated[
    list[str | int],
    PlainValidator(_id_list),
    WithJsonSchema(
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}
    ),
]


def _hashed(what: str) -> Any:
    return Field(
        None,
        description=f"{what}: raw or SHA-256 (64 hex); normalized and hashed by Meta's rules.",
    )


class UserData(BaseModel):
    """Who did it. Raw PII upserts shared.person and goes nowhere else; Meta gets hashes."""

    model_config = ConfigDict(extra="forbid", strict=True)

    email: Text | None = Field(None, description="Raw email (PRD name; Meta's `em`).")
    phone: Text | None = Field(
        None, description="Raw phone, any format; E.164 with the country code is best."
    )
    first_name: Text | None = Field(None, description="Raw first name (Meta's `fn`).")
    last_name: Text | None = Field(None, description="Raw last name (Meta's `ln`).")
    gender: Text | None = Field(None, description="f or m (Meta's `ge`).")
    date_of_birth: Text | None = Field(None, description="Date of birth (Meta's `db`).")
    city: Text | None = Field(None, description="City (Meta's `ct`).")
    state: Text | None = Field(None, description="State or region (Meta's `st`).")
    zip: Text | None = Field(None, description="Postal code (Meta's `zp`).")
    person_id: PersonId | None = Field(
        None, description="Internal shared.person id, for stitching; never sent to Meta."
    )
    em: TextOrList | None = _hashed("Email")
    ph: TextOrList | None = _hashed("Phone")
    fn: TextOrList | None = _hashed("First name")
    ln: TextOrList | None = _hashed("Last name")
    ge: TextOrList | None = _hashed("Gender")
    db: TextOrList | None = _hashed("Date of birth")
    ct: TextOrList | None = _hashed("City")
    st: TextOrList | None = _hashed("State")
    zp: TextOrList | None = _hashed("Zip")
    country: TextOrList | None = _hashed("Country (ISO 3166-1 alpha-2)")
    external_id: TextOrList | None = _hashed("Your own user id")
    client_ip_address: Text | None = Field(None, description="Visitor IP; sent unhashed.")
    client_user_agent: Text | None = Field(None, description="Browser user agent; unhashed.")
    fbc: Text | None = Field(None, description="_fbc click-id cookie; sent unhashed.")
    fbp: Text | None = Field(None, description="_fbp browser-id cookie; sent unhashed.")
    subscription_id: IdText | None = None
    fb_login_id: IdText | None = None
    lead_id: IdText | None = Field(None, description="Meta lead id (lead ads).")
    anon_id: IdText | None = None
    madid: IdText | None = Field(None, description="Mobile advertiser id.")
    page_id: IdText | None = None
    page_scoped_user_id: IdText | None = None
    ctwa_clid: IdText | None = None
    ig_account_id: IdText | None = None
    ig_sid: IdText | None = None


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if code not in currency_codes():
        raise ValueError("must be an ISO 4217 currency code, e.g. USD")
    return code


Number = Annotated[float, AfterValidator(_finite)]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY), AfterValidator(_currency)]


class Content(BaseModel):
    """One item of `custom_data.contents`."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: IdText | None = Field(None, description="Product id (SKU).")
    quantity: Annotated[int, Field(ge=0)] | None = None
    item_price: Number | None = None
    delivery_category: Literal["in_store", "curbside", "home_delivery"] | None = None


class CustomData(BaseModel):
    """What happened: Meta's standard custom_data keys, plus your own properties."""

    model_config = ConfigDict(extra="allow", strict=True)

    value: Number | None = Field(
        None, description="Monetary value; with `currency` (both required for Purchase)."
    )
    currency: Currency | None = Field(
        None, description="ISO 4217 code, e.g. USD (required with `value`)."
    )
    content_name: ShortText | None = None
    content_category: ShortText | None = None
    content_type: Literal["product", "product_group"] | None = None
    content_ids: IdList | None = None
    contents: Annotated[list[Content], Field(max_length=MAX_BATCH)] | None = None
    order_id: ShortText | None = None
    predicted_ltv: Number | None = None
    num_items: Annotated[int, Field(ge=0)] | None = None
    search_string: ShortText | None = None
    status: ShortText | None = None
    delivery_category: Literal["in_store", "curbside", "home_delivery"] | None = None
    source_product: Annotated[str, StringConstraints(pattern=PRODUCT_ID)] | None = Field(
        None, description="Which product fired this; must be the service key's product."
    )


class MetaEvent(BaseModel):
    """One server event for Meta's Conversions API (the PRD's GAP-001 request)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    event_name: Annotated[str, StringConstraints(pattern=META_EVENT_NAME)] = Field(
        description="Meta standard (Purchase, Lead, ...) or custom event name."
    )
    event_time: Annotated[int, Field(ge=0)] = Field(
        description="Unix seconds; at most 60 s in the future. Meta drops events older than "
        "7 days (they are stored and dead-lettered as expired)."
    )
    event_id: EventId
    event_source_url: (
        Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=HTTP_URL)] | None
    ) = Field(None, description="Page where the event happened (website events).")
    action_source: ActionSource | None = Field(
        None, description="Where it happened; default: website with browser data, else "
        "system_generated.",
    )  # fmt: skip
    user_data: UserData
    custom_data: CustomData | None = None


class MetaEventBatch(BaseModel):
    """Up to 1,000 events in one request, answered per event (documentation model)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    data: Annotated[list[MetaEvent], Field(min_length=1, max_length=MAX_BATCH)]


class TrackConversionRequest(BaseModel):
    """The PRD's GAP-006 edge-function contract."""

    model_config = ConfigDict(extra="forbid", strict=True)

    event_name: Annotated[str, StringConstraints(pattern=META_EVENT_NAME)] = Field(
        description="Conversion name; also the Meta event name when forwarded."
    )
    person_id: PersonId
    product: Annotated[str, StringConstraints(pattern=PRODUCT_ID)] = Field(
        description="The product reporting it; must be the service key's product."
    )
    value: Number | None = None
    currency: Currency | None = Field(None, description="ISO 4217 code (required with value).")
    metadata: dict[str, Any] | None = Field(
        None, description="Extra event properties (no personal data)."
    )
    event_id: EventId | None = Field(
        None,
        description="Deduplication id. If absent: derived from the Idempotency-Key header "
        "(uuid5 of product and key), else a new random UUID.",
    )


# --- answers -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str | None = Field(description="The field at fault, as a path (user_data.email).")
    rule: str | None = Field(description="The rule it broke.")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Disabled(BaseModel):
    success: bool = False
    disabled: bool = True


class MetaResponse(BaseModel):
    events_received: int | None = None
    fbtrace_id: str | None = None


class MetaEventResult(BaseModel):
    success: bool
    event_id: str
    hashed: bool = Field(True, description="PII is hashed before it is sent to Meta.")
    status: str = Field(
        description="queued, or the delivery status (sent, retrying, rejected, expired, "
        "blocked_consent, ...) after ?wait= and for a resend, which is stored once and sent "
        "once and answers with what became of the first."
    )
    duplicate: bool = Field(description="true for a resend of an event already stored.")
    meta_response: MetaResponse | None = Field(
        None, description="Meta's answer for the batch carrying this event (with ?wait=)."
    )


class BatchItemResult(BaseModel):
    index: int
    event_id: str | None
    status: str = Field(
        description="queued, rejected (this request), or the event's delivery status (after "
        "?wait=, and for a resend)."
    )
    duplicate: bool = False
    meta_response: MetaResponse | None = None
    error: ErrorDetail | None = None


class MetaEventBatchResult(BaseModel):
    success: bool = Field(description="true when every event was stored (or already was).")
    hashed: bool = True
    received: int
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchItemResult]


class EventStatus(BaseModel):
    event_id: str
    product_id: str
    status: str
    meta_event_name: str | None
    attempt: int | None
    pixel_id: str | None
    received_at: str
    updated_at: str | None
    test_event_code: str | None
    meta_response: MetaResponse | None
    error: dict[str, Any] | None


class TrackConversionResult(BaseModel):
    success: bool
    event_id: str
    forwarded: bool = Field(description="Sent on to Meta (META_CAPI_FORWARD_ENABLED was on).")
    status: Literal["accepted", "duplicate"]
