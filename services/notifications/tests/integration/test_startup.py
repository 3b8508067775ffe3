"""Starting up: what prod mode refuses that dev mode allows."""

from collections.abc import Callable

import pytest
from py_vapid import Vapid02
from pydantic import ValidationError

from notifications.config import Settings
from notifications.main import create_app
from shopcommon.settings import is_placeholder


def prod_secrets() -> dict[str, str]:
    while True:  # a random key may, once in a long while, look like a placeholder
        vapid = Vapid02()
        vapid.generate_keys()
        key = vapid.private_pem().decode()
        if not is_placeholder(key):
            return {"client_secret": "Kq7Wm2Zr9Lx4Bv8Tn3Hc", "vapid_private_key": key,
                    "public_url": "https://shop.example.com"}  # fmt: skip


@pytest.mark.parametrize("env", ["prod", "dev"])
async def test_outside_dev_smtp_url_has_no_default(settings_for: Callable[..., Settings], env: str) -> None:
    app = create_app(settings_for(app_env=env, smtp_url="", consumer_enabled=False, **prod_secrets()))
    if env == "prod":
        with pytest.raises(RuntimeError, match="SMTP_URL"):
            async with app.router.lifespan_context(app):
                pass
    else:
        async with app.router.lifespan_context(app):
            assert app.state.smtp_url == "smtp://127.0.0.1:1025"


async def test_in_prod_the_configured_smtp_url_is_used(settings_for: Callable[..., Settings]) -> None:
    app = create_app(
        settings_for(app_env="prod", smtp_url="smtps://mail.example.com:465", consumer_enabled=False, **prod_secrets())
    )
    async with app.router.lifespan_context(app):
        assert app.state.smtp_url == "smtps://mail.example.com:465"


def test_push_networks_exempt_from_the_public_rule_are_refused_outside_dev(
    settings_for: Callable[..., Settings],
) -> None:
    assert settings_for(app_env="dev", push_allowed_networks="127.0.0.1/32").push_allowed_networks
    with pytest.raises(ValidationError, match="PUSH_ALLOWED_NETWORKS"):
        settings_for(app_env="prod", push_allowed_networks="127.0.0.1/32", **prod_secrets())
    with pytest.raises(ValidationError, match="not an IP network"):
        settings_for(app_env="dev", push_allowed_networks="10.0.0.0/8,intranet")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]/", "shop.example.com", ""]
)
def test_outside_dev_the_links_e_mails_carry_lead_to_the_shop(settings_for: Callable[..., Settings], url: str) -> None:
    """Not to this machine's loopback, the dev default: every order e-mail's link would lead nowhere."""
    assert settings_for(app_env="dev", public_url=url).public_url == url
    with pytest.raises(ValidationError, match="SHOP_PUBLIC_URL"):
        settings_for(app_env="prod", **{**prod_secrets(), "public_url": url})
