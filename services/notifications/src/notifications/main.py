from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from notifications.api import notifications, push, stream
from notifications.config import Settings
from notifications.domain.addresses import parse_networks
from notifications.domain.delivery import RetryPolicy
from notifications.email.render import EmailRenderer
from notifications.email.smtp import SmtpMailer
from notifications.metrics import NotificationMetrics
from notifications.products import ProductNames
from notifications.push import WebPushClient, load_vapid, vapid_public_key
from notifications.push_guard import DestinationGuard, make_push_http_client, push_ssl_context
from notifications.stream import StreamHub
from notifications.stream_limits import StreamLimiter
from notifications.users import UserDirectory
from notifications.workers.consumer import EventConsumer
from notifications.workers.delivery import DeliveryOptions, DeliveryWorker
from notifications.workers.email_sender import EmailSender
from notifications.workers.push_sender import PushSender
from notifications.workers.retention import run_retention
from shopcommon.app import create_service_app
from shopcommon.http import make_http_client
from shopcommon.service_auth import ServiceTokenProvider

log = logging.getLogger(__name__)


def delivery_options(settings: Settings, max_attempts: int) -> DeliveryOptions:
    policy = RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds, max_attempts)
    return DeliveryOptions(
        policy, settings.delivery_batch_size, settings.delivery_poll_seconds, settings.delivery_lease_seconds
    )


def build_senders(
    app: FastAPI, settings: Settings, metrics: NotificationMetrics, smtp_url: str
) -> list[DeliveryWorker]:
    senders: list[DeliveryWorker] = []
    if settings.email_sender_enabled:
        http = app.state.http
        tokens = ServiceTokenProvider(
            http,
            f"{settings.checkout_url.rstrip('/')}/api/v1/auth/token",
            settings.client_id,
            settings.resolved_client_secret(),
        )
        users = UserDirectory(http, tokens, settings.checkout_url, cache_seconds=settings.user_cache_seconds)
        senders.append(
            EmailSender(
                app.state.sessionmaker,
                metrics,
                delivery_options(settings, settings.email_max_attempts),
                users=users,
                products=ProductNames(
                    http, settings.product_stub_url, cache_seconds=settings.product_name_cache_seconds
                ),
                mailer=SmtpMailer(smtp_url, timeout=settings.smtp_timeout_seconds),
                renderer=EmailRenderer(settings.public_url, booking_zone=settings.booking_zone()),
                sender=settings.mail_from,
                connections=settings.smtp_connections,
            )
        )
    if settings.push_sender_enabled:
        client = WebPushClient(
            app.state.push_http,
            app.state.vapid,
            settings.vapid_subject,
            ttl=settings.push_ttl_seconds,
            deadline_seconds=settings.push_timeout_seconds,
            max_response_bytes=settings.push_max_response_bytes,
        )
        senders.append(
            PushSender(
                app.state.sessionmaker, metrics, delivery_options(settings, settings.push_max_attempts), client=client
            )
        )
    return senders


def build_consumer(
    app: FastAPI, settings: Settings, metrics: NotificationMetrics, senders: list[DeliveryWorker]
) -> EventConsumer:
    def wake_senders() -> None:
        for sender in senders:
            sender.wake()

    return EventConsumer(
        bootstrap=settings.kafka_bootstrap_servers,
        topics=[settings.loms_events_topic, settings.booking_events_topic],
        group_id=settings.consumer_group,
        sessionmaker=app.state.sessionmaker,
        hub=app.state.stream_hub,
        metrics=metrics,
        on_recorded=wake_senders,
        batch_size=settings.consumer_batch_size,
        transaction_size=settings.consumer_transaction_size,
        topic_partitions=settings.events_topic_partitions,
        topic_replication_factor=settings.kafka_topic_replication_factor,
        fetch_wait_ms=settings.consumer_fetch_wait_ms,
    )


#: How long the consumer and the senders get, once the server has stopped taking requests, to
#: finish the batch in hand (and the consumer to commit its offsets) before they are cancelled.
#: uvicorn's 5 s for requests in flight plus this stays well inside a 30 s grace period.
WORKERS_STOP_SECONDS = 15.0


