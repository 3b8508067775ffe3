from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

from checkout.identity.schemas import PASSWORD_MIN_LENGTH
from shopcommon.settings import shared


class IdentitySettings(BaseSettings):
    """Identity settings, read with the CHECKOUT_ prefix (SMTP_URL is shared, unprefixed)."""

    #: Directory of Ed25519 signing keys (PEM, one per kid). Empty in dev: `.data/keys/`, generated.
    jwt_keys_dir: str = ""
    access_token_ttl: int = 900
    refresh_token_ttl: int = 14 * 24 * 3600
    service_token_ttl: int = 900

    #: Clients of the client-credentials grant: "name:secret,name:secret". A name without a secret
    #: gets `dev_secret("client-<name>")` in dev; outside dev a missing secret refuses startup.
    service_clients: str = "loms,notifications"
    #: Key of the HMAC that one-time codes are stored under (dev: a generated dev secret).
    otp_secret: str = ""
    otp_ttl: int = 600
    otp_max_attempts: int = 5
    #: Codes of one address that stay valid side by side: asking again does not void the code
    #: already on its way; a request beyond this retires the oldest.
    otp_live_codes: int = 3
    #: Code emails one address receives per `otp_failure_window` (a day), whoever asks for them.
    otp_emails_per_day: int = 10

    #: Address confirmations (registration, a changed address): the link's lifetime and how many
    #: confirmation mails one address receives per day; how often anyone may ask for another one
    #: (per IP and per address, per `rate_limit_window`).
    email_verification_ttl: int = 24 * 3600
    verification_emails_per_day: int = 5
    verification_requests_per_ip: int = 5
    verification_requests_per_email: int = 5
    #: A registration never confirmed is deleted after this many seconds (it frees its username).
    unconfirmed_account_ttl: int = 7 * 24 * 3600
    #: The confirmation link in the mail: `{token}` is replaced by the token. Empty: the mail
    #: carries the token alone (for a client to send to `POST /api/v1/users/verify-email`).
    email_verification_link: str = ""

    #: Peers trusted to say who the client is in `X-Forwarded-For` (the same variable and meaning
    #: as uvicorn's: comma-separated IPs or CIDRs, `*` for any). The client is the rightmost
    #: address in the header that is not a trusted proxy. Default as uvicorn's: loopback only.
    forwarded_allow_ips: str = shared("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

    #: Outgoing mail (one-time codes, address confirmations). No default outside dev: a production
    #: checkout refuses to start without one, so codes never land in an unauthenticated catcher.
    #: Dev mode falls back to the embedded catcher (`DEV_SMTP_URL`).
    smtp_url: str = shared("SMTP_URL", "")
    mail_from: str = "Tuneless Treasures <no-reply@shop.example>"
    smtp_timeout: float = 10.0

    #: Rate limits (sliding windows of `rate_limit_window` seconds). "Per IP" is per client
    #: address (IPv6: per /64); "per account" is per account *and* client address, so failures
    #: from one place never lock the owner out elsewhere.
    rate_limit_window: int = 60
    login_failures_per_ip: int = 10
    login_failures_per_account: int = 10
    otp_verify_failures_per_ip: int = 10
    otp_verify_failures_per_account: int = 10
    otp_requests_per_ip: int = 5
    otp_requests_per_email: int = 5
    #: Wrong codes for one address from one client address, counted across reissued codes over
    #: `otp_failure_window` seconds: a new code restarts its own five attempts, not this allowance.
    otp_failures_per_email: int = 20
    otp_failure_window: int = 24 * 3600
    #: Accounts registered from one IP per `rate_limit_window`.
    registrations_per_ip: int = 10
    #: Password hashes and verifications running at once (argon2id takes 64 MiB and ~50 ms of CPU each).
    password_hash_concurrency: int = 4

    #: Prefix of identity's keys in Redis (rate-limit windows, one-time codes); tests give each run its own.
    identity_redis_prefix: str = "identity:"

    #: Web cookies are `Secure` outside dev unless this says otherwise.
    cookie_secure: bool | None = None
    #: New passwords' minimum length; never below the documented `minLength` (a password the schema
    #: accepts may be refused by this, as `weak-password`, but never the other way round).
    password_min_length: Annotated[int, Field(ge=PASSWORD_MIN_LENGTH, le=128)] = PASSWORD_MIN_LENGTH
