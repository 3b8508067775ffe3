"""How an operation's document says who may call it: its `x-roles`, and the refusals a token brings.

A route spreads `**WRITERS.doc(404, 409)` into its decorator. The operation then names who may call
it and every problem it answers with; where a token is needed that includes 401 (no token, or a bad
one) and 403 (a token of another role, or a service's without the scope): the dependency that
checks the token gives those answers, so the access rule documents them, not each route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopcommon.problems import problem_responses
from shopcommon.roles import Role, Scope

__all__ = ["PUBLIC", "TOKEN_REFUSALS", "Access", "access"]

#: What checking a bearer token can answer before the operation runs.
TOKEN_REFUSALS = (401, 403)


@dataclass(frozen=True)
class Access:
    """Who may call an operation (`x-roles`, as readers see them) and the refusals that follow."""

    roles: tuple[str, ...]
    refusals: tuple[int, ...] = ()
    #: More of the operation's document (say, `security` where a token is optional).
    extra: Mapping[str, Any] = field(default_factory=dict)

    def doc(
        self, *statuses: int, extra: Mapping[str, Any] | None = None, answers: Mapping[int | str, Any] | None = None
    ) -> dict[str, Any]:
        """`openapi_extra` and `responses` for a route decorator: problems with `statuses` and this
        access's refusals, then `answers` described in full; `extra` goes into the operation."""
        problems = problem_responses(*sorted({*self.refusals, *statuses}))
        return {
            "openapi_extra": {"x-roles": list(self.roles), **self.extra, **(extra or {})},
            "responses": {**problems, **(answers or {})},
        }


#: No token needed.
PUBLIC = Access(("public",))


def access(*roles: Role | str, scope: Scope | None = None) -> Access:
    """An operation for token holders of `roles` (free-text roles say what they are limited to, as
    `customer (own orders)`); a service caller is listed with the scope it needs, as
    `service (orders:write)`."""
    if Role.SERVICE in roles and scope is None:
        raise TypeError("an operation open to services must name the scope they need")
    if not roles:
        return PUBLIC
    return Access(tuple(f"{r} ({scope})" if r == Role.SERVICE else str(r) for r in roles), TOKEN_REFUSALS)
