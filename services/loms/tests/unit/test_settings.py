"""LOMS's settings mapped onto the shared outbox relay's."""

from __future__ import annotations

import pytest

from loms.config import Settings


def test_the_relay_creates_topics_with_the_replication_factor_set_for_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(app_env="dev").relay_tuning.replication_factor == 1  # one broker, as `make run` has
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "3")
    tuning = Settings(app_env="dev").relay_tuning
    assert tuning.replication_factor == 3 and tuning.topics == {"loms.order-events": 3}
