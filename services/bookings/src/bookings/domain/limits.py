"""Who a public booking request is counted against: its client address and its e-mail address.

Pure: the API layer passes what it read from the request. Subjects are stored as digests only,
so the counting table holds neither addresses nor e-mail addresses."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

#: IPv6 clients are counted per /64: one subscriber usually holds a whole /64.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Bucket:
    """One limited dimension of a request: at most `limit` requests in `window` seconds."""

    scope: str
    subject: str
    limit: int
    window: int

    @property
    def key(self) -> str:
        return f"{self.scope}:{hashlib.sha256(self.subject.encode()).hexdigest()[:40]}"


def client_subject(host: str | None) -> str:
    """The client as the per-address limit counts it: an IPv4 address (an IPv4-mapped IPv6 one as
    IPv4), an IPv6 /64, or the raw value (a unix socket, a test client's name)."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        return host.strip().lower()[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def email_subject(email: str) -> str:
    """One mailbox, however it is spelled: case folded and a `+tag` dropped (`Anna+1@Example.com`
    and `anna@example.com` reach the same person, who is who the limit protects)."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"


def request_buckets(
    *, client: str | None, email: str | None, per_ip: int, ip_window: int, per_email: int, email_window: int
) -> list[Bucket]:
    """The buckets of one public request (a limit of 0 is off)."""
    buckets = [Bucket("ip", client_subject(client), per_ip, ip_window)]
    if email:
        buckets.append(Bucket("email", email_subject(email), per_email, email_window))
    return [b for b in buckets if b.limit > 0]
