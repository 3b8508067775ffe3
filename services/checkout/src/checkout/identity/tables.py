"""Identity tables: users, the refresh tokens issued to them, and address confirmations."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from checkout.db_metadata import metadata

ROLES_SQL = "role IN ('customer', 'worker', 'manager')"

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("username", sa.String(150), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("first_name", sa.String(150), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(150), nullable=False, server_default=""),
    sa.Column("role", sa.String(16), nullable=False, server_default="customer"),
    sa.Column("categories", ARRAY(sa.String(100)), nullable=False, server_default=sa.text("'{}'")),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    #: When the current `email` was proven (a confirmation link used with the password); NULL until
    #: then. Only a proven address gets one-time codes or any mail but the confirmation.
    sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
    #: When the account was first confirmed (or made by staff, the demo loader, the migration).
    #: NULL: a registration nobody has confirmed yet; it cannot sign in and is deleted in a week.
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    #: False once a manager deactivates the account: no sign-in of any kind, its sessions ended.
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
    sa.CheckConstraint(ROLES_SQL, name="role_known"),
    # Usernames compare case-insensitively; emails are stored lowercased. An address belongs to
    # the one account that proved it: unproven claims on it do not keep its owner out.
    sa.Index("uq_users_username_lower", sa.func.lower(sa.text("username")), unique=True),
    sa.Index(
        "uq_users_email_verified", "email", unique=True, postgresql_where=sa.text("email_verified_at IS NOT NULL")
    ),
    sa.Index("ix_users_email", "email"),
    sa.Index("ix_users_role_id", "role", "id"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    #: SHA-256 of the token: the token itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    #: Every token rotated from one login shares the family; reuse of a used token revokes it all.
    sa.Column("family_id", sa.Uuid, nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_refresh_tokens_family_id", "family_id"),
    sa.Index("ix_refresh_tokens_user_id", "user_id"),
)

email_verifications = sa.Table(
    "email_verifications",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    #: The address the token was sent to: it proves that one, not whatever the account holds later.
    sa.Column("email", sa.String(254), nullable=False),
    #: SHA-256 of the token (256 random bits): the token itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_email_verifications_user_id", "user_id"),
)
