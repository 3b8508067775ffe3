"""Who may do what with a fulfilment task (CONTRACT.md "Fulfilment"). LOMS serves `/api/v1/tasks`
and checkout serves the same routes to clients with the caller's token: one set of rules for both.

Workers read and move their own tasks; managers (and services granted the scope) read every task
and assign them."""

from __future__ import annotations

from typing import Annotated

from shopcommon.access import access
from shopcommon.auth import Principal, Role, Scope, require_roles

Reader = Annotated[Principal, require_roles(Role.WORKER, Role.MANAGER, Role.SERVICE, scope=Scope.ORDERS_READ)]
Worker = Annotated[Principal, require_roles(Role.WORKER)]
Assigner = Annotated[Principal, require_roles(Role.MANAGER, Role.SERVICE, scope=Scope.ORDERS_WRITE)]
READERS = access("worker (own tasks)", Role.MANAGER, Role.SERVICE, scope=Scope.ORDERS_READ)
WORKER = access("worker (the task's own)")
ASSIGNERS = access(Role.MANAGER, Role.SERVICE, scope=Scope.ORDERS_WRITE)
