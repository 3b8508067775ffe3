from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def shopping_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
