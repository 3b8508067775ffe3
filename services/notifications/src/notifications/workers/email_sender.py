"""Sends the pending e-mails, content from the templates, out by SMTP: about an order to the
customer's address (from checkout), about a task to its worker's (from checkout), about a booking
to the address the guest gave with it."""

from __future__ import annotations

import asyncio
import logging

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.domain.delivery import NO_BOOKING_ADDRESS, Channel, DeliveryError, booking_address_problem
from notifications.domain.events import (
    STAFF_ONLY,
    BookingStatusChanged,
    MalformedEvent,
    TaskStatusChanged,
    UnknownEventType,
    parse_document,
)
from notifications.email.render import EmailRenderer, RenderedEmail, build_message
from notifications.email.smtp import SmtpMailer
from notifications.metrics import NotificationMetrics
from notifications.products import ProductNames
from notifications.repositories.deliveries import Claimed
from notifications.users import UserDirectory
from notifications.workers.delivery import DeliveryOptions, DeliveryWorker
from shopcommon.tracing import continuing

log = logging.getLogger(__name__)

SETTLE_EVERY = 10


class EmailSender(DeliveryWorker):
    channel = Channel.EMAIL

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics: NotificationMetrics,
        options: DeliveryOptions,
        *,
        users: UserDirectory,
        products: ProductNames,
        mailer: SmtpMailer,
        renderer: EmailRenderer,
        sender: str,
        connections: int = 4,
    ) -> None:
        super().__init__(sessionmaker, metrics, options)
        self.connections = max(1, connections)
        self.users = users
        self.products = products
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender

    async def deliver(self, claimed: list[Claimed]) -> None:
        # A batch holds at most one e-mail per order or booking and person, so the lanes cannot reorder
        # the e-mails one person gets about an order.
        lanes = [claimed[i :: self.connections] for i in range(self.connections)]
        await asyncio.gather(*(self._deliver_lane(lane) for lane in lanes if lane))

    async def _deliver_lane(self, lane: list[Claimed]) -> None:
        """Send one lane's e-mails in turn over one SMTP connection.

        Accepted e-mails are recorded a few at a time: a crash in between can send those few
        again (SMTP offers no exactly-once), which is the price of not paying a database round
        trip per e-mail.
        """
        smtp: aiosmtplib.SMTP | None = None
        sent: list[tuple[Claimed, str | None]] = []
        try:
            for index, item in enumerate(lane):
                if not self.in_time():
                    await self.release(lane[index:])
                    break
                # In the trace of the request that caused the event (the row keeps its context).
                with continuing("send email", item.traceparent):
                    smtp, recipient, error = await self._send_in_time(item, smtp)
                    if error is None:
                        log.debug("notification %s e-mailed", item.id)
                        sent.append((item, recipient))
                    else:
                        await self.settle(item, error, recipient=recipient)
                if len(sent) >= SETTLE_EVERY:
                    await self.settle_sent(sent)
                    sent = []
        finally:
            await self.settle_sent(sent)
            if smtp is not None:
                await self.mailer.close(smtp)

    async def _send_in_time(
        self, item: Claimed, smtp: aiosmtplib.SMTP | None
    ) -> tuple[aiosmtplib.SMTP | None, str | None, DeliveryError | None]:
        """`_send_one` within what is left of the lease; past it the connection is dropped (in an
        unknown state) and the e-mail retried later."""
        try:
            async with asyncio.timeout(self.time_left()):
                return await self._send_one(item, smtp)
        except TimeoutError:
            if smtp is not None:
                smtp.close()
            return None, None, DeliveryError("no answer within the claim's lease", permanent=False)

    async def _send_one(
        self, item: Claimed, smtp: aiosmtplib.SMTP | None
    ) -> tuple[aiosmtplib.SMTP | None, str | None, DeliveryError | None]:
        """Render and send one e-mail over the lane's connection (opened on first need).

        Only a stored event that no longer renders fails for good here; what sending raises beyond
        the mailer's own verdict (a MAIL_FROM no SMTP command can carry, say) is our setup's fault.
        """
        recipient: str | None = None
        try:
            try:
                recipient, rendered = await self._compose(item)
                message = build_message(rendered, sender=self.sender, recipient=recipient, notification_id=item.id)
            except (ValueError, LookupError, ArithmeticError, MalformedEvent, UnknownEventType) as exc:
                raise DeliveryError("cannot render the message", permanent=True, detail=str(exc)) from exc
            if smtp is None or not smtp.is_connected:
                smtp = await self.mailer.connect()
            await self.mailer.send(smtp, message)
        except DeliveryError as exc:
            return smtp, recipient, exc
        except Exception as exc:  # a fault of ours: retried, and given up like any other failure
            log.exception("notification %s: sending failed unexpectedly", item.id)
            return smtp, recipient, DeliveryError("could not send", permanent=False, detail=repr(exc))
        return smtp, recipient, None

    async def _compose(self, item: Claimed) -> tuple[str, RenderedEmail]:
        """The address and the e-mail; DeliveryError when there is nobody to send it to."""
        event = parse_document(item.payload)
        if isinstance(event, STAFF_ONLY):
            raise DeliveryError(f"{event.type} events are not e-mailed", permanent=True)
        if isinstance(event, BookingStatusChanged):
            problem = booking_address_problem(event)
            if problem is not None or event.email is None:  # the inbox logs these as failed: never due
                raise DeliveryError(problem or NO_BOOKING_ADDRESS, permanent=True)
            return event.email, self.renderer.render_booking(event)
        if item.user_id is None:
            raise DeliveryError("user not found", permanent=True)
        person = await self.users.recipient(item.user_id)
        if isinstance(event, TaskStatusChanged):  # to the worker it is assigned to
            return person.email, self.renderer.render_task(event, name=person.name)
        names = await self.products.of(item.sku for item in event.items)
        return person.email, self.renderer.render(event, name=person.name, products=names)
