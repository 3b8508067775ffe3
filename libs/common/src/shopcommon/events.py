"""The envelope every event on the shop's topics carries (CONTRACT.md, asyncapi/events.yaml)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


def envelope(event_type: str, occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    """An event: a new `event_id` (consumers deduplicate on it), its `type`, when it happened (ISO
    8601 with its offset), then its own fields in the order given."""
    return {"event_id": str(uuid.uuid4()), "type": event_type, "occurred_at": occurred_at.isoformat(), **fields}
