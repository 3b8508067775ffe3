"""A development mail catcher: SMTP in, Mailpit's HTTP API out.

It answers `GET /api/v1/messages`, `GET /api/v1/message/{ID}` and `DELETE /api/v1/messages` in
Mailpit's shapes, so the checks that run against it here run against Mailpit in Docker Compose.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from fastapi.responses import JSONResponse

log = logging.getLogger("mailcatcher")


class MailStore:
    def __init__(self, limit: int = 5000) -> None:
        self.messages: list[dict[str, Any]] = []
        self.limit = limit

    def add(self, raw: bytes, envelope_from: str, envelope_to: list[str]) -> dict[str, Any]:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        text = text_part.get_content() if text_part is not None else ""
        html = html_part.get_content() if html_part is not None else ""
        from_addrs = getaddresses([str(msg.get("From", envelope_from))])
        to_addrs = getaddresses([str(v) for v in msg.get_all("To", [])]) or [("", a) for a in envelope_to]
        entry = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(msg.get("Message-ID", "")),
            "From": {"Name": from_addrs[0][0], "Address": from_addrs[0][1]} if from_addrs else {},
            "To": [{"Name": n, "Address": a} for n, a in to_addrs],
            "Subject": str(msg.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "Snippet": " ".join(text.split())[:200],
            "Text": text,
            "HTML": html,
            "Size": len(raw),
        }
        self.messages.append(entry)
        del self.messages[: max(0, len(self.messages) - self.limit)]
        return entry


class CatchingHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        entry = self.store.add(content, envelope.mail_from or "", list(envelope.rcpt_tos))
        log.info("caught mail %s to %s: %s", entry["ID"], envelope.rcpt_tos, entry["Subject"])
        return "250 Message accepted for delivery"


_SUMMARY_KEYS = ("ID", "MessageID", "From", "To", "Subject", "Created", "Snippet", "Size")


def create_api(store: MailStore) -> FastAPI:
    api = FastAPI(title="Dev mail catcher (Mailpit-compatible subset)")

    @api.get("/api/v1/messages")
    async def list_messages(start: int = 0, limit: int = 50) -> dict[str, Any]:
        newest_first = list(reversed(store.messages))
        page = newest_first[start : start + limit]
        return {
            "total": len(store.messages),
            "count": len(page),
            "start": start,
            "messages": [{k: m[k] for k in _SUMMARY_KEYS} for m in page],
        }

    @api.get("/api/v1/message/{message_id}")
    async def get_message(message_id: str) -> Any:
        for m in store.messages:
            if m["ID"] == message_id:
                return m
        return JSONResponse({"error": "message not found"}, status_code=404)

    @api.delete("/api/v1/messages")
    async def delete_messages() -> dict[str, str]:
        store.messages.clear()
        return {"status": "ok"}

    @api.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    return api


async def serve(smtp_host: str, smtp_port: int, http_host: str, http_port: int) -> None:
    store = MailStore()
    loop = asyncio.get_running_loop()
    handler = CatchingHandler(store)
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="mailcatcher", enable_SMTPUTF8=True), smtp_host, smtp_port
    )
    log.info("SMTP on %s:%d, HTTP API on %s:%d", smtp_host, smtp_port, http_host, http_port)
    config = uvicorn.Config(create_api(store), host=http_host, port=http_port, log_level="warning", lifespan="off")
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smtp-host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per port probe otherwise
    asyncio.run(serve(args.smtp_host, args.smtp_port, args.http_host, args.http_port))


if __name__ == "__main__":
    main()
