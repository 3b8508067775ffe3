"""Checkout: identity for the whole system, carts, the public REST API and the web pages."""
