"""Who a public booking request is counted against."""

from __future__ import annotations

import pytest

from bookings.domain.limits import client_subject, email_subject, request_buckets


@pytest.mark.parametrize(
    ("host", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        (None, "unknown"),
        ("TestClient", "testclient"),
    ],
)
def test_clients_are_ipv4_addresses_or_ipv6_64s(host: str | None, subject: str) -> None:
    assert client_subject(host) == subject


@pytest.mark.parametrize(
    ("email", "subject"),
    [
        ("Anna@Example.COM", "anna@example.com"),
        ("anna+dinner@example.com", "anna@example.com"),
        ("anna+a+b@example.com", "anna@example.com"),
        ("+anna@example.com", "+anna@example.com"),
        ('"a@b"@example.com', '"a@b"@example.com'),
    ],
)
def test_one_mailbox_however_it_is_spelled(email: str, subject: str) -> None:
    assert email_subject(email) == subject


def test_a_limit_of_zero_is_off_and_a_phone_only_request_has_no_email_bucket() -> None:
    common = {"ip_window": 60, "email_window": 60}
    both = request_buckets(client="203.0.113.7", email="a@example.com", per_ip=5, per_email=3, **common)
    assert [(b.scope, b.limit) for b in both] == [("ip", 5), ("email", 3)]
    assert [b.scope for b in request_buckets(client="203.0.113.7", email=None, per_ip=5, per_email=3, **common)] == [
        "ip"
    ]
    assert request_buckets(client="203.0.113.7", email="a@example.com", per_ip=0, per_email=0, **common) == []
    assert len({b.key for b in both}) == 2 and all(len(b.key) <= 80 for b in both)