async def stop_workers(stoppable: list[EventConsumer | DeliveryWorker], tasks: list[asyncio.Task[None]]) -> None:
    """On shutdown: ask the consumer and the senders to stop after the batch in hand and wait for them
    (at most `WORKERS_STOP_SECONDS`); then cancel whatever still runs (retention's sleep, a stuck batch:
    the inbox and the delivery leases make a batch cut short safe to redo)."""
    for worker in stoppable:
        worker.stop()
    if stoppable:
        _, pending = await asyncio.wait(tasks[: len(stoppable)], timeout=WORKERS_STOP_SECONDS)
        if pending:
            log.warning(
                "%d workers did not finish their batch in %.0f s; cancelling", len(pending), WORKERS_STOP_SECONDS
            )
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    smtp_url = app.state.smtp_url = settings.resolved_smtp_url() if settings.email_sender_enabled else ""
    metrics = NotificationMetrics(app.state.metrics.registry)
    app.state.vapid = load_vapid(settings.resolved_vapid_private_key())
    app.state.vapid_public_key = vapid_public_key(app.state.vapid)
    app.state.http = make_http_client(timeout=5.0)
    app.state.push_http = make_push_http_client(
        app.state.push_guard,
        timeout=settings.push_timeout_seconds,
        ssl_context=push_ssl_context(settings.push_ca_file),
    )
    hub = app.state.stream_hub = StreamHub(
        app.state.redis, history_seconds=settings.sse_history_seconds, history_max=settings.sse_history_max
    )
    await hub.start()
    limiter = app.state.stream_limiter = StreamLimiter(
        app.state.redis,
        per_user=settings.sse_max_streams_per_user,
        per_process=settings.sse_max_streams,
        lease_seconds=max(30.0, 3 * settings.sse_heartbeat_seconds),
    )
    metrics.stream_clients.set_function(lambda: hub.open_streams)
    senders = build_senders(app, settings, metrics, smtp_url)
    stoppable: list[EventConsumer | DeliveryWorker] = list(senders)
    if settings.consumer_enabled:
        stoppable.append(build_consumer(app, settings, metrics, senders))
    tasks = [asyncio.create_task(worker.run()) for worker in stoppable]
    if settings.retention_days > 0:
        tasks.append(
            asyncio.create_task(
                run_retention(
                    app.state.sessionmaker, age_seconds=settings.retention_days * 86400, interval_seconds=3600
                )
            )
        )
    try:
        yield
    finally:
        await stop_workers(stoppable, tasks)
        await limiter.release_all()
        await hub.stop()
        await app.state.http.aclose()
        await app.state.push_http.aclose()


def create_app(settings: Settings | None = None, *, push_guard: DestinationGuard | None = None) -> FastAPI:
    """`push_guard` replaces the one the settings describe: tests that play the push service
    with a resolver of their own."""
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Notifications",
        description=(
            "Listens to LOMS's order events (`loms.order-events`) and tells each customer of every status "
            "change once: by e-mail, by web push and on a live Server-Sent Events stream. Listens to the "
            "bookings service's events (`bookings.booking-events`) and e-mails the guest on every status of "
            "a booking (a phone-only booking's notices are logged as not e-mailed); a booking linked to a "
            "customer is in their log and on their stream. Each operation's `x-roles` names who may call it."
        ),
        routers=[notifications.router, push.router, stream.router],
        lifespan=lifespan,
        uses_db=True,
        uses_redis=True,
        uses_kafka=True,
        openapi_models=list(stream.STREAM_EVENTS.values()),
        openapi_tags=[
            {"name": "notifications", "description": "The caller's notification log"},
            {"name": "web push", "description": "VAPID key and browser subscriptions"},
            {"name": "live stream", "description": "Order and booking status changes as Server-Sent Events"},
        ],
    )
    app.state.push_guard = push_guard or DestinationGuard(
        allowed_networks=parse_networks(settings.push_allowed_networks)
    )
    return app
