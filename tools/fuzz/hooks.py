"""schemathesis hooks for `make fuzz` (loaded through `hooks` in schemathesis.toml).

Two things, each as narrow as it can be; everything else the fuzzer sends and finds stands.

1. The run's own account. The run signs in as the demo manager and keeps that one token for every
   service. The databases are the run's own, so the fuzzer may delete and rewrite everything,
   with one exception: a manager may delete its own account and change its own password without
   the current one, and either would leave the rest of the run signed in as an account that no
   longer exists (or whose sessions ended); every finding after that would be noise. So a DELETE
   or PATCH of `/api/v1/users/{user_id}` naming the caller's own id (`FUZZ_OWN_USER_ID`, in any
   spelling the server would read as that number) is sent to an id no account has instead: the
   request is still made, valid or not, and its answer still checked (a 404 for a valid one).
   Other accounts, the demo ones included, stay fair game. `before_call` sees every request,
   whichever phase made it, so an id learnt from `GET /api/v1/users/me` in a stateful run is
   caught too. A stateful step may follow `POST /api/v1/users` with a DELETE or PATCH that draws
   the run's own id from what it learnt instead of the new account's; sent elsewhere, it answers
   404, which `ensure_resource_availability` would take for the new account missing. That check's
   failure is dropped for a redirected request only (`filter_failure`).

2. Refusals no schema can express. `positive_data_acceptance` expects a schema-valid request to
   be accepted. A few refusals depend on what the server issued or saw before, or on rules no
   JSON Schema can state, not on the request's shape, and are documented answers: a cursor the
   server did not issue (400 `bad-cursor`: a cursor is opaque, signed by the server; a schema can
   bound its length and alphabet but not forge one), an `Idempotency-Key` first used with another body (422
   `idempotency-key-reused`, by contract), and a booking's or a price's time that the clock refuses
   (bookings' 422 `time-refused`: a booking starts in the future, within a year, and lasts 30 minutes
   to 8 hours; a price does not start in the past; no schema can state "after now", nor compare two
   fields, and a random date-time is almost never bookable), and a push endpoint notifications will
   not push to (422 `push-endpoint-refused`: its host must resolve, now and at each send, to public
   addresses only; a schema can say "an https URI" but not where its host resolves, and a generated
   host never resolves), a push key of the documented shape that is not a point of the P-256 curve
   (422 `push-key-refused`: a schema can state its length and alphabet, not the curve's equation),
   a password of the documented shape that checkout's policy refuses (422
   `weak-password`: the schema states the length floor, but "4 different characters", "not a common
   password" and "not containing the username" are no JSON Schema), an email-confirmation
   token checkout did not issue (400 `invalid-verification-token`: server-issued, like a cursor),
   and order lines LOMS cannot merge (422 `items-not-mergeable`: lines naming the same sku become
   one line, so their counts must add up to at most 65535 and their prices agree; a schema bounds
   each line's count, not a sum across the lines that name one sku), and a task handed to a user
   who is not an active worker (422 `not-an-active-worker`: who works here is checkout's roster
   at that moment, not the request's shape).
   Only that one check's failure is dropped, and only for a problem answer of exactly that status
   and type; every other check still runs on those responses. schemathesis counts what is dropped
   in its summary ("dropped by filter_failure").
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis

#: Operations that could delete or take over the run's own account.
GUARDED = {("DELETE", "/api/v1/users/{user_id}"), ("PATCH", "/api/v1/users/{user_id}")}
#: An id no account has in a throwaway database, and within any id range a document declares
#: (int32, 2^53-1 or int64), so the replaced request stays as valid or invalid as it was.
NO_SUCH_USER = 2**31 - 1

PROBLEM_TYPES = "https://shop.example/problems/"
#: (status, problem type) of refusals that depend on server state or on rules no schema can state,
#: not on the request's shape.
SEMANTIC_REFUSALS = {
    (400, PROBLEM_TYPES + "bad-cursor"),
    (422, PROBLEM_TYPES + "idempotency-key-reused"),
    (422, PROBLEM_TYPES + "time-refused"),
    (422, PROBLEM_TYPES + "push-endpoint-refused"),
    (422, PROBLEM_TYPES + "push-key-refused"),
    (422, PROBLEM_TYPES + "weak-password"),
    (400, PROBLEM_TYPES + "invalid-verification-token"),
    (422, PROBLEM_TYPES + "items-not-mergeable"),
    (422, PROBLEM_TYPES + "not-an-active-worker"),
}


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


def problem_type(response: Any) -> str | None:
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


def redirected(case: Any) -> bool:
    """Whether `before_call` sent this request to `NO_SUCH_USER` instead of the run's own account."""
    guarded = (case.method.upper(), case.path) in GUARDED
    return guarded and (case.path_parameters or {}).get("user_id") == NO_SUCH_USER


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False drops the failure: `ensure_resource_availability` on a request `before_call` redirected,
    and `positive_data_acceptance` on a refusal listed above."""
    kind = type(failure).__name__
    if kind == "EnsureResourceAvailability":
        return not redirected(case)
    if kind != "RejectedPositiveData":
        return True
    return (response.status_code, problem_type(response)) not in SEMANTIC_REFUSALS
