"""Who the client is for rate limits: `X-Forwarded-For` only from trusted proxies, the rightmost
untrusted hop, IPv6 per /64, and no double counting behind uvicorn's own proxy handling."""

from __future__ import annotations

import pytest
from uvicorn.middleware.proxy_headers import _TrustedHosts

from checkout.identity.clientaddr import TrustedProxies, rate_limit_key

CHAINS = [
    "",
    "203.0.113.9",
    "198.18.0.1, 203.0.113.9",
    "203.0.113.9, 10.0.0.7",
    "10.0.0.8, 10.0.0.7",
    "203.0.113.9:4711, [2001:db8::5]:443",
    "garbage, 203.0.113.9",
    "2001:db8:1:2::77",
]
SPECS = ["127.0.0.1,::1", "10.0.0.0/8", "*", "", "10.0.0.5, 2001:db8::/32"]
PEERS = ["10.0.0.5", "127.0.0.1", "203.0.113.200", "2001:db8::9"]


@pytest.mark.parametrize("spec", SPECS)
def test_applying_the_rule_after_uvicorn_changes_nothing(spec: str) -> None:
    """uvicorn's `--proxy-headers` may already have rewritten the peer with the same setting;
    checkout's rule applied to its answer must give the answer of the rule applied once."""
    ours, theirs = TrustedProxies.parse(spec), _TrustedHosts(spec)
    for peer in PEERS:
        for chain in CHAINS:
            once = ours.client_host(peer, [chain] if chain else [])
            rewritten = theirs.get_trusted_client_address(chain)[0] if chain and peer in theirs else peer
            assert (rewritten or peer) == once, (spec, peer, chain)
            assert ours.client_host(rewritten or peer, [chain] if chain else []) == once, (spec, peer, chain)


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    proxies = TrustedProxies.parse("10.0.0.0/8")
    assert proxies.client_host("10.0.0.5", ["198.18.0.1, 203.0.113.9"]) == "203.0.113.9"
    assert proxies.client_host("10.0.0.5", ["203.0.113.9, 10.0.0.7"]) == "203.0.113.9"
    assert proxies.client_host("10.0.0.5", ["203.0.113.9", "10.0.0.7"]) == "203.0.113.9"  # two header lines
    assert proxies.client_host("203.0.113.1", ["198.18.0.1"]) == "203.0.113.1"  # not a proxy: header ignored
    assert TrustedProxies.parse("").client_host("127.0.0.1", ["198.18.0.1"]) == "127.0.0.1"


def test_rate_limit_keys() -> None:
    assert rate_limit_key("203.0.113.9") == "203.0.113.9"
    assert rate_limit_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert rate_limit_key("2001:db8:1:2:aaaa::1") == rate_limit_key("2001:DB8:1:2::ffff") == "2001:db8:1:2::/64"
    assert rate_limit_key("2001:db8:1:3::1") != rate_limit_key("2001:db8:1:2::1")
    assert rate_limit_key(None) == "unknown"
    assert rate_limit_key("_Hidden") == "_hidden"
    # Once passed on as they came, and sent to bookings in a header that could not carry them.
    assert rate_limit_key("caf\xe9") == rate_limit_key("a\nb") == rate_limit_key(" ") == "unknown"
