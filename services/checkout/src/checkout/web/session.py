"""The web session: the landing page with its two ways of signing in (password; a code by email),
and logging out. The same use cases as the REST API's (`identity.login`, `identity.otp`), and the
same cookies as its web login (`identity.web.set_session_cookies`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from checkout.identity import otp, tokens
from checkout.identity.lifespan import Identity
from checkout.identity.schemas import LoginRequest, OtpRequest, OtpVerify
from checkout.identity.usecases import login
from checkout.identity.web import (
    REFRESH_COOKIE,
    clear_session_cookies,
    client_ip,
    refuse_cross_site,
    set_session_cookies,
)
from checkout.web.forms import (
    HOME,
    LIMITED,
    checked_form,
    page,
    page_router,
    problem_words,
    safe_next,
    signed_in,
)
from checkout.web.notifications_page import end_push, forget_push_cookie, pushed_to
from shopcommon.auth import Role
from shopcommon.problems import ProblemError

log = logging.getLogger(__name__)
router = page_router()
LOGOUT_PATH = "/logout"
#: Sessions begun while the refresh cookie went to `/api/v1/auth` alone carried the refresh token
#: again in this cookie, for `/logout`; logging out still reads and clears it.
LEGACY_LOGOUT_COOKIE = "web_logout"

WRONG_LOGIN = "That username and password do not match an account. Check them and try again."
WRONG_CODE = "That code is wrong or has expired. Ask for a new one, or try again."
BAD_EMAIL = "Enter the email address of your account, like name@example.com."
MISSING_LOGIN = "Enter your username and your password."


def _identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request, next: str | None = None) -> Response:
    user = await signed_in(request)
    if user is not None and (target := safe_next(next)):
        return RedirectResponse(target, status_code=303)  # signed in already: on to where they were going
    return await page(
        request, "landing.html.j2", user=user, title="Welcome", home=HOME.get(user.role, "/shop") if user else "/",
        next=safe_next(next), code_sent=False, email=None, username=None,
    )  # fmt: skip


async def _landing_error(
    request: Request, status: int, error: str, refusal: ProblemError | None = None, **context: Any
) -> HTMLResponse:
    """The landing page saying what went wrong; a refusal's `Retry-After` (a 429) goes with it."""
    values: dict[str, Any] = {"code_sent": False, "email": None, "username": None, "next": None, **context}
    response = await page(request, "landing.html.j2", status, user=None, title="Welcome", home="/", error=error,
                          **values)  # fmt: skip
    retry_after = (refusal.headers or {}).get("Retry-After") if refusal else None
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


async def _end_previous(session: AsyncSession, request: Request) -> None:
    """Signing in over a session of this browser ends that one: its cookie is about to be replaced,
    and its refresh token would otherwise stay good for its whole lifetime, held by no one."""
    if previous := request.cookies.get(REFRESH_COOKIE):
        await tokens.logout(session, previous)


def _signed_in_response(request: Request, pair: dict[str, Any], role: str, target: str | None) -> RedirectResponse:
    identity = _identity(request)
    response = RedirectResponse(target or HOME.get(Role(role), "/shop"), status_code=303)
    set_session_cookies(response, identity, pair)
    return response


@router.post("/login", response_class=HTMLResponse, openapi_extra=LIMITED)
async def password_login(request: Request) -> Response:
    form = await checked_form(request)
    target = safe_next(form.get("next"))
    try:
        body = TypeAdapter(LoginRequest).validate_python(
            {"username": form.get("username", ""), "password": form.get("password", "")}
        )
    except ValidationError:
        return await _landing_error(request, 422, MISSING_LOGIN, username=form.get("username"), next=target)
    identity = _identity(request)
    try:
        refuse_cross_site(request)
        async with request.app.state.sessionmaker() as session, session.begin():
            user = await login.password_login(
                session, identity, login=body.username, password=body.password, ip=client_ip(request)
            )
            pair = await login.issue_pair(session, identity, user)
            await _end_previous(session, request)
    except ProblemError as exc:
        words = WRONG_LOGIN if exc.slug == "invalid-credentials" else problem_words(exc)
        return await _landing_error(request, exc.status, words, exc, username=body.username, next=target)
    log.info("user %s signed in on the web pages", user.id)
    return _signed_in_response(request, pair, user.role, target)


@router.post("/login/code", response_class=HTMLResponse, openapi_extra=LIMITED)
async def email_code(request: Request, background: BackgroundTasks) -> Response:
    form = await checked_form(request)
    target = safe_next(form.get("next"))
    try:
        body = OtpRequest.model_validate({"email": form.get("email", "")})
    except ValidationError:
        return await _landing_error(request, 422, BAD_EMAIL, email=form.get("email"), next=target)
    identity = _identity(request)
    try:
        await login.request_code(identity, email=body.email, ip=client_ip(request))
    except ProblemError as exc:
        return await _landing_error(request, exc.status, problem_words(exc), exc, email=body.email, next=target)
    background.add_task(
        otp.send_code, sessionmaker=request.app.state.read_sessionmaker, identity=identity, email=body.email
    )
    return await page(
        request, "landing.html.j2", user=None, title="Welcome", home="/", code_sent=True, email=body.email,
        username=None, next=target,
    )  # fmt: skip


@router.post("/login/code/verify", response_class=HTMLResponse, openapi_extra=LIMITED)
async def verify_code(request: Request) -> Response:
    form = await checked_form(request)
    target = safe_next(form.get("next"))
    try:
        body = OtpVerify.model_validate({"email": form.get("email", ""), "code": form.get("code", "")})
    except ValidationError:
        return await _landing_error(
            request, 422, WRONG_CODE, code_sent=bool(form.get("email")), email=form.get("email"), next=target
        )
    identity = _identity(request)
    try:
        refuse_cross_site(request)
        async with request.app.state.sessionmaker() as session, session.begin():
            pair = await login.otp_login(session, identity, email=body.email, code=body.code, ip=client_ip(request))
            await _end_previous(session, request)
        claims = await request.app.state.token_verifier.verify(pair["access_token"])
    except ProblemError as exc:
        words = WRONG_CODE if exc.slug == "invalid-code" else problem_words(exc)
        return await _landing_error(request, exc.status, words, exc, code_sent=True, email=body.email, next=target)
    log.info("user %s signed in on the web pages with an emailed code", claims["sub"])
    return _signed_in_response(request, pair, str(claims["role"]), target)


@router.post(LOGOUT_PATH, response_class=HTMLResponse, openapi_extra=LIMITED)
async def logout(request: Request) -> Response:
    """Ends the session: its refresh token stops working and every cookie of it is cleared; this
    browser's web push subscription ends too (after the answer)."""
    await checked_form(request)  # a forged form logs nobody out
    endpoint = pushed_to(request)
    user = await signed_in(request) if endpoint else None
    refresh = request.cookies.get(REFRESH_COOKIE) or request.cookies.get(LEGACY_LOGOUT_COOKIE)
    if refresh:
        async with request.app.state.sessionmaker() as session, session.begin():
            await tokens.logout(session, refresh)
    identity = _identity(request)
    response = RedirectResponse("/", status_code=303)
    if endpoint:
        if user is not None:
            response.background = BackgroundTask(end_push, request, user, endpoint)
        forget_push_cookie(request, response)
    clear_session_cookies(response, identity)
    response.delete_cookie(LEGACY_LOGOUT_COOKIE, path=LOGOUT_PATH, secure=identity.cookie_secure, httponly=True,
                           samesite="strict")  # fmt: skip
    return response
