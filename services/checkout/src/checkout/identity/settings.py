from pydantic_settings import BaseSettings


class IdentitySettings(BaseSettings):
    """Identity settings, read with the CHECKOUT_ prefix."""
