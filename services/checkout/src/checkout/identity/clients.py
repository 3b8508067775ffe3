"""The services allowed to take `service` tokens (client-credentials grant), and their secrets."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from shopcommon.devsecrets import dev_secret
from shopcommon.settings import is_placeholder


@dataclass(frozen=True)
class ServiceClients:
    secrets: dict[str, str]

    @classmethod
    def parse(cls, spec: str, *, dev: bool) -> ServiceClients:
        """`"notifications:<secret>,loms:<secret>"`; in dev a bare name gets its dev secret.

        Outside dev a missing or placeholder secret refuses startup."""
        secrets: dict[str, str] = {}
        for item in spec.split(","):
            name, _, secret = item.strip().partition(":")
            name, secret = name.strip(), secret.strip()
            if not name:
                continue
            if not secret and dev:
                secret = dev_secret(f"client-{name}")
            if not dev and is_placeholder(secret):
                raise RuntimeError(
                    f"CHECKOUT_SERVICE_CLIENTS: client {name!r} needs a real secret outside dev mode "
                    "(at least 12 characters, not a placeholder)"
                )
            secrets[name] = secret
        return cls(secrets)

    def authenticate(self, client_id: str, client_secret: str) -> bool:
        expected = self.secrets.get(client_id)
        # Compared even for an unknown client, so the answer takes the same time either way.
        ok = hmac.compare_digest((expected or "\0").encode(), client_secret.encode())
        return ok and expected is not None
