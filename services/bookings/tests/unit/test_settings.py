"""What prod mode refuses that dev mode allows."""

import pytest
from pydantic import ValidationError

from bookings.config import Settings


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "http://localhost:9000", "https://[::1]", "shop.example"])
def test_outside_dev_the_cancel_link_leads_to_the_shop(url: str) -> None:
    """The dev default is this machine's loopback: in a guest's e-mail that link leads nowhere."""
    assert Settings(app_env="dev", public_url=url).public_url == url
    with pytest.raises(ValidationError, match="BOOKINGS_PUBLIC_URL"):
        Settings(app_env="prod", database_url="postgresql://db/bookings", public_url=url)
    shop = Settings(app_env="prod", database_url="postgresql://db/bookings", public_url="https://shop.example.com")
    assert shop.public_url == "https://shop.example.com"
