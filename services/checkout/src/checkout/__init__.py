"""Checkout: identity for the whole system, carts, the public REST API and the web pages.

Every domain package (`identity/`, `shopping/`, `web/`) uses the same names for the same jobs:

    router.py       the package's one APIRouter, including its `api_*.py` modules
    api_*.py        routes: parse the request, call one use case, return what it returns
    schemas.py      request and response bodies (Pydantic), apart from the tables
    usecases/       the use cases, one module per job; they return typed objects
    queries.py      SQL on the package's tables (SQLAlchemy Core); the caller owns the transaction
    rules.py        decisions without I/O (who may do what, which values change)
    errors.py       the package's problems, one class per meaning
    tables.py       its tables, on `checkout.db_metadata.metadata`
    lifespan.py     the per-process container (`Identity`, `Shopping`, `Web`) and the lifespan that builds it
    deps.py         FastAPI dependencies: `get_<container>`, `<Container>Dep`, the caller's user id...
    settings.py     its part of `checkout.config.Settings`

`models.py` gathers every table for Alembic; `db_metadata.py` holds the metadata and imports neither.
Clients of other services sit in their package under the service's name (`loms_client.py`,
`product_client.py`, `bookings_client.py`).
"""
