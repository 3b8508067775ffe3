"""Dev-mode demo data of checkout; each domain adds its own loader here."""

from __future__ import annotations

from checkout.identity.demo import load_identity_demo


async def load_demo_data(database_url: str, env: dict[str, str] | None = None) -> None:
    await load_identity_demo(database_url, env)
