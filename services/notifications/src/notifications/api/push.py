from fastapi import APIRouter, Request, Response, status

from notifications.api.deps import CurrentUserId
from notifications.api.schemas import PushSubscriptionIn, PushSubscriptionOut, PushUnsubscribeIn, VapidPublicKeyOut
from notifications.services import push_subscriptions
from shopcommon.access import PUBLIC, access
from shopcommon.db import SessionDep

router = APIRouter(prefix="/api/v1/push", tags=["web push"])
PEOPLE = access("customer", "worker", "manager")


@router.get("/vapid-public-key", summary="The key browsers subscribe with (applicationServerKey)", **PUBLIC.doc())
async def vapid_public_key(request: Request) -> VapidPublicKeyOut:
    return VapidPublicKeyOut(public_key=request.app.state.vapid_public_key)


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe this browser (201 new, 200 when the endpoint was known)",
    description="The endpoint must be an `https` URL whose host resolves to public internet addresses only "
    "(checked again before every push); anything else is refused with 422.",
    **PEOPLE.doc(
        400,
        409,
        422,
        503,
        answers={200: {"description": "Already subscribed; keys updated", "model": PushSubscriptionOut}},
    ),
)
async def subscribe(
    body: PushSubscriptionIn, session: SessionDep, user_id: CurrentUserId, request: Request, response: Response
) -> PushSubscriptionOut:
    settings = request.app.state.settings
    stored, created = await push_subscriptions.subscribe(
        session,
        user_id=user_id,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        guard=request.app.state.push_guard,
        resolve_timeout=settings.push_resolve_timeout_seconds,
        max_per_user=settings.max_subscriptions_per_user,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return PushSubscriptionOut(id=stored.id, endpoint=stored.endpoint, created_at=stored.created_at)


@router.delete(
    "/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe a browser",
    **PEOPLE.doc(400, 404, 422),
)
async def unsubscribe(body: PushUnsubscribeIn, session: SessionDep, user_id: CurrentUserId) -> Response:
    await push_subscriptions.unsubscribe(session, user_id=user_id, endpoint=body.endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
