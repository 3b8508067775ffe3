"""Where a web push may go: an `https` endpoint on a host with public addresses only.

The check runs twice: when a browser subscribes (a clear 422), and on every connection the push
client opens (DNS may have changed since). The second is the one that protects: the HTTP client
connects through `GuardedNetworkBackend`, which resolves the host once, refuses it unless every
address is public, and connects to an address it checked. The TLS handshake (SNI, certificate
check) and the `Host` header still use the host name, so DNS rebinding gains nothing and a
certificate for the name is still required.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import httpcore
import httpx

from notifications.domain.addresses import IPAddress, is_public_address

#: Browsers' push endpoints are a few hundred characters; anything this long is not one.
MAX_ENDPOINT_LENGTH = 2048
NOT_PUBLIC = "the endpoint's host must resolve to public internet addresses only"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

#: host, port -> the addresses to connect to.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


class EndpointRefused(ValueError):
    """A push endpoint this service will not send to; the message is fit to show the client."""


class UnresolvableHost(OSError):
    """The endpoint's host has no address right now (maybe for a while only)."""


class ForbiddenDestination(EndpointRefused):
    def __init__(self, host: str, addresses: Iterable[IPAddress]) -> None:
        super().__init__(NOT_PUBLIC)
        self.host = host
        self.addresses = tuple(addresses)


@dataclass(frozen=True)
class PushEndpoint:
    url: str
    host: str
    port: int
    #: Set when the URL names an IP address rather than a host name.
    address: IPAddress | None


def parse_push_endpoint(url: str) -> PushEndpoint:
    """The endpoint as the HTTP client will read it; EndpointRefused when it cannot be one."""
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise EndpointRefused(f"must be at most {MAX_ENDPOINT_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
        port = 443 if parsed.port is None else parsed.port
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as exc:
        raise EndpointRefused("is not a valid URL") from exc
    if parsed.scheme != "https":
        raise EndpointRefused("must be an https URL")
    if parsed.userinfo:
        raise EndpointRefused("must not carry a user name or password")
    if not host:
        raise EndpointRefused("has no host")
    if not 0 < port < 65536:
        raise EndpointRefused("has a port out of range")
    address = _ip_literal(host)
    if address is not None and address.version == 6:
        # VAPID's audience claim cannot name one (py_vapid refuses it), and no push service uses one.
        raise EndpointRefused("must name its host, not an IPv6 address")
    if address is None and not _is_host_name(host):
        raise EndpointRefused("has a host that is neither a host name nor an IP address")
    return PushEndpoint(url=url, host=host, port=port, address=address)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _is_host_name(host: str) -> bool:
    """LDH labels; a numeric last label is refused, so `2130706433` or `0x7f.1` cannot stand for an address."""
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit() and not labels[-1].startswith("0x")


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass
class DestinationGuard:
    """Resolves hosts and says which addresses may be connected to.

    `allowed_networks` are treated as public: dev and tests only (settings refuse them in prod),
    for a push service that runs on this machine.
    """

    resolver: Resolver = system_resolver
    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = field(default=())

    def permits(self, address: IPAddress) -> bool:
        return is_public_address(address) or any(address in net for net in self.allowed_networks)

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The host's addresses, all of them permitted, in the resolver's order."""
        literal = _ip_literal(host)
        found = [literal] if literal is not None else list(await self.resolver(host, port))
        if not found:
            raise UnresolvableHost(f"{host}: no address")
        refused = [address for address in found if not self.permits(address)]
        if refused:
            raise ForbiddenDestination(host, refused)
        return found

    async def check(self, endpoint: PushEndpoint) -> list[IPAddress]:
        return await self.addresses(endpoint.host, endpoint.port)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the guard checked, resolving each host once."""

    def __init__(self, guard: DestinationGuard, backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self.guard.addresses(host, port):
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("push deliveries do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool opening connections through the guard.

    httpx takes no network backend of its own, so the pool it built is replaced by one that
    has the same settings and the guarded backend.
    """

    def __init__(self, guard: DestinationGuard, *, ssl_context: ssl.SSLContext, max_connections: int) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedNetworkBackend(guard),
        )


def push_ssl_context(extra_ca_file: str = "") -> ssl.SSLContext:
    """The CAs httpx trusts by default (certifi's), plus the roots in `extra_ca_file` if one is given."""
    context = httpx.create_ssl_context(trust_env=False)
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context


def make_push_http_client(
    guard: DestinationGuard, *, timeout: float, ssl_context: ssl.SSLContext, max_connections: int = 100
) -> httpx.AsyncClient:
    """No proxies from the environment (the guard would check the proxy, not the push service), no redirects."""
    return httpx.AsyncClient(
        transport=GuardedTransport(guard, ssl_context=ssl_context, max_connections=max_connections),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        trust_env=False,
    )
