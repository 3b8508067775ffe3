"""Test harness: the embedded stack once per session, a clean database per test module,
token minting with a throwaway key, and services run as real processes for end-to-end tests."""
