"""Cancel tokens: 256 random bits in the link, only their SHA-256 in the database, so a leaked
database copy cannot cancel anybody's booking. No salt is needed: the token itself is random."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_cancel_token() -> tuple[str, bytes]:
    """The token for the link and the digest to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
