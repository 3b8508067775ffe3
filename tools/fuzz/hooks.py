"""schemathesis hooks for `make fuzz` (loaded through `hooks` in schemathesis.toml).

The run signs in as the demo manager and keeps that one token for every service. Nothing else is
excluded: the databases are the run's own, so the fuzzer may delete and rewrite everything else,
the demo manager's account is the one exception. A manager may delete its own account and change
its own password without the current one; either would leave the later requests of the run
signed in as an account that no longer exists (or whose sessions ended), and every finding after
that would be noise. So a DELETE or PATCH of `/api/v1/users/{user_id}` that names the caller's own
id (`FUZZ_OWN_USER_ID`, in any spelling the server would parse as that number) is sent to an id
no account has instead: the request is still made, valid or not, and its answer still checked
(a 404 for a valid one). Other managers, customers and workers, demo ones included, stay fair game.

Every request goes through `before_call`, whichever phase made it (examples, coverage, fuzzing,
stateful), so an id learnt from `GET /api/v1/users/me` in a stateful run is caught too.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis

#: Operations that could delete or take over the run's own account.
GUARDED = {("DELETE", "/api/v1/users/{user_id}"), ("PATCH", "/api/v1/users/{user_id}")}
#: The largest id the document allows (`le=2**63-1`), which no account has in a throwaway database.
NO_SUCH_USER = 2**63 - 1


def own_user_id() -> int | None:
    value = os.environ.get("FUZZ_OWN_USER_ID", "")
    return int(value) if value else None


def denotes(value: Any, user_id: int) -> bool:
    """Whether a path parameter, however spelt ("7", " +7", "07", "7.0", 7), reads as `user_id`."""
    if isinstance(value, bool):
        return False
    try:
        return Decimal(str(value).strip()) == user_id
    except (InvalidOperation, ValueError):
        return False


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    user_id = own_user_id()
    if user_id is None or (case.method.upper(), case.path) not in GUARDED:
        return
    params = case.path_parameters or {}
    if denotes(params.get("user_id"), user_id):
        case.path_parameters = {**params, "user_id": NO_SUCH_USER}
