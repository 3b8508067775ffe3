"""Product names for the e-mails: with product-stub away, the e-mail names skus at once (the
catalogue's answers themselves are checked end to end, tests/e2e/test_notifications_flow.py)."""

import time

import httpx

from notifications.products import ProductNames
from shopcommon.devstack.servers import free_port


async def test_with_the_catalogue_away_nothing_is_named_and_nothing_is_remembered() -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        names = ProductNames(http, f"http://127.0.0.1:{free_port()}")
        started = time.monotonic()
        assert await names.of([1001, 1002]) == {}
        assert time.monotonic() - started < 2.0
        assert not names._cache  # the next e-mail asks again


async def test_remembered_names_are_not_asked_again_and_unlisted_skus_stay_unnamed() -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        names = ProductNames(http, f"http://127.0.0.1:{free_port()}", cache_seconds=60)
        names._remember(1001, "Fender Stratocaster", time.monotonic())
        names._remember(1002, None, time.monotonic())  # the catalogue no longer lists it
        assert await names.of([1001, 1002]) == {1001: "Fender Stratocaster"}
