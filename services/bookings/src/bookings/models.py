"""The tables of the bookings database (the migrations create them; this is their typed picture)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ExcludeConstraint

from bookings.domain.rules import MAX_PRICE, MAX_SEATS
from bookings.domain.statuses import BookingStatus, CancelledBy, TableKind, sql_list, sql_literal
from shopcommon.db import naming_metadata
from shopcommon.outbox.table import outbox_table

metadata = naming_metadata()
CONFIRMED = sql_literal(BookingStatus.CONFIRMED)
CANCELLED = sql_literal(BookingStatus.CANCELLED)


def _now() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


tables = sa.Table(
    "tables",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("bookable", sa.Boolean, nullable=False, server_default=sa.text("true")),
    _now(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"kind IN ({sql_list(TableKind)})", name="kind_known"),
    sa.CheckConstraint(f"seats BETWEEN 1 AND {MAX_SEATS}", name="seats_range"),
)

table_prices = sa.Table(
    "table_prices",
    metadata,
    sa.Column("table_id", sa.BigInteger, sa.ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    _now(),
    sa.PrimaryKeyConstraint("table_id", "effective_from"),
    sa.CheckConstraint(f"price BETWEEN 0 AND {MAX_PRICE}", name="price_range"),
)

bookings = sa.Table(
    "bookings",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("table_id", sa.BigInteger, sa.ForeignKey("tables.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cancelled_by", sa.String(16), nullable=True),
    sa.Column("user_id", sa.BigInteger, nullable=True),
    #: SHA-256 of the cancel link's token; NULL once used (or for a booking made by staff).
    sa.Column("cancel_token_hash", sa.LargeBinary(32), nullable=True),
    _now(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
    sa.CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_contact"),
    sa.CheckConstraint(f"status IN ({sql_list(BookingStatus)})", name="status_known"),
    sa.CheckConstraint(
        f"(status = {CANCELLED}) = (cancelled_by IS NOT NULL) AND (cancelled_by IS NULL OR cancelled_by IN ({sql_list(CancelledBy)}))",
        name="cancelled_by_known",
    ),
    ExcludeConstraint(
        (sa.Column("table_id"), "="),
        (sa.text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
        using="gist",
        where=sa.text(f"status = {CONFIRMED}"),
        name="ex_bookings_confirmed_no_overlap",
    ),
    sa.Index(
        "ix_bookings_confirmed_during",
        sa.text("tstzrange(starts_at, ends_at, '[)')"),
        postgresql_using="gist",
        postgresql_where=sa.text(f"status = {CONFIRMED}"),
    ),
    sa.Index("ix_bookings_starts_at_id", "starts_at", "id"),
    sa.Index("ix_bookings_table_id_starts_at", "table_id", "starts_at"),
    sa.Index("ix_bookings_user_id_id", "user_id", "id", postgresql_where=sa.text("user_id IS NOT NULL")),
    sa.Index("uq_bookings_cancel_token_hash", "cancel_token_hash", unique=True),
)

outbox = outbox_table(metadata)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(400), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    _now(),
    sa.PrimaryKeyConstraint("scope", "key"),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

#: Public booking requests counted for the rate limits: one row per request and bucket (a client
#: address or an e-mail address, as a digest), purged once older than the longest window.
request_hits = sa.Table(
    "request_hits",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("bucket", sa.String(80), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_request_hits_bucket_at", "bucket", "at"),
    sa.Index("ix_request_hits_at", "at"),
)
