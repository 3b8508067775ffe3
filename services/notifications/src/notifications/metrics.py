"""This service's own Prometheus metrics, registered beside the HTTP ones."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter("notifications_events_total", "Order events consumed", ["outcome"], registry=registry)
        self.skipped = Counter(
            "notifications_events_skipped_total", "Messages skipped (logged)", ["reason"], registry=registry
        )
        self.not_streamed = Counter(
            "notifications_events_not_streamed_total",
            "Events recorded (their e-mails and pushes go out) that Redis failed to take to the live streams",
            registry=registry,
        )
        self.deliveries = Counter(
            "notifications_deliveries_total", "Delivery attempts by outcome", ["channel", "outcome"], registry=registry
        )
        self.delivery_lag = Histogram(
            "notifications_delivery_lag_seconds",
            "From the status change to the accepted delivery",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.stream_clients = Gauge("notifications_stream_clients", "Open SSE streams", registry=registry)
        self.consumer_partitions = Gauge(
            "notifications_consumer_partitions",
            "Partitions of the event topics this process holds in the consumer group (0: joining, or none left for it)",
            registry=registry,
        )
