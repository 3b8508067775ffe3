"""deploy/docker-compose.yml cannot run here (no Docker engine), so it is kept honest by reading
it: official images, every service wired with the variables the launcher gives it, and every
secret a service refuses to start without."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopcommon.devstack.launcher import service_urls_env
from shopcommon.devstack.stack import StackUrls
from shopcommon.services import ServiceSpec, discover_services

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SPECS = discover_services()


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def settings_class(spec: ServiceSpec) -> Any:
    package = spec.app_factory.split(".")[0]
    return importlib.import_module(f"{package}.config").Settings


def test_infrastructure_uses_the_official_images() -> None:
    images = {name: svc.get("image", "") for name, svc in COMPOSE["services"].items()}
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    assert "redpandadata/redpanda" in images["redpanda"]
    assert images["mailpit"].startswith("axllent/mailpit")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_service_is_built_from_the_dockerfile_on_its_port(spec: ServiceSpec) -> None:
    svc = COMPOSE["services"][spec.name]
    assert svc["build"]["args"]["SERVICE"] == spec.name
    assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
    # Published to the host (checkout, bookings) or reachable inside the compose network only.
    assert f"{spec.port}:{spec.port}" in svc.get("ports", []) or str(spec.port) in map(str, svc.get("expose", []))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_service_gets_the_launchers_variables(spec: ServiceSpec) -> None:
    env = env_of(COMPOSE["services"][spec.name])
    stack_vars = set(StackUrls("", "", "", "", "").as_env())
    expected = stack_vars | set(service_urls_env(SPECS))
    assert expected <= set(env), expected - set(env)
    assert env["APP_ENV"].startswith("${APP_ENV:-prod}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_secret_a_service_requires_is_provided(spec: ServiceSpec) -> None:
    env = env_of(COMPOSE["services"][spec.name])
    settings = settings_class(spec)
    prefix = settings.model_config.get("env_prefix", "")
    for field in settings.secret_fields:
        assert f"{prefix}{field}".upper() in env, f"{spec.name} needs {prefix}{field}".upper()


def test_the_dockerfile_builds_any_service_and_migrates_before_serving() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert "shopcommon.prestart" in dockerfile
    assert "USER shop" in dockerfile
