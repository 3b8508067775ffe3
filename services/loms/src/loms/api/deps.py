"""What routes receive: the database, settings, the caller's idempotency scope, `Prefer: wait`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import StringConstraints, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.config import Settings
from loms.db import Db
from loms.services.idempotency import Operation, run_once
from shopcommon.auth import Principal
from shopcommon.idempotency import KEY_RULES, answer_response, idempotency_request
from shopcommon.reading import HeaderParam


async def get_db(request: Request) -> Db:
    db: Db = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Db, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def request_transaction(request: Request) -> AsyncIterator[AsyncConnection]:
    """One transaction per request, committed before the response leaves."""
    async with request.app.state.db.engine.begin() as conn:
        yield conn


async def autocommit_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """Reads without BEGIN/COMMIT round trips."""
    async with request.app.state.db.autocommit.connect() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(request_transaction, scope="function")]
ReadConnDep = Annotated[AsyncConnection, Depends(autocommit_connection, scope="function")]


IDEMPOTENCY_KEY_DOC = (
    "Makes the request safe to retry: scoped to the caller and the route, the same key with the same body "
    "replays the first answer (`Idempotent-Replayed: true`), with a different body answers 422, and while "
    "the first request is still running answers 409."
)
PREFER_DOC = (
    "`wait=N` (RFC 7240, N <= 30 seconds): wait up to N seconds for the reservation outcome and answer with "
    "it; `Preference-Applied: wait=N` confirms. Without it the answer is `new`."
)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_KEY_DOC, **KEY_RULES)]
PreferHeader = Annotated[str | None, Header(alias="Prefer", description=PREFER_DOC)]
# The same two headers for a route that reads its request itself (`shopcommon.reading`).
IDEMPOTENCY_KEY = HeaderParam(
    "Idempotency-Key", TypeAdapter(Annotated[str, StringConstraints(**KEY_RULES)]), IDEMPOTENCY_KEY_DOC
)
PREFER = HeaderParam("Prefer", TypeAdapter(str), PREFER_DOC)

_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,9})\"?\s*$", re.IGNORECASE)


def parse_prefer_wait(values: list[str], limit: int) -> int | None:
    """The `wait` preference in seconds, capped at `limit`; None when absent or malformed
    (RFC 7240: preferences a server does not understand are ignored)."""
    for header in values:
        for preference in header.split(","):
            match = _WAIT.match(preference.split(";", 1)[0])
            if match:
                return min(int(match.group(1)), limit)
    return None


async def prefer_wait(request: Request, prefer: PreferHeader = None) -> int | None:
    return requested_wait(request)


def requested_wait(request: Request) -> int | None:
    settings: Settings = request.app.state.settings
    return parse_prefer_wait(request.headers.getlist("prefer"), settings.max_prefer_wait)


PreferWait = Annotated[int | None, Depends(prefer_wait)]


@dataclass(frozen=True)
class AnsweredOnce:
    """Runs a state change at most once per `Idempotency-Key` and answers with its (maybe
    replayed) result; the route gives its caller, the request it fingerprints, and the change."""

    request: Request
    db: Db
    settings: Settings
    key: str | None

    async def __call__(self, caller: Principal, payload: Any, operation: Operation) -> Response:
        idem = idempotency_request(caller, self.request, self.key, payload)
        stale_after = self.settings.idempotency_stale_after
        return answer_response(await run_once(self.db.engine, idem, operation, stale_after=stale_after))


async def answered_once(request: Request, db: DbDep, settings: SettingsDep, key: IdempotencyKey = None) -> AnsweredOnce:
    return AnsweredOnce(request, db, settings, key)


Once = Annotated[AnsweredOnce, Depends(answered_once)]


def prefer_applied(wait: int | None) -> dict[str, str] | None:
    """RFC 7240: say which `Prefer: wait` was honoured (and that answers vary by it)."""
    return {"Preference-Applied": f"wait={wait}", "Vary": "Prefer"} if wait is not None else None
