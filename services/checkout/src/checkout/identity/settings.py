from pydantic_settings import BaseSettings

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

    smtp_url: str = shared("SMTP_URL", "smtp://127.0.0.1:1025")
    mail_from: str = "Tuneless Treasures <no-reply@shop.example>"
    smtp_timeout: float = 10.0

    #: Rate limits (sliding windows of `rate_limit_window` seconds, per IP and per account).
    rate_limit_window: int = 60
    login_failures_per_ip: int = 10
    login_failures_per_account: int = 10
    otp_verify_failures_per_ip: int = 10
    otp_verify_failures_per_account: int = 10
    otp_requests_per_ip: int = 5
    otp_requests_per_email: int = 5
    #: Wrong codes for one address, counted across reissued codes over `otp_failure_window`
    #: seconds: a new code restarts its own five attempts, not this allowance.
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
    password_min_length: int = 8
