"""The transactional outbox, shared by every service that publishes events (LOMS, bookings).

A service writes its events into an outbox table in the transaction of the change they describe
(`OutboxStore.add`); a relay (`OutboxRelay`) publishes them to the Kafka API in table order, keyed,
and deletes what the broker acknowledged. `Listener` wakes the relay through `LISTEN/NOTIFY`, so an
event leaves within milliseconds of its commit rather than at the next poll.

Shared because two services publish the same way, and the delicate parts (one publisher at a
time across replicas, per-partition ordering, a broker that comes back empty) must not be got
right twice.
"""

from shopcommon.outbox.listener import Listener
from shopcommon.outbox.relay import BrokerLostRecords, OutboxRelay, RelayTuning
from shopcommon.outbox.running import running
from shopcommon.outbox.store import UNNESTED, OutboxMessage, OutboxStore, PendingEvent, event_params, lock_key_for
from shopcommon.outbox.worker import Worker

__all__ = [
    "UNNESTED",
    "BrokerLostRecords",
    "Listener",
    "OutboxMessage",
    "OutboxRelay",
    "OutboxStore",
    "PendingEvent",
    "RelayTuning",
    "Worker",
    "event_params",
    "lock_key_for",
    "running",
]
