"""E-mails from Jinja2 templates, one pair (plain text and HTML) per order status and per booking
status, and one for a worker's newly assigned task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.domain.events import BookingStatusChanged, Event, OrderStatusChanged, TaskStatusChanged
from notifications.domain.messages import (
    cancel_reason_text,
    cancelled_by_text,
    format_amount,
    subject_for,
)
from shopcommon.statuses import TaskStatus
from shopcommon.time_text import time_window


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer:
    def __init__(self, public_url: str, *, booking_zone: tzinfo | None = None) -> None:
        """`booking_zone`: where booking times are shown (the restaurant's); None keeps the offset
        the event gives them in."""
        self.public_url = public_url.rstrip("/")
        self.booking_zone = booking_zone
        self.env = Environment(
            loader=PackageLoader("notifications.email", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.globals["amount"] = format_amount

    def render(
        self, event: OrderStatusChanged, *, name: str = "", products: Mapping[int, str] | None = None
    ) -> RenderedEmail:
        """`products`: sku -> name, for the items the catalogue could name (the others show their sku)."""
        status = event.known_status
        if status is None:
            raise LookupError(f"no e-mail template for status {event.status!r}")
        return self._rendered(
            "order_" + status.value.replace(" ", "_"),
            event=event,
            name=name,
            products=products or {},
            order_url=f"{self.public_url}/orders/{event.order_id}",
            deadline=_deadline_text(event.payment_deadline),
            cancel_reason=cancel_reason_text(event.reason),
        )

    def render_booking(self, event: BookingStatusChanged) -> RenderedEmail:
        """The guest's e-mail; the first (`pending`) carries the cancel link when the event has it."""
        status = event.known_status
        if status is None:
            raise LookupError(f"no e-mail template for booking status {event.status!r}")
        return self._rendered(
            f"booking_{status.value}",
            event=event,
            window=time_window(event.starts_at, event.ends_at, self.booking_zone),
            cancelled_by=cancelled_by_text(event.cancelled_by),
        )

    def render_task(self, event: TaskStatusChanged, *, name: str = "") -> RenderedEmail:
        """The worker's e-mail about a task assigned to them (the only task status e-mailed)."""
        if event.known_status != TaskStatus.ASSIGNED:
            raise LookupError(f"no e-mail template for task status {event.status!r}")
        return self._rendered("task_assigned", event=event, name=name, tasks_url=f"{self.public_url}/tasks")

    def _rendered(self, template: str, *, event: Event, **context: Any) -> RenderedEmail:
        """The text and HTML forms of `template` about `event`, which gives the subject."""
        subject = subject_for(event)
        context.update(event=event, subject=subject)
        text = self.env.get_template(f"{template}.txt.j2").render(context)
        html = self.env.get_template(f"{template}.html.j2").render(context)
        return RenderedEmail(subject=subject, text=text, html=html)


def _deadline_text(deadline: datetime | None) -> str:
    if deadline is None:
        return "the payment deadline"
    return deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_message(rendered: RenderedEmail, *, sender: str, recipient: str, notification_id: int) -> MIMEMultipart:
    """A multipart/alternative message (plain text first, then HTML).

    Built with the classic `email.mime` classes: the modern `EmailMessage` API re-parses every
    header it is given, which was most of the CPU an e-mail cost.
    """
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject if rendered.subject.isascii() else Header(rendered.subject, "utf-8").encode()
    message["Date"] = format_datetime(datetime.now(UTC))
    # One Message-ID per notification: a resend after a crash is recognisable as the same mail.
    message["Message-ID"] = f"<notification-{notification_id}@notifications.shop>"
    message.attach(MIMEText(rendered.text, "plain", "utf-8"))
    message.attach(MIMEText(rendered.html, "html", "utf-8"))
    return message
