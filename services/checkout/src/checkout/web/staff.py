"""The workers' board (`/tasks`) and the manager's desk (`/manage`): signed-in pages of their roles.
Their contents are still to come (issue 16); until then each says so in words."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from checkout.web.forms import page, signed_in, to_login
from shopcommon.auth import Role

router = APIRouter(include_in_schema=False)


async def _board(request: Request, role: Role, title: str) -> Response:
    user = await signed_in(request)
    if user is None:
        return to_login(request)
    if user.role != role:
        return await page(request, "notice.html.j2", 403, user=user, title=title,
                          detail=f"This page is for the {role.value}s' accounts.", back="/shop")  # fmt: skip
    return await page(request, "notice.html.j2", user=user, title=title, back="/orders",
                      detail="This page is not built yet. Meanwhile the shop and the orders pages work.")  # fmt: skip


@router.get("/tasks")
async def tasks(request: Request) -> Response:
    return await _board(request, Role.WORKER, "My tasks")


@router.get("/manage")
async def manage(request: Request) -> Response:
    return await _board(request, Role.MANAGER, "Manage the shop")
