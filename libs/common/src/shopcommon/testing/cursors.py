"""Cursors a client might make up: any JSON, encoded the way `shopcommon.pagination` encodes a position."""

from __future__ import annotations

import base64
import json
from typing import Any


def forged_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
