"""Sends the pending e-mails: address from checkout, content from the templates, out by SMTP."""

from __future__ import annotations

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.domain.delivery import Channel, DeliveryError
from notifications.domain.events import OrderStatusChanged
from notifications.email.render import EmailRenderer, build_message
from notifications.email.smtp import SmtpMailer
from notifications.metrics import NotificationMetrics
from notifications.repositories.deliveries import Claimed
from notifications.users import UserDirectory
from notifications.workers.delivery import DeliveryOptions, DeliveryWorker


class EmailSender(DeliveryWorker):
    channel = Channel.EMAIL

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], metrics: NotificationMetrics,
                 options: DeliveryOptions, *, users: UserDirectory, mailer: SmtpMailer, renderer: EmailRenderer,
                 sender: str) -> None:
        super().__init__(sessionmaker, metrics, options)
        self.users = users
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender

    async def deliver(self, claimed: list[Claimed]) -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            for item in claimed:
                smtp = await self._deliver_one(item, smtp)
        finally:
            if smtp is not None:
                await self.mailer.close(smtp)

    async def _deliver_one(self, item: Claimed, smtp: aiosmtplib.SMTP | None) -> aiosmtplib.SMTP | None:
        """Send one e-mail over the batch's connection (opened on first need); returns the connection."""
        recipient: str | None = None
        try:
            event = OrderStatusChanged.model_validate(item.payload)
            person = await self.users.recipient(item.user_id)
            recipient = person.email
            rendered = self.renderer.render(event, name=person.name)
            message = build_message(rendered, sender=self.sender, recipient=person.email, notification_id=item.id)
            if smtp is None or not smtp.is_connected:
                smtp = await self.mailer.connect()
            await self.mailer.send(smtp, message)
        except DeliveryError as exc:
            await self.settle(item, exc, recipient=recipient)
            return smtp
        except (ValueError, LookupError) as exc:  # a stored event that no longer renders: nothing to retry
            await self.settle(item, DeliveryError(f"cannot render: {exc}", permanent=True), recipient=recipient)
            return smtp
        await self.settle(item, None, recipient=recipient)
        return smtp
