"""The settings of a service that publishes through the outbox (read with the service's prefix:
`LOMS_RELAY_BATCH_SIZE`, `BOOKINGS_RELAY_LINGER`, ...), mapped onto the relay's `RelayTuning`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shopcommon.outbox.relay import RelayTuning
from shopcommon.settings import ServiceSettings

Seconds = Annotated[float, Field(gt=0)]


class OutboxSettings(ServiceSettings):
    """A service's settings with its relay's; the service names the topics it publishes to
    (`relay_topics`) and may give the pace other defaults."""

    relay_enabled: bool = True
    #: The relay is woken by LISTEN/NOTIFY; this sweep covers missed notifications.
    relay_sweep_interval: Seconds = 1.0
    #: After a wake-up the relay waits this long so one batch carries what arrives meanwhile.
    relay_linger: Annotated[float, Field(ge=0, le=1)] = 0.01
    relay_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    relay_send_timeout: Seconds = 10.0
    #: Vacuum the outbox after this many published events (0: leave it to autovacuum).
    relay_vacuum_after: Annotated[int, Field(ge=0)] = 5_000

    def relay_topics(self) -> dict[str, int]:
        """The topics the service publishes to and their partition counts."""
        raise NotImplementedError

    @property
    def relay_tuning(self) -> RelayTuning:
        return RelayTuning(
            topics=self.relay_topics(),
            replication_factor=self.kafka_topic_replication_factor,
            sweep_interval=self.relay_sweep_interval,
            linger=self.relay_linger,
            batch_size=self.relay_batch_size,
            send_timeout=self.relay_send_timeout,
            vacuum_after=self.relay_vacuum_after,
        )
