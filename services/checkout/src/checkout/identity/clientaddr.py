"""Who the client is, for rate limits: the one place checkout decides it.

The direct peer is the client unless it is a trusted proxy (`FORWARDED_ALLOW_IPS`, the variable
uvicorn reads, with uvicorn's meaning: comma-separated IPs or CIDRs, `*` for any). Behind a
trusted proxy the client is the rightmost `X-Forwarded-For` entry that is not itself a trusted
proxy: every proxy appends the peer it saw, so entries to the left of the first untrusted one are
whatever the client chose to send, and never believed. When every entry is trusted the leftmost
is taken, as uvicorn does.

uvicorn (`--proxy-headers`, its default) may already have rewritten the peer with the same rule.
Applying the rule again to its result changes nothing when both read the same trusted set: its
answer is either an untrusted address (so the header is not read again) or the leftmost entry
(which the rule picks again). Deployments set `FORWARDED_ALLOW_IPS` once, for both.

IPv6 clients are counted per /64: one subscriber usually holds a whole /64 and can pick a fresh
address from it for every request. IPv4-mapped IPv6 peers count as their IPv4 address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from starlette.requests import Request

from shopcommon.http import header_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_PREFIX = 64
UNKNOWN = "unknown"


def _host_of(entry: str) -> str:
    """A forwarded entry without its port: `1.2.3.4:80` and `[2001:db8::1]:80` as uvicorn reads them."""
    entry = entry.strip()
    if entry.startswith("["):
        end = entry.find("]")
        return entry[1:end] if end != -1 else entry
    if entry.count(":") == 1:
        return entry.rsplit(":", 1)[0]
    return entry


def _parse_ip(host: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class TrustedProxies:
    any_peer: bool = False
    hosts: frozenset[IPAddress] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    literals: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, spec: str) -> TrustedProxies:
        items = [item.strip() for item in spec.split(",") if item.strip()]
        if "*" in items:
            return cls(any_peer=True)
        hosts: set[IPAddress] = set()
        networks: list[IPNetwork] = []
        literals: set[str] = set()
        for item in items:
            try:
                if "/" in item:
                    networks.append(ipaddress.ip_network(item, strict=False))
                else:
                    hosts.add(ipaddress.ip_address(item))
            except ValueError:
                literals.add(item)  # e.g. a unix socket path, as uvicorn allows
        return cls(hosts=frozenset(hosts), networks=tuple(networks), literals=frozenset(literals))

    def trusts(self, host: str) -> bool:
        if self.any_peer:
            return True
        ip = _parse_ip(host)
        if ip is None:
            return host in self.literals
        return ip in self.hosts or any(ip in net for net in self.networks)

    def client_host(self, peer: str | None, forwarded_for: list[str]) -> str | None:
        """The client's host as the rule above finds it (None when there is no peer)."""
        if peer is None or not forwarded_for or not self.trusts(peer):
            return peer
        entries = [e for e in (_host_of(part) for value in forwarded_for for part in value.split(",")) if e]
        if not entries:
            return peer
        if self.any_peer:
            return entries[0]
        for entry in reversed(entries):
            if not self.trusts(entry):
                return entry
        return entries[0]

    def client_address(self, request: Request) -> str:
        """The rate-limit key of the caller: an IPv4 address, an IPv6 /64, or the raw value."""
        peer = request.client.host if request.client else None
        host = self.client_host(peer, request.headers.getlist("x-forwarded-for"))
        return rate_limit_key(host)


def rate_limit_key(host: str | None) -> str:
    if not host:
        return UNKNOWN
    ip = _parse_ip(host)
    if ip is None:
        # A name (a test client, a socket, RFC 7239's `unknown` or `_hidden`) stays itself; it also
        # travels on to bookings in a header, so only what a header can carry does.
        return header_text(host.strip().lower(), 100) or UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)
