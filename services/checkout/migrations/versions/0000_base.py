"""base: the root that the identity and shopping branches grow from

Revision ID: 0000
Revises:
"""

revision = "0000"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
