"""Identity tables (users, refresh tokens, ...)."""
