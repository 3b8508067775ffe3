"""Sending mail through the configured SMTP server (`SMTP_URL`).

`smtp://host:port` speaks plain SMTP and upgrades with STARTTLS when the server offers it;
`smtps://` is TLS from the first byte; `user:password@` in the URL logs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib


class MailNotSent(Exception):
    """The SMTP server refused or failed, said without the address (its refusals name the
    recipient, and the callers log what went wrong: the logs get no address)."""


@dataclass(frozen=True)
class Mailer:
    url: str
    sender: str
    timeout: float = 10.0

    async def send(self, *, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        parts = urlsplit(self.url)
        implicit_tls = parts.scheme == "smtps"
        try:
            await aiosmtplib.send(
                message,
                hostname=parts.hostname or "127.0.0.1",
                port=parts.port or (465 if implicit_tls else 25),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                use_tls=implicit_tls,
                start_tls=None if not implicit_tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            code = getattr(exc, "code", None)
            raise MailNotSent(f"{type(exc).__name__}{f' {code}' if code else ''}") from None
