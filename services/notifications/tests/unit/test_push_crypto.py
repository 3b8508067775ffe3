import base64

import orjson
import pytest
from py_vapid import Vapid02

from notifications.api.schemas import PushKeys
from notifications.push import (
    PushTarget,
    WebPushClient,
    b64url_decode,
    load_vapid,
    on_p256,
    valid_subscription_keys,
    vapid_public_key,
)
from notifications.push_guard import parse_push_endpoint
from notifications.testing.push_service import PushSubscriber

RAW_KEY = "iJqBKhlAm8F4hF0dP4-b3qVlaBc6eNvJBiEKgUCM8LU"


def test_a_payload_encrypted_for_a_subscription_decrypts_with_its_private_key() -> None:
    subscriber = PushSubscriber("https://push.test/abc")
    keys = subscriber.subscription()["keys"]
    client = WebPushClient(None, load_vapid(RAW_KEY), "mailto:ops@shop.test", ttl=60)  # type: ignore[arg-type]
    body = client.encrypt(PushTarget(subscriber.endpoint, keys["p256dh"], keys["auth"]), b'{"order_id": 5}')
    assert orjson.loads(subscriber.decrypt(body)) == {"order_id": 5}


def test_vapid_headers_are_signed_for_the_endpoint_origin_and_carry_a_ttl() -> None:
    vapid = load_vapid(RAW_KEY)
    client = WebPushClient(None, vapid, "mailto:ops@shop.test", ttl=60)  # type: ignore[arg-type]
    headers = client.headers(parse_push_endpoint("https://push.test:8443/abc/def"))
    assert headers["TTL"] == "60" and headers["Content-Encoding"] == "aes128gcm"
    assert Vapid02.verify(headers["Authorization"])
    assert headers["Authorization"].endswith("k=" + vapid_public_key(vapid))
    assert audience(headers) == "https://push.test:8443"


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://Push.Test:443/abc", "https://push.test"),
        ("https://8.8.8.8:8443/abc", "https://8.8.8.8:8443"),
    ],
)
def test_the_vapid_audience_is_the_endpoints_origin(endpoint: str, origin: str) -> None:
    client = WebPushClient(None, load_vapid(RAW_KEY), "mailto:ops@shop.test", ttl=60)  # type: ignore[arg-type]
    assert audience(client.headers(parse_push_endpoint(endpoint))) == origin


def audience(headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("vapid t=").split(",")[0]
    return str(orjson.loads(b64url_decode(token.split(".")[1]))["aud"])


def test_subscription_keys_are_checked_for_shape() -> None:
    keys = PushSubscriber("https://push.test/x").subscription()["keys"]
    assert valid_subscription_keys(keys["p256dh"], keys["auth"])
    assert not valid_subscription_keys(keys["auth"], keys["auth"])
    assert not valid_subscription_keys("!!!", keys["auth"])


def test_a_key_of_the_right_shape_off_the_curve_is_refused() -> None:
    """Once stored with a 201, then dropped silently when its first push could not encrypt."""
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    auth = PushSubscriber("https://push.test/x").subscription()["keys"]["auth"]
    PushKeys.model_validate({"p256dh": off_curve, "auth": auth})  # the document's shape admits it
    assert valid_subscription_keys(off_curve, auth) and not on_p256(off_curve)
    assert on_p256(PushSubscriber("https://push.test/y").subscription()["keys"]["p256dh"])
