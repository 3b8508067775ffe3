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


async def test_a_page_that_is_not_the_catalogues_names_nothing_and_fails_no_email() -> None:
    """A proxy's error page sent with 200 raised out of the lookup, and the e-mail failed for good
    as one that cannot be rendered."""

    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>502 Bad Gateway</html>", headers={"content-type": "text/html"})

    for answer in (proxy, lambda request: httpx.Response(200, json={"items": [{"name": "no sku"}]})):
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            names = ProductNames(http, "http://catalogue.example")
            assert await names.of([1001]) == {}
