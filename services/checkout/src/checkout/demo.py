"""Dev-mode demo data of checkout; each domain adds its own loader here."""

from __future__ import annotations


async def load_demo_data(database_url: str, env: dict[str, str] | None = None) -> None:
    return None
