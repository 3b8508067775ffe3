"""Pure rules: what an event is, what it causes, when to retry. No I/O."""
