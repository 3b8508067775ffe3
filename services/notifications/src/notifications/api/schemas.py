from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    id: int
    event_id: uuid.UUID
    order_id: int
    order_status: str = Field(description="The order status the notification tells of (wire spelling).")
    channel: str = Field(description="`email` or `push`.")
    status: str = Field(description="`pending` (being sent or waiting to retry), `sent` or `failed` (for good).")
    subject: str
    recipient: str | None = Field(description="The address e-mailed, or the push service's host.")
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200, description="The browser's P-256 public key, base64url.")
    auth: str = Field(min_length=1, max_length=100, description="The 16-byte auth secret, base64url.")


class PushSubscriptionIn(BaseModel):
    """A browser's `PushSubscription.toJSON()`."""

    model_config = ConfigDict(populate_by_name=True)

    endpoint: str = Field(min_length=8, max_length=2048)
    expiration_time: int | None = Field(default=None, alias="expirationTime")
    keys: PushKeys


class PushSubscriptionOut(BaseModel):
    id: int
    endpoint: str
    created_at: datetime


class PushUnsubscribeIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=2048)


class VapidPublicKeyOut(BaseModel):
    public_key: str = Field(description="The VAPID `applicationServerKey`: an uncompressed P-256 point, base64url.")
