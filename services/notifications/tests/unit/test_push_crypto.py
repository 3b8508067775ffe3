import orjson
from py_vapid import Vapid02

from notifications.push import PushTarget, WebPushClient, load_vapid, valid_subscription_keys, vapid_public_key
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
    headers = client.headers("https://push.test:8443/abc/def")
    assert headers["TTL"] == "60" and headers["Content-Encoding"] == "aes128gcm"
    assert Vapid02.verify(headers["Authorization"])
    assert headers["Authorization"].endswith("k=" + vapid_public_key(vapid))


def test_subscription_keys_are_checked_for_shape() -> None:
    keys = PushSubscriber("https://push.test/x").subscription()["keys"]
    assert valid_subscription_keys(keys["p256dh"], keys["auth"])
    assert not valid_subscription_keys(keys["auth"], keys["auth"])
    assert not valid_subscription_keys("!!!", keys["auth"])
