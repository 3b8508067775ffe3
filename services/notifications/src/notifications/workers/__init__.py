"""Background workers run in the service lifespan: the event consumer and the two senders."""
