"""Identity's rules, no I/O: who may read or change which account, what a password must be, and
which columns a change really changes."""

from __future__ import annotations

from typing import Any

from checkout.identity import passwords
from checkout.identity.errors import WeakPassword
from checkout.identity.queries import Account
from checkout.identity.schemas import UserCreate, UserRole
from shopcommon.auth import Principal, Role, Scope
from shopcommon.problems import Forbidden, UnprocessableEntity


def check_password_strength(password: str, *, username: str, min_length: int) -> None:
    problem = passwords.password_problems(password, username=username, min_length=min_length)
    if problem:
        raise WeakPassword(f"The password {problem}.", errors=[{"field": "password", "message": f"Password {problem}"}])


def ensure_may_read(principal: Principal, user_id: int) -> None:
    """Your own account; managers and `users:read` services any (another's is 404 to the rest)."""
    principal.ensure_owner(user_id, "user", scope=Scope.USERS_READ)


def ensure_may_change(principal: Principal, user_id: int, action: str) -> None:
    """Read access, and a person behind it: services read accounts, they never change them."""
    ensure_may_read(principal, user_id)
    if principal.role == Role.SERVICE:
        raise Forbidden(f"Services read accounts; they do not {action} them")


#: What only managers set: who an account is in the shop, and whether it may sign in at all.
MANAGERS_ONLY = ("role", "categories", "active")


def ensure_may_set(principal: Principal, changes: dict[str, Any]) -> None:
    if principal.role != Role.MANAGER and any(name in changes for name in MANAGERS_ONLY):
        raise Forbidden("Only managers change roles, categories and whether an account is active")


def ensure_registration_plain(data: UserCreate) -> None:
    """A registration not made by a manager names no role and no categories: 422 naming them (a
    signed-in non-manager is 403 before this, in `ensure_may_create`)."""
    named = [name for name in ("role", "categories") if getattr(data, name) is not None]
    if named:
        raise UnprocessableEntity(
            "Only managers create accounts with a role or categories",
            errors=[{"field": name, "message": "Only managers set this"} for name in named],
        )


def ensure_may_create(principal: Principal | None, data: UserCreate) -> None:
    """Signed-in people other than managers may not hand out roles (403); anonymous callers get
    the registration's 422."""
    if principal is not None and principal.role != Role.MANAGER and (data.role or data.categories is not None):
        raise Forbidden("Only managers create accounts with a role or categories")


def needs_current_password(principal: Principal, changes: dict[str, Any]) -> bool:
    """The password and the address (where one-time codes go) are the keys to the account: someone
    holding only a stolen access token must not be able to take it over or lock the owner out."""
    return principal.role != Role.MANAGER and ("password" in changes or "email" in changes)


def column_values(current: Account, changes: dict[str, Any]) -> dict[str, Any]:
    """The columns that change, the password aside; categories only ever belong to workers."""
    values = {k: v for k, v in changes.items() if k != "password"}
    role = UserRole(changes.get("role") or current.role)
    if role != UserRole.WORKER:
        values["categories"] = []
    elif "categories" in changes:
        values["categories"] = sorted(set(changes["categories"]))
    if values.get("role") == current.role:
        del values["role"]
    if values.get("categories") == list(current.categories):
        del values["categories"]
    if values.get("active") == current.active:
        del values["active"]
    return values
