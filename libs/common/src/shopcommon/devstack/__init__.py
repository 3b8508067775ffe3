"""The embedded development stack: PostgreSQL, Valkey, Tansu and a mail catcher, started as
child processes so `make run` and the tests need nothing but Python and the package registries."""
