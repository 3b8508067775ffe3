"""Test and benchmark helpers for what lives outside the system: a push service, an SSE client,
the mail catcher's API, and LOMS-shaped events. Used by this service's tests, the e2e test and
the benchmark."""
