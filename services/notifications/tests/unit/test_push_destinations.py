"""Which push endpoints and addresses a push may go to."""

from ipaddress import ip_address, ip_network

import pytest

from notifications.domain.addresses import is_public_address, parse_networks
from notifications.push_guard import (
    DestinationGuard,
    EndpointRefused,
    ForbiddenDestination,
    UnresolvableHost,
    parse_push_endpoint,
)
from notifications.testing.push_service import StaticResolver

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "142.250.74.110",  # fcm.googleapis.com
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "192.169.0.1",
    "223.255.255.254",
    "2a00:1450:4001:82b::200a",  # an IPv6 address of Google's
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]

NOT_PUBLIC = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",  # cloud metadata
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",  # ULA
    "fd12:3456:789a::1",
    "fe80::1",  # link-local
    "fe80::1%2",
    "febf::1",
    "fec0::1",  # site-local
    "ff02::1",  # multicast
    "ff0e::1",
    "100::1",  # discard
    "2001:db8::1",  # documentation
    "2001::1",  # Teredo
    "3fff::1",
    "::ffff:127.0.0.1",  # IPv4-mapped private forms
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::808:808",  # local-use NAT64
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ip_address(address))


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_addresses_off_the_public_internet_are_refused(address: str) -> None:
    assert not is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://[x/",
        "https://h:abc/",
        "https://h:99999/",
        "https://h:0/",
        "https://",
        "https:///push/abc",
        "http://push.example.com/abc",
        "ftp://push.example.com/abc",
        "push.example.com/abc",
        "https://user:password@push.example.com/abc",
        "https://push.example.com/" + "a" * 3000,
        "https://2130706433/",  # 127.0.0.1 as a number
        "https://0x7f.1/",
        "https://127.1/",
        "https://exa mple.com/",
        "https://-bad-.example.com/",
        "https://push.example.com/\x00",
        "https://127.0.0.1/push",
        "https://[::1]/push",
        "https://[2606:4700:4700::1111]/push",  # public, but VAPID cannot name an IPv6 literal
        "https://[fd00::1]/push",
        "https://169.254.169.254/latest/meta-data",
    ],
)
async def test_malformed_or_private_endpoints_are_refused_without_a_lookup(url: str) -> None:
    resolver = StaticResolver({})
    with pytest.raises(EndpointRefused):
        await DestinationGuard(resolver=resolver).check(parse_push_endpoint(url))
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "fcm.googleapis.com", 443),
        ("https://updates.push.services.mozilla.com/wpush/v2/gAAA", "updates.push.services.mozilla.com", 443),
        ("https://Web.Push.Apple.com:443/QGx", "web.push.apple.com", 443),
        ("https://push.example.com:8443/x?y=1", "push.example.com", 8443),
        ("https://8.8.8.8/x", "8.8.8.8", 443),
    ],
)
def test_well_formed_endpoints_parse(url: str, host: str, port: int) -> None:
    endpoint = parse_push_endpoint(url)
    assert (endpoint.host, endpoint.port, endpoint.url) == (host, port, url)


async def test_a_host_with_any_private_address_is_refused() -> None:
    guard = DestinationGuard(resolver=StaticResolver({"mixed.example": ["8.8.8.8", "10.0.0.1"]}))
    with pytest.raises(ForbiddenDestination) as refused:
        await guard.addresses("mixed.example", 443)
    assert refused.value.addresses == (ip_address("10.0.0.1"),)


async def test_a_host_with_only_public_addresses_passes_in_the_resolvers_order() -> None:
    guard = DestinationGuard(resolver=StaticResolver({"push.example": ["2606:4700::1", "8.8.4.4"]}))
    assert await guard.addresses("push.example", 443) == [ip_address("2606:4700::1"), ip_address("8.8.4.4")]


async def test_an_unknown_host_is_unresolvable_not_allowed() -> None:
    with pytest.raises(UnresolvableHost):
        await DestinationGuard(resolver=StaticResolver({})).addresses("nowhere.example", 443)


async def test_the_system_resolver_finds_localhost_on_loopback_and_it_is_refused() -> None:
    with pytest.raises(ForbiddenDestination):
        await DestinationGuard().addresses("localhost", 443)


async def test_allowed_networks_count_as_public_and_nothing_else_does() -> None:
    guard = DestinationGuard(
        resolver=StaticResolver({"local": ["127.0.0.1"], "other": ["127.0.0.2"]}),
        allowed_networks=(ip_network("127.0.0.1/32"),),
    )
    assert await guard.addresses("local", 443) == [ip_address("127.0.0.1")]
    with pytest.raises(ForbiddenDestination):
        await guard.addresses("other", 443)


def test_networks_parse_from_a_comma_separated_list() -> None:
    assert parse_networks(" 127.0.0.1/32, ::1 ,") == (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    with pytest.raises(ValueError, match="nonsense"):
        parse_networks("10.0.0.0/8,nonsense")
