"""Which failures of sending an e-mail are retried: only a recipient the mail server refuses for
good fails it for good. A refused sender, a demand to log in, a spent quota or a refused DATA is
about our account or our setup, which the operator mends; those e-mails go out once it is mended."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.mime.text import MIMEText

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from notifications.config import Settings
from notifications.domain.delivery import DeliveryError
from notifications.email.smtp import SmtpMailer
from notifications.testing.events import order_event, produce
from notifications.testing.mail import wait_for_messages
from shopcommon.devstack.servers import free_port
from shopcommon.testing.plugin import Stack

from ..conftest import Checkout, eventually, query, running


class Relay:
    """A mail server outside the system that answers `command` (MAIL, RCPT or DATA) with `reply`
    the first `times` times, and otherwise takes the mail."""

    def __init__(self, command: str, reply: str, times: int = 1) -> None:
        self.command = command
        self.reply = reply
        self.times = times
        self.taken: list[Envelope] = []

    def refuses(self, command: str) -> bool:
        if command != self.command or self.times <= 0:
            return False
        self.times -= 1
        return True

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuses("MAIL"):
            return self.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuses("RCPT"):
            return self.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuses("DATA"):
            return self.reply
        self.taken.append(envelope)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def serving(relay: Relay) -> AsyncIterator[str]:
    """The relay on a port of its own; its SMTP_URL."""
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        await asyncio.to_thread(controller.stop)


@pytest.mark.parametrize(
    ("command", "reply", "permanent"),
    [
        ("MAIL", "550 5.4.5 Daily sending quota exceeded", False),
        ("MAIL", "530 5.7.0 Authentication required", False),
        ("MAIL", "553 5.7.1 Sender address rejected: not owned by user", False),
        ("DATA", "554 5.7.1 Message refused by policy", False),
        ("RCPT", "450 4.2.1 Mailbox busy, try later", False),
        ("RCPT", "550 5.1.1 No such mailbox", True),
    ],
    ids=["quota", "auth", "sender", "data", "recipient-busy", "recipient-unknown"],
)
async def test_only_a_recipient_refused_for_good_fails_the_email_for_good(
    command: str, reply: str, permanent: bool
) -> None:
    message = MIMEText("Hello")
    message["From"], message["To"], message["Subject"] = "orders@shop.example", "nora@example.test", "Order 1"
    async with serving(Relay(command, reply)) as url:
        mailer = SmtpMailer(url, timeout=5)
        smtp = await mailer.connect()
        try:
            with pytest.raises(DeliveryError) as refused:
                await mailer.send(smtp, message)
        finally:
            await mailer.close(smtp)
    assert refused.value.permanent is permanent
    assert reply.partition(" ")[2] in (refused.value.detail or "")  # the server's answer, for the log


async def test_an_email_the_mail_server_refused_for_its_sender_goes_out_on_a_later_try(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """Our account's daily quota at the relay was spent: every e-mail of the day failed for good."""
    customer = await checkout.register_customer()
    relay = Relay("MAIL", "550 5.4.5 Daily sending quota exceeded")
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(20_101, customer.id, "paid")])
    async with serving(relay) as url, running(settings_for(loms_events_topic=topic, smtp_url=url)):
        sent = await eventually(
            lambda: query(
                notifications_db,
                "SELECT attempts, last_error FROM notifications WHERE order_id = 20101 AND status <> 'pending'",
            )
        )
    assert [(r.attempts, r.last_error) for r in sent] == [(2, None)]
    assert [e.rcpt_tos for e in relay.taken] == [[customer.email]]
    assert b"Subject: Order 20101 is paid" in bytes(relay.taken[0].original_content or b"")


async def test_emails_wait_while_the_configured_sender_is_unusable_and_go_out_once_it_is_mended(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """A MAIL_FROM no SMTP command can carry was taken for a message that cannot be rendered."""
    customer = await checkout.register_customer()
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(20_102, customer.id, "paid")])
    async with running(settings_for(loms_events_topic=topic, mail_from="Shop orders@shop.example")):
        failing = await eventually(
            lambda: query(
                notifications_db,
                "SELECT last_error FROM notifications WHERE order_id = 20102 AND status = 'pending' AND attempts >= 2",
            )
        )
    assert failing[0].last_error == "could not send"
    async with running(settings_for(loms_events_topic=topic, consumer_enabled=False)):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1, settle=0.5)
    assert [m["Subject"] for m in mails] == ["Order 20102 is paid"]
    rows = await query(notifications_db, "SELECT status FROM notifications WHERE order_id = 20102")
    assert [r.status for r in rows] == ["sent"]
