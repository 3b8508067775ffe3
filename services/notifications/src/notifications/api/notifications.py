from fastapi import APIRouter

from notifications.api.deps import CurrentUserId
from notifications.api.schemas import NotificationOut
from notifications.services import notification_log
from shopcommon.access import access
from shopcommon.db import ReadSessionDep
from shopcommon.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get(
    "/notifications",
    summary="The caller's own notifications, newest first",
    **access("customer", "worker", "manager").doc(400, 422),
)
async def list_notifications(
    session: ReadSessionDep, user_id: CurrentUserId, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[NotificationOut]:
    page = await notification_log.list_own(session, user_id=user_id, limit=limit, cursor=cursor)
    items = [NotificationOut.model_validate(item, from_attributes=True) for item in page.items]
    return Page[NotificationOut](items=items, next_cursor=page.next_cursor)
