"""Identity tables: users, the refresh tokens issued to them, and address confirmations."""

from sqlalchemy import (
    BigInteger,
    Boolean,
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

from checkout.db_metadata import metadata

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
    #: When the current `email` was proven (a confirmation link used with the password); NULL until
    #: then. Only a proven address gets one-time codes or any mail but the confirmation.
    Column("email_verified_at", DateTime(timezone=True), nullable=True),
    #: When the account was first confirmed (or made by staff, the demo loader, the migration).
    #: NULL: a registration nobody has confirmed yet; it cannot sign in and is deleted in a week.
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    #: False once a manager deactivates the account: no sign-in of any kind, its sessions ended.
    Column("active", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint(ROLES_SQL, name="role_known"),
    # Usernames compare case-insensitively; emails are stored lowercased. An address belongs to
    # the one account that proved it: unproven claims on it do not keep its owner out.
    Index("uq_users_username_lower", func.lower(text("username")), unique=True),
    Index("uq_users_email_verified", "email", unique=True, postgresql_where=text("email_verified_at IS NOT NULL")),
    Index("ix_users_email", "email"),
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

email_verifications = Table(
    "email_verifications",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    #: The address the token was sent to: it proves that one, not whatever the account holds later.
    Column("email", String(254), nullable=False),
    #: SHA-256 of the token (256 random bits): the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_email_verifications_user_id", "user_id"),
)
