from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from checkout.identity.settings import IdentitySettings
from checkout.shopping.settings import ShoppingSettings
from checkout.web.settings import WebSettings
from shopcommon.settings import ServiceSettings


class Settings(IdentitySettings, ShoppingSettings, WebSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKOUT_", extra="ignore", populate_by_name=True)
    secret_fields: ClassVar[tuple[str, ...]] = ()

    service_name: str = "checkout"
