"""The two ways LOMS talks to its database: transactions, and single autocommit statements
(reads, and writes that are one statement) which save the BEGIN/COMMIT round trips."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Db:
    engine: AsyncEngine
    autocommit: AsyncEngine

    @classmethod
    def of(cls, engine: AsyncEngine) -> Db:
        return cls(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
