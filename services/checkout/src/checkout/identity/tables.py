"""Identity tables: users and the refresh tokens issued to them."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from checkout.models import metadata

ROLES_SQL = "role IN ('customer', 'worker', 'manager')"

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("username", String(150), nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(150), nullable=False, server_default=""),
    Column("last_name", String(150), nullable=False, server_default=""),
    Column("role", String(16), nullable=False, server_default="customer"),
    Column("categories", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("password_hash", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(ROLES_SQL, name="role_known"),
    # Usernames compare case-insensitively; emails are stored lowercased.
    Index("uq_users_username_lower", func.lower(text("username")), unique=True),
    Index("uq_users_email", "email", unique=True),
    Index("ix_users_role_id", "role", "id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    #: SHA-256 of the token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    #: Every token rotated from one login shares the family; reuse of a used token revokes it all.
    Column("family_id", Uuid, nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_user_id", "user_id"),
)
