from pydantic_settings import BaseSettings


class ShoppingSettings(BaseSettings):
    """Cart, ProductService client and LOMS client settings, read with the CHECKOUT_ prefix."""
