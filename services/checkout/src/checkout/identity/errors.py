"""Identity's own problems, one class per meaning; each carries its HTTP status and slug."""

from __future__ import annotations

from shopcommon.problems import ProblemError, UnprocessableEntity


class WeakPassword(UnprocessableEntity):
    """A password of the documented shape that the policy still refuses: the rules no JSON Schema
    states (distinct characters, common passwords, the username inside, a deployment's longer
    minimum), so a client can tell them from a malformed request."""

    title, slug = "Password too weak", "weak-password"


class InvalidVerificationToken(ProblemError):
    status, title, slug = 400, "Invalid confirmation token", "invalid-verification-token"
