"""Who a caller is (`Role`) and what a `service` caller may do for users (`Scope`)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    WORKER = "worker"
    MANAGER = "manager"
    SERVICE = "service"


class Scope(StrEnum):
    """What a `service` caller may do for users. People are governed by their role alone; a
    service token carries only the scopes its client was granted (claim `scope`, space-separated,
    as RFC 9068 spells it), so a leaked notifications secret cannot create or pay orders."""

    USERS_READ = "users:read"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    STOCK_READ = "stock:read"


#: The scopes each known service client gets unless configured otherwise: the least each needs.
CLIENT_SCOPES: dict[str, frozenset[Scope]] = {
    "checkout": frozenset({Scope.ORDERS_READ, Scope.ORDERS_WRITE}),
    "notifications": frozenset({Scope.USERS_READ}),
    "loms": frozenset({Scope.USERS_READ}),
}
