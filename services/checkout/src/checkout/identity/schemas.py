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


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here, as a 422 naming the field, not in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


#: Every text field of identity's payloads carries this.
NoNul = AfterValidator(_refuse_nul)

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.+-]+$"), NoNul
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=150), NoNul]
Password = Annotated[str, Field(max_length=128), NoNul]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul]
Secret = Annotated[str, Field(min_length=1, max_length=512), NoNul]
#: A username or an email address, as sign-in takes either.
Login = Annotated[str, Field(min_length=1, max_length=254), NoNul]
LoginPassword = Annotated[str, Field(min_length=1, max_length=128), NoNul]
#: Addresses are compared and stored lowercased; deliverability is proven by the one-time code.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    NoNul,
    AfterValidator(str.lower),
]


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

    @model_serializer(mode="wrap")
    def _optional_fields_only_where_they_apply(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in ("categories", "email_verified"):
                if data.get(name) is None:
                    data.pop(name, None)
        return data


class UserCreate(Strict):
    """Registration makes a customer; a `role` in the body is refused."""

    username: Username
    email: Email
    password: Password
    first_name: Name = ""
    last_name: Name = ""


class UserUpdate(Strict):
    """Only managers may send `role` and `categories`; changing your own password needs the current one."""

    username: Username | None = None
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    password: Password | None = None
    current_password: Password | None = None
    role: UserRole | None = None
    categories: Annotated[list[Category], Field(max_length=50)] | None = None


class PasswordGrant(BaseModel):
    grant_type: Literal["password"] = "password"
    username: Login
    password: LoginPassword


class ClientCredentialsGrant(BaseModel):
    grant_type: Literal["client_credentials"]
    client_id: Annotated[str, Field(min_length=1, max_length=100), NoNul]
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
    token: Annotated[str, Field(min_length=1, max_length=8192), NoNul]


class OtpRequest(BaseModel):
    email: Email


class OtpVerify(BaseModel):
    email: Email
    code: Annotated[str, Field(min_length=1, max_length=16), NoNul]


class VerifyEmail(Strict):
    """Confirming an address takes the emailed token and the account's password: the token proves
    the mailbox, the password the registrant (so a link clicked by someone else confirms nothing)."""

    token: Annotated[str, Field(min_length=1, max_length=200), NoNul]
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


def user_out(row: Any, *, email_verified: bool = False) -> dict[str, Any]:
    """The wire form of a user row; `email_verified` adds whether its address is proven."""
    out = {
        "id": row.id,
        "username": row.username,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "role": row.role,
    }
    if row.role == UserRole.WORKER:
        out["categories"] = list(row.categories)
    if email_verified:
        out["email_verified"] = row.email_verified_at is not None
    return out
