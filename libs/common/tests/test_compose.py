"""deploy/docker-compose.yml publishes only the public entry points, and a stack without a real
SMTP server refuses to start (no Docker engine here: the file is read, as Compose reads it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[3] / "deploy" / "docker-compose.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APPS = ["checkout", "loms", "notifications", "product-stub", "bookings"]


def published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of every port the service publishes; "" is every address."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            out.append((str(entry.get("host_ip", "")), str(entry.get("published", ""))))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        if len(parts) == 1:  # "8025": a random host port on every address
            out.append(("", ""))
        elif len(parts) == 2:
            out.append(("", parts[0]))
        else:
            out.append((parts[0], parts[1]))
    return out


def test_only_checkout_and_bookings_are_published_to_the_network() -> None:
    public = {name: ports for name, svc in SERVICES.items() if (ports := published(svc))}
    open_to_all = {name for name, ports in public.items() if any(host not in {"127.0.0.1", "::1"} for host, _ in ports)}
    assert open_to_all == {"checkout", "bookings"}
    assert public["checkout"] == [("", "9000")]
    assert public["bookings"] == [("", "9004")]


@pytest.mark.parametrize("name", ["loms", "notifications", "product-stub", "postgres", "redis", "redpanda"])
def test_internal_services_publish_nothing(name: str) -> None:
    assert published(SERVICES[name]) == []


def test_mailpit_ui_is_on_the_hosts_loopback_only() -> None:
    assert published(SERVICES["mailpit"]) == [("127.0.0.1", "8025")]


@pytest.mark.parametrize("name", APPS)
def test_every_service_requires_smtp_url(name: str) -> None:
    value = str(SERVICES[name]["environment"]["SMTP_URL"])
    assert re.fullmatch(r"\$\{SMTP_URL:\?[^}]+\}", value), value  # unset or empty: Compose refuses to start


def test_the_app_services_are_all_there() -> None:
    for name in APPS:
        assert SERVICES[name]["build"]["args"]["SERVICE"] == name


def test_published_ports_are_read_in_every_compose_syntax() -> None:
    assert published({"ports": ["9000:9000", "127.0.0.1:8025:8025/tcp", {"host_ip": "0.0.0.0", "published": 1}]}) == [
        ("", "9000"),
        ("127.0.0.1", "8025"),
        ("0.0.0.0", "1"),
    ]
    assert published({"ports": ["8025"]}) == [("", "")]
    assert published({"expose": ["9001"]}) == []
