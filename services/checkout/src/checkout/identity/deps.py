"""What identity's routes take from the request: the per-process `Identity` (built in `lifespan`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from checkout.identity.lifespan import Identity


def get_identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]

__all__ = ["Identity", "IdentityDep", "get_identity"]
