from typing import Annotated

from fastapi import Depends

from shopcommon.auth import CurrentPrincipal
from shopcommon.problems import Forbidden


async def current_user_id(principal: CurrentPrincipal) -> int:
    """Notifications belong to people; a service token has no inbox."""
    if principal.user_id is None:
        raise Forbidden("Only a user's own token can read or subscribe to that user's notifications")
    return principal.user_id


CurrentUserId = Annotated[int, Depends(current_user_id)]
