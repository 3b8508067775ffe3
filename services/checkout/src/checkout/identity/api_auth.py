"""Auth endpoints: tokens, refresh, verify, logout, the web login, one-time codes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from pydantic import TypeAdapter

from checkout.identity import otp, queries, tokens
from checkout.identity.deps import Identity, get_identity
from checkout.identity.schemas import (
    Accepted,
    ClientCredentialsGrant,
    LoginRequest,
    LogoutRequest,
    OtpRequest,
    OtpVerify,
    PasswordGrant,
    RefreshRequest,
    RefreshTokenGrant,
    TokenPair,
    TokenRequest,
    VerifyRequest,
    WebSession,
    user_out,
)
from checkout.identity.usecases import login
from checkout.identity.web import (
    FORM,
    body_doc,
    clear_session_cookies,
    client_ip,
    json_or_form,
    refresh_cookie,
    refuse_cross_site,
    set_session_cookies,
)
from shopcommon.access import PUBLIC
from shopcommon.db import SessionDep
from shopcommon.problems import Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
IdentityDep = Annotated[Identity, Depends(get_identity)]
TOKEN_BODY = TypeAdapter[Any](TokenRequest)
LOGIN_BODY = TypeAdapter(LoginRequest)
LIMITED = (400, 401, 415, 422, 429)


@router.post(
    "/token", response_model=TokenPair, response_model_exclude_none=True,
    **PUBLIC.doc(*LIMITED, extra=body_doc(PasswordGrant, ClientCredentialsGrant, RefreshTokenGrant, documented=FORM)),
    summary="Exchange a username and password (or client credentials, or a refresh token) for tokens",
)  # fmt: skip
async def issue_token(request: Request, session: SessionDep, identity: IdentityDep) -> dict[str, Any]:
    grant = await json_or_form(request, TOKEN_BODY, default_grant=True)
    return await login.grant_tokens(session, request.app.state.sessionmaker, identity, grant, ip=client_ip(request))


@router.post(
    "/token/refresh", response_model=TokenPair, **PUBLIC.doc(401, 422),
    summary="A new pair for a refresh token; presenting a used one again revokes its whole family",
    description="Each refresh token works once. One presented again within 30 s of its use (the same "
    "client's requests refreshing at once) is a 401 and nothing more; later, it was copied: its whole "
    "family (every token rotated from the same sign-in) is revoked.",
)  # fmt: skip
async def refresh_token(body: RefreshRequest, request: Request, identity: IdentityDep) -> dict[str, Any]:
    pair, _ = await login.refresh(request.app.state.sessionmaker, identity, body.refresh_token)
    return pair


@router.post(
    "/token/verify", **PUBLIC.doc(401, 422),
    summary="The claims of a valid access token, or 401",
)  # fmt: skip
async def verify_token(body: VerifyRequest, request: Request) -> dict[str, Any]:
    claims: dict[str, Any] = await request.app.state.token_verifier.verify(body.token)
    return claims


@router.post(
    "/logout", status_code=204, **PUBLIC.doc(403, 422),
    summary="End a session: the refresh token (from the body, or the web session's cookie) stops working",
)  # fmt: skip
async def logout(
    request: Request, session: SessionDep, identity: IdentityDep, body: LogoutRequest | None = None
) -> Response:
    token = body.refresh_token if body and body.refresh_token else refresh_cookie(request)
    if token:
        await tokens.logout(session, token)
    response = Response(status_code=204)
    clear_session_cookies(response, identity)
    return response


@router.post(
    "/login", response_model=WebSession, response_model_exclude_none=True,
    **PUBLIC.doc(*LIMITED, 403, extra=body_doc(LoginRequest)),
    summary="Web sign-in: sets the HttpOnly `access_token` cookie and the `csrf_token` cookie",
    description="Refused (403) when the browser says the request comes from another site or origin.",
)  # fmt: skip
async def web_login(request: Request, response: Response, session: SessionDep, identity: IdentityDep) -> dict[str, Any]:
    refuse_cross_site(request)
    body = await json_or_form(request, LOGIN_BODY)
    user = await login.password_login(
        session, identity, login=body.username, password=body.password, ip=client_ip(request)
    )
    pair = await login.issue_pair(session, identity, user)
    csrf = set_session_cookies(response, identity, pair)
    return {"user": user_out(user), "csrf_token": csrf, "expires_in": pair["expires_in"]}


@router.post(
    "/login/refresh", response_model=WebSession, response_model_exclude_none=True,
    **PUBLIC.doc(401, 403),
    summary="Web session: rotate the cookies (needs the refresh cookie and `X-CSRF-Token`)",
)  # fmt: skip
async def web_refresh(
    request: Request, response: Response, session: SessionDep, identity: IdentityDep
) -> dict[str, Any]:
    token = refresh_cookie(request)
    if not token:
        raise Unauthorized("No web session to refresh")
    pair, user_id = await login.refresh(request.app.state.sessionmaker, identity, token)
    user = await queries.get_user(session, user_id)
    csrf = set_session_cookies(response, identity, pair)
    return {"user": user_out(user), "csrf_token": csrf, "expires_in": pair["expires_in"]}


@router.post(
    "/otp", status_code=202, response_model=Accepted, **PUBLIC.doc(422, 429),
    summary="Email a six-digit sign-in code; the same answer whether or not the address has an account",
    description=(
        "Only an account that has confirmed the address gets a code; for any other address nothing is sent. "
        "Asking again does not void a code already sent: up to `CHECKOUT_OTP_LIVE_CODES` (3) codes are valid "
        "at once, each until it expires or one of them is used. One address gets at most "
        "`CHECKOUT_OTP_EMAILS_PER_DAY` (10) code mails a day (beyond that, the same 202 and no mail)."
    ),
)  # fmt: skip
async def request_otp(
    body: OtpRequest, request: Request, background: BackgroundTasks, identity: IdentityDep
) -> dict[str, str]:
    await login.request_code(identity, email=body.email, ip=client_ip(request))
    background.add_task(
        otp.send_code, sessionmaker=request.app.state.read_sessionmaker, identity=identity, email=body.email
    )
    return {"detail": "If the address belongs to an account, a sign-in code is on its way."}


@router.post(
    "/otp/verify", response_model=TokenPair, **PUBLIC.doc(401, 422, 429),
    summary="Exchange an emailed code for a token pair (5 attempts per code)",
)  # fmt: skip
async def verify_otp(body: OtpVerify, request: Request, session: SessionDep, identity: IdentityDep) -> dict[str, Any]:
    return await login.otp_login(session, identity, email=body.email, code=body.code, ip=client_ip(request))
