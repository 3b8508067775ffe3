"""The tables of the bookings database (the migrations create them; this is their typed picture)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint

from bookings.domain.rules import MAX_PRICE, MAX_SEATS
from bookings.domain.statuses import BookingStatus, CancelledBy, TableKind, sql_list, sql_literal
from shopcommon.db import naming_metadata
from shopcommon.outbox.table import outbox_table

metadata = naming_metadata()
CONFIRMED = sql_literal(BookingStatus.CONFIRMED)
CANCELLED = sql_literal(BookingStatus.CANCELLED)


def _now() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


tables = Table(
    "tables",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("bookable", Boolean, nullable=False, server_default=text("true")),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"kind IN ({sql_list(TableKind)})", name="kind_known"),
    CheckConstraint(f"seats BETWEEN 1 AND {MAX_SEATS}", name="seats_range"),
)

table_prices = Table(
    "table_prices",
    metadata,
    Column("table_id", BigInteger, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("price", BigInteger, nullable=False),
    _now(),
    PrimaryKeyConstraint("table_id", "effective_from"),
    CheckConstraint(f"price BETWEEN 0 AND {MAX_PRICE}", name="price_range"),
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("table_id", BigInteger, ForeignKey("tables.id", ondelete="RESTRICT"), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("name", String(100), nullable=False),
    Column("email", String(254), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("price", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("cancelled_by", String(16), nullable=True),
    Column("user_id", BigInteger, nullable=True),
    #: SHA-256 of the cancel link's token; NULL once used (or for a booking made by staff).
    Column("cancel_token_hash", LargeBinary(32), nullable=True),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
    CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_contact"),
    CheckConstraint(f"status IN ({sql_list(BookingStatus)})", name="status_known"),
    CheckConstraint(
        f"(status = {CANCELLED}) = (cancelled_by IS NOT NULL) AND (cancelled_by IS NULL OR cancelled_by IN ({sql_list(CancelledBy)}))",
        name="cancelled_by_known",
    ),
    ExcludeConstraint(
        (Column("table_id"), "="),
        (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
        using="gist",
        where=text(f"status = {CONFIRMED}"),
        name="ex_bookings_confirmed_no_overlap",
    ),
    Index(
        "ix_bookings_confirmed_during",
        text("tstzrange(starts_at, ends_at, '[)')"),
        postgresql_using="gist",
        postgresql_where=text(f"status = {CONFIRMED}"),
    ),
    Index("ix_bookings_starts_at_id", "starts_at", "id"),
    Index("ix_bookings_table_id_starts_at", "table_id", "starts_at"),
    Index("ix_bookings_user_id_id", "user_id", "id", postgresql_where=text("user_id IS NOT NULL")),
    Index("uq_bookings_cancel_token_hash", "cancel_token_hash", unique=True),
)

outbox = outbox_table(metadata)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(400), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    _now(),
    PrimaryKeyConstraint("scope", "key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

#: Public booking requests counted for the rate limits: one row per request and bucket (a client
#: address or an e-mail address, as a digest), purged once older than the longest window.
request_hits = Table(
    "request_hits",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("bucket", String(80), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_request_hits_bucket_at", "bucket", "at"),
    Index("ix_request_hits_at", "at"),
)
