"""Shopping tables (carts, ...)."""
