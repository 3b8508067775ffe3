"""The subscription body's schema says what the service accepts: a request the document admits is
never refused for its shape (the fuzzer's `positive_data_acceptance`), and keys of that shape are
always keys the service can use."""

import base64
import os
import random
from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from notifications.api.schemas import PushKeys, PushSubscriptionIn, PushUnsubscribeIn
from notifications.main import create_app
from notifications.push import valid_subscription_keys

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app()
    return app.openapi()


def component(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    """The document's schema of `name`, checked as schemathesis checks it (formats asserted)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def b64url(raw: bytes, padded: bool) -> str:
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def candidate_keys(rng: random.Random) -> list[tuple[str, str]]:
    """Real-looking keys (padded or not), and near misses: a wrong first byte, a wrong length,
    trailing bits set, characters outside base64url, random text."""
    out = []
    for _ in range(300):
        point = b"\x04" + os.urandom(64)
        secret = os.urandom(16)
        p256dh, auth = b64url(point, rng.random() < 0.3), b64url(secret, rng.random() < 0.3)
        match rng.randrange(8):
            case 0:
                p256dh = b64url(bytes([rng.randrange(256)]) + point[1:], False)
            case 1:
                p256dh = b64url(point[: rng.randrange(60, 66)], False)
            case 2:
                auth = auth[:-1] + rng.choice(ALPHABET)
            case 3:
                p256dh = p256dh[:-1] + rng.choice(ALPHABET)
            case 4:
                auth = auth[:5] + rng.choice("+/=. \x00") + auth[6:]
            case 5:
                auth = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 30)))
        out.append((p256dh, auth))
    return out


def test_keys_the_document_admits_are_exactly_those_the_model_admits_and_all_usable(
    document: dict[str, Any],
) -> None:
    schema = component(document, "PushKeys")
    candidates = candidate_keys(random.Random(12))
    admitted = 0
    for p256dh, auth in candidates:
        body = {"p256dh": p256dh, "auth": auth}
        try:
            PushKeys.model_validate(body)
            model_ok = True
        except ValidationError:
            model_ok = False
        assert schema.is_valid(body) == model_ok, body
        if model_ok:
            admitted += 1
            assert valid_subscription_keys(p256dh, auth), body
    assert 0 < admitted < len(candidates)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bH-x_y~z",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk%3D",
        "https://web.push.apple.com/QGuQyavXutnMH",
        "https://push.test:8443/push/abc?x=1#f",
    ],
)
def test_a_real_push_endpoint_is_admitted_by_the_document_and_the_model(
    document: dict[str, Any], endpoint: str
) -> None:
    keys = {"p256dh": b64url(b"\x04" + bytes(64), False), "auth": b64url(bytes(16), False)}
    body = {"endpoint": endpoint, "keys": keys}
    assert component(document, "PushSubscriptionIn").is_valid(body)
    assert PushSubscriptionIn.model_validate(body).endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.com/push/abc",
        "HTTPS://push.example.com/push/abc",
        "https://",
        "https://push.example.com/a b",
        "https://push.example.com/\x00",
        "https://push.example.com/é",
        "https://push.example.com/" + "a" * 3000,
    ],
)
def test_an_endpoint_the_document_refuses_the_model_refuses(document: dict[str, Any], endpoint: str) -> None:
    keys = {"p256dh": b64url(b"\x04" + bytes(64), False), "auth": b64url(bytes(16), False)}
    body = {"endpoint": endpoint, "keys": keys}
    assert not component(document, "PushSubscriptionIn").is_valid(body)
    with pytest.raises(ValidationError):
        PushSubscriptionIn.model_validate(body)


@pytest.mark.parametrize("endpoint", ["https://push.example.com/\x00", "\x00", "a\x00b"])
def test_an_endpoint_to_unsubscribe_holding_nul_is_refused_by_the_document_and_the_model(
    document: dict[str, Any], endpoint: str
) -> None:
    """No subscription can hold NUL (PostgreSQL cannot store it): the document says so, and the
    model refuses it, naming the field, before the database is asked."""
    assert not component(document, "PushUnsubscribeIn").is_valid({"endpoint": endpoint})
    with pytest.raises(ValidationError) as caught:
        PushUnsubscribeIn.model_validate({"endpoint": endpoint})
    assert caught.value.errors()[0]["loc"] == ("endpoint",)
