"""Shopping settings: the ProductService token is a secret outside dev; URLs come from SHOP_*_URL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from checkout.config import Settings


def test_prod_refuses_the_dev_product_token() -> None:
    with pytest.raises(ValidationError, match="CHECKOUT_PRODUCT_TOKEN"):
        Settings(app_env="prod", database_url="postgresql://db/checkout", product_token="testtoken")


def test_prod_accepts_a_real_product_token() -> None:
    settings = Settings(app_env="prod", database_url="postgresql://db/checkout", product_token="k3Y-9fQ2-vLx7-Wm4p")
    assert settings.product_token == "k3Y-9fQ2-vLx7-Wm4p"


def test_service_urls_come_from_the_shared_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_LOMS_URL", "http://loms.internal:9001")
    monkeypatch.setenv("SHOP_PRODUCT_STUB_URL", "http://products.internal:9003")
    monkeypatch.setenv("CHECKOUT_PRODUCT_RATE_LIMIT_RPS", "4.5")
    settings = Settings()
    assert (settings.loms_url, settings.product_stub_url) == (
        "http://loms.internal:9001",
        "http://products.internal:9003",
    )
    assert settings.product_rate_limit_rps == 4.5
