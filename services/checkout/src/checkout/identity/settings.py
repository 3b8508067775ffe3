from pydantic_settings import BaseSettings


class IdentitySettings(BaseSettings):
    """Identity settings, read with the CHECKOUT_ prefix."""

    #: Directory of Ed25519 signing keys (PEM, one per kid). Empty in dev: `.data/keys/`, generated.
    jwt_keys_dir: str = ""
    access_token_ttl: int = 900
