from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shopcommon.validation import NO_NUL


class NotificationOut(BaseModel):
    """A notification tells of an order (`order_id`, `order_status`) or of a booking linked to the
    caller (`booking_id`, `booking_status`); the other pair is null."""

    id: int
    event_id: uuid.UUID
    order_id: int | None = Field(description="The order it tells of; null for a booking's.")
    order_status: str | None = Field(description="The order status the notification tells of (wire spelling).")
    booking_id: int | None = Field(description="The booking it tells of; null for an order's.")
    booking_status: str | None = Field(description="The booking status the notification tells of.")
    channel: str = Field(description="`email` or `push`.")
    status: str = Field(
        description="`pending` (being sent or waiting to retry), `sent` or `failed` (for good; `last_error` says "
        "why, e.g. a booking given no e-mail address)."
    )
    subject: str
    recipient: str | None = Field(description="The address e-mailed, or the push service's host.")
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


#: base64url of 65 bytes, the first 0x04 (an uncompressed P-256 point): `B`, then [A-P] (0x04's two low
#: bits are zero), 84 free characters, and a last one whose two unused bits are zero; `=` padding optional.
P256DH_PATTERN = r"^B[A-P][A-Za-z0-9_-]{84}[AEIMQUYcgkosw048]=?$"
#: base64url of 16 bytes: 21 free characters and a last one whose four unused bits are zero.
AUTH_PATTERN = r"^[A-Za-z0-9_-]{21}[AQgw](==)?$"
#: `https://` and then only characters a URI may hold (RFC 3986: unreserved, reserved, `%`): no
#: spaces, controls or non-ASCII, which an HTTP client would otherwise quietly re-encode.
ENDPOINT_PATTERN = r"^https://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$"


class PushKeys(BaseModel):
    p256dh: str = Field(
        max_length=88,
        pattern=P256DH_PATTERN,
        description=(
            "The browser's P-256 public key (uncompressed), base64url. It must also be a point of the curve, "
            "which no schema can say: otherwise 422 `push-key-refused`."
        ),
    )
    auth: str = Field(max_length=24, pattern=AUTH_PATTERN, description="The 16-byte auth secret, base64url.")


class PushSubscriptionIn(BaseModel):
    """A browser's `PushSubscription.toJSON()`."""

    model_config = ConfigDict(populate_by_name=True)

    endpoint: str = Field(
        min_length=9,
        max_length=2048,
        pattern=ENDPOINT_PATTERN,
        json_schema_extra={"format": "uri"},
        description=(
            "The push service's URL for this browser. Its host must also resolve to public internet addresses "
            "only, which no schema can say: otherwise 422 `push-endpoint-refused`."
        ),
    )
    expiration_time: int | None = Field(default=None, alias="expirationTime")
    keys: PushKeys


class PushSubscriptionOut(BaseModel):
    id: int
    endpoint: str
    created_at: datetime


class PushUnsubscribeIn(BaseModel):
    #: Any text but NUL (which cannot be stored, so no subscription has it): one not subscribed is a 404.
    endpoint: str = Field(min_length=1, max_length=2048, pattern=NO_NUL)


class VapidPublicKeyOut(BaseModel):
    public_key: str = Field(description="The VAPID `applicationServerKey`: an uncompressed P-256 point, base64url.")
