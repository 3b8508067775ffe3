"""Sending through SMTP (aiosmtplib), with each failure sorted into retry-later or give-up."""

from __future__ import annotations

from email.message import Message
from urllib.parse import unquote, urlsplit

import aiosmtplib

from notifications.domain.delivery import DeliveryError


class SmtpMailer:
    """One connection per batch of messages; `SMTP_URL` is smtp://[user:pass@]host:port or smtps://."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(f"SMTP_URL must be smtp://, smtps:// or smtp+starttls://, not {parts.scheme!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.use_tls = parts.scheme == "smtps"
        self.start_tls = parts.scheme == "smtp+starttls"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
        )

    async def connect(self) -> aiosmtplib.SMTP:
        smtp = self.client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError("SMTP server unreachable", permanent=False, detail=str(exc)) from exc
        return smtp

    @staticmethod
    async def send(smtp: aiosmtplib.SMTP, message: Message) -> None:
        """Only a recipient refused with a 5xx fails the e-mail for good: that answer is about the
        address. A 5xx to MAIL FROM or DATA (sender refused, authentication required, quota spent,
        policy) is about our account or setup at the server, which an operator mends; retried."""
        try:
            await smtp.send_message(message)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused) as exc:
            refusals = exc.recipients if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) else [exc]
            raise DeliveryError(
                "recipient refused by the mail server",
                permanent=all(r.code >= 500 for r in refusals),
                detail=str(exc),
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"mail server answered {exc.code}", permanent=False, detail=exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError("mail server failure", permanent=False, detail=str(exc)) from exc

    @staticmethod
    async def close(smtp: aiosmtplib.SMTP) -> None:
        try:
            if smtp.is_connected:
                await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
