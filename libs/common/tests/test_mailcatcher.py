"""The dev mail catcher answers as Mailpit's API does."""

import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx

from shopcommon.testing.plugin import Stack


def send(stack: Stack, subject: str, text: str, html: str | None = None) -> None:
    msg = EmailMessage()
    msg["From"] = "Shop <shop@shop.example>"
    msg["To"] = "Josh <josh@shop.example>"
    msg["Subject"] = subject
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    smtp = urlsplit(stack.urls.smtp_url)
    with smtplib.SMTP(smtp.hostname or "127.0.0.1", smtp.port or 25) as client:
        client.send_message(msg)


async def test_caught_mail_is_listed_newest_first_and_readable(shop_stack: Stack) -> None:
    api = shop_stack.urls.mail_api_url
    async with httpx.AsyncClient(base_url=api) as client:
        await client.delete("/api/v1/messages")
        send(shop_stack, "first", "one")
        send(shop_stack, "Order 42 paid", "Your order 42 is paid.", "<p>Your order <b>42</b> is paid.</p>")
        listing = (await client.get("/api/v1/messages")).json()
        assert listing["total"] == 2
        newest = listing["messages"][0]
        assert newest["Subject"] == "Order 42 paid"
        assert newest["To"] == [{"Name": "Josh", "Address": "josh@shop.example"}]
        assert newest["From"]["Address"] == "shop@shop.example"
        full = (await client.get(f"/api/v1/message/{newest['ID']}")).json()
        assert "Your order 42 is paid." in full["Text"] and "<b>42</b>" in full["HTML"]
        await client.delete("/api/v1/messages")
        assert (await client.get("/api/v1/messages")).json()["total"] == 0
