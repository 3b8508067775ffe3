"""Mail that an SMTP server refuses fails without naming its address (the callers log the failure)."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from checkout.identity.mailer import Mailer, MailNotSent
from shopcommon.devstack.servers import free_port

#: Spelled in two parts so that no line of this file (which a traceback quotes) holds it whole.
ADDRESS = "private.person" + "@example.org"


class RefusesEveryone:
    """An SMTP relay (outside the system) that refuses every recipient, as one does an unknown mailbox."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 <" + address + "> no such mailbox"


async def test_a_refused_recipient_is_said_without_the_address(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    relay = Controller(RefusesEveryone(), hostname="127.0.0.1", port=port)
    relay.start()
    try:
        mailer = Mailer(f"smtp://127.0.0.1:{port}", "shop@shop.example", timeout=5)
        with pytest.raises(MailNotSent) as refused:
            await mailer.send(to=ADDRESS, subject="Your code", text="123456")
    finally:
        relay.stop()
    assert "SMTPRecipientsRefused" in str(refused.value)
    with caplog.at_level(logging.ERROR, logger="shop.test"):
        logging.getLogger("shop.test").exception("could not send", exc_info=refused.value)
    ours = [logging.Formatter().format(r) for r in caplog.records if r.name == "shop.test"]  # not the relay's own
    written = "".join(ours) + "".join(traceback.format_exception(refused.value))
    assert "could not send" in written
    assert "private.person" not in written, written
