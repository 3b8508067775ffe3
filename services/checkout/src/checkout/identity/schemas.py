"""Identity payloads on the wire, apart from the tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

from shopcommon.patching import PartialUpdate
from shopcommon.validation import NO_NUL

# Text: the document states every rule the validator applies, in the same regex, and nothing is
# stripped, so a value the schema accepts is taken as sent. Character classes are spelt out: `\s`
# means different things in ECMA-262 (the document's regex), Rust's regex (pydantic's) and
# Python's `str.strip` (U+0085, U+FEFF and others).
#: Control characters (C0, DEL, C1): no name or address holds them (NUL cannot even be stored).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: Control characters, and whitespace by ECMA-262's `\s` or Python's `str.isspace`.
_BLANK = _CONTROL + r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: A person's name: empty, or text without control characters that neither starts nor ends with
#: whitespace ("Mary Ann" yes, " Mary" no).
NAME_PATTERN = rf"^(?:[^{_BLANK}](?:[^{_CONTROL}]*[^{_BLANK}])?)?$"
USERNAME_PATTERN = r"^[A-Za-z0-9_.+-]+$"
EMAIL_PATTERN = rf"^[^@{_BLANK}]+@[^@{_BLANK}]+\.[^@{_BLANK}]+$"
#: The shortest password any deployment accepts: the schema's `minLength`. A deployment may ask
#: for more (`CHECKOUT_PASSWORD_MIN_LENGTH`); a shorter one is then refused as `weak-password`.
PASSWORD_MIN_LENGTH = 8

Username = Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=USERNAME_PATTERN)]
Name = Annotated[str, StringConstraints(max_length=150, pattern=NAME_PATTERN)]
#: A new password: taken as sent (spaces included). Rules a schema cannot state (4 distinct
#: characters, not a common password, not the username, a longer deployment minimum) are 422
#: `weak-password`.
Password = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=128,
        pattern=NO_NUL,
        description=(
            f"At least {PASSWORD_MIN_LENGTH} characters (more if the deployment asks), at least 4 different "
            "ones, not one of the most common passwords and not containing the username; otherwise 422 "
            "`weak-password`."
        ),
    ),
]
#: A product-stub category name, as product-stub takes one (any text without NUL).
Category = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Secret = Annotated[str, Field(min_length=1, max_length=512, pattern=NO_NUL)]
#: A username or an email address, as sign-in takes either.
Login = Annotated[str, Field(min_length=1, max_length=254, pattern=NO_NUL)]
#: A password presented to sign in or to confirm a change: whatever the account has (older or demo
#: accounts may hold passwords today's rules would refuse).
LoginPassword = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
#: Addresses are compared and stored lowercased; deliverability is proven by the emailed code or token.
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(str.lower)]


class UserRole(StrEnum):
    """Roles a user account can hold (`service` belongs to clients, never to users)."""

    CUSTOMER = "customer"
    WORKER = "worker"
    MANAGER = "manager"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class User(BaseModel):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: UserRole
    categories: list[str] | None = Field(default=None, description="Only for workers: the categories they work on.")
    email_verified: bool | None = Field(
        default=None,
        description=(
            "Only for `service` callers: whether the account has proven `email`. Mail nothing but "
            "address confirmations to an unproven address."
        ),
    )
    active: bool | None = Field(
        default=None,
        description=(
            "For workers, and for any account a manager has deactivated: `false` once deactivated (it "
            "cannot sign in, and gets no fulfilment tasks). Left out for other active accounts."
        ),
    )

    @model_serializer(mode="wrap")
    def _optional_fields_only_where_they_apply(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in ("categories", "email_verified", "active"):
                if data.get(name) is None:
                    data.pop(name, None)
        return data


#: A worker's categories (product-stub category names); stored sorted, without repeats.
Categories = Annotated[list[Category], Field(max_length=50)]


class UserCreate(Strict):
    """Registration makes a customer; only a manager may name another `role` (and a worker's
    `categories`): from anyone else they are refused."""

    username: Username
    email: Email
    password: Password
    first_name: Name = ""
    last_name: Name = ""
    role: UserRole | None = Field(default=None, description="Managers only: the new account's role (`customer`).")
    categories: Categories | None = Field(
        default=None, description="Managers only: a new worker's categories (ignored for other roles)."
    )


class UserUpdate(PartialUpdate):
    """Only managers may send `role`, `categories` and `active`; changing your own password needs
    the current one. A field left out keeps its value; `null` is refused."""

    username: Username | None = None
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    password: Password | None = None
    current_password: LoginPassword | None = None
    role: UserRole | None = None
    categories: Categories | None = None
    active: bool | None = Field(
        default=None,
        description="`false` deactivates the account: its sessions end and it cannot sign in until set `true` again.",
    )


class PasswordGrant(BaseModel):
    grant_type: Literal["password"] = "password"
    username: Login
    password: LoginPassword


class ClientCredentialsGrant(BaseModel):
    grant_type: Literal["client_credentials"]
    client_id: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    client_secret: Secret


class RefreshTokenGrant(BaseModel):
    grant_type: Literal["refresh_token"]
    refresh_token: Secret


TokenRequest = Annotated[PasswordGrant | ClientCredentialsGrant | RefreshTokenGrant, Field(discriminator="grant_type")]


class LoginRequest(BaseModel):
    username: Login
    password: LoginPassword


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str | None = Field(default=None, description="Absent for `service` tokens.")


class RefreshRequest(Strict):
    refresh_token: Secret


class LogoutRequest(BaseModel):
    refresh_token: Secret | None = Field(default=None, description="Without it, the web session's cookie.")


class VerifyRequest(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=8192, pattern=NO_NUL)]


class OtpRequest(BaseModel):
    email: Email


class OtpVerify(BaseModel):
    email: Email
    code: Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL)]


class VerifyEmail(Strict):
    """Confirming an address takes the emailed token and the account's password: the token proves
    the mailbox, the password the registrant (so a link clicked by someone else confirms nothing)."""

    token: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    password: LoginPassword


class ResendVerification(Strict):
    email: Email


class Accepted(BaseModel):
    detail: str


class WebSession(BaseModel):
    """What the cookie login answers: the tokens themselves stay in HttpOnly cookies."""

    user: User
    csrf_token: str
    expires_in: int


def user_out(row: Any, *, email_verified: bool = False) -> User:
    """The wire form of an account; `email_verified` adds whether its address is proven."""
    return User(
        id=row.id,
        username=row.username,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        role=row.role,
        categories=list(row.categories) if row.role == UserRole.WORKER else None,
        email_verified=(row.email_verified_at is not None) if email_verified else None,
        active=row.active if row.role == UserRole.WORKER or not row.active else None,
    )
