"""Pure helpers of the API layer: `Prefer: wait`, request fingerprints, stored answers."""

import pytest

from loms.api.deps import parse_prefer_wait
from loms.repositories.idempotency import StoredKey
from loms.services.idempotency import IdempotencyRequest, KeyInUse, KeyReused, fingerprint, stored_answer


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        (["wait=5"], 5),
        (["WAIT = 7"], 7),
        (['wait="3"'], 3),
        (["respond-async, wait=10"], 10),
        (["return=minimal", "wait=2"], 2),
        (["wait=100"], 30),
        (["wait=0"], 0),
        (["wait=soon"], None),
        (["wait=-1"], None),
        (["waiting=5"], None),
        (["wait=5;foo=bar"], 5),
    ],
)
def test_prefer_wait_is_parsed_and_capped(headers: list[str], expected: int | None) -> None:
    assert parse_prefer_wait(headers, 30) == expected


def test_fingerprint_ignores_key_order() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


REQUEST = IdempotencyRequest("customer:1 POST /x", "k", "h1")


def stored(state: str, request_hash: str = "h1", stale: bool = False) -> StoredKey:
    return StoredKey(
        request_hash, state, 201 if state == "done" else None, '{"ok":1}' if state == "done" else None, None, stale
    )


def test_a_finished_request_is_replayed_byte_for_byte() -> None:
    answer = stored_answer(stored("done"), REQUEST)
    assert answer is not None
    assert (answer.status, answer.body, answer.replayed) == (201, b'{"ok":1}', True)


def test_another_body_under_the_same_key_is_refused() -> None:
    with pytest.raises(KeyReused):
        stored_answer(stored("done", request_hash="h2"), REQUEST)


def test_a_running_request_is_a_409() -> None:
    with pytest.raises(KeyInUse):
        stored_answer(stored("running"), REQUEST)


def test_a_stale_running_request_may_be_recovered() -> None:
    assert stored_answer(stored("running", stale=True), REQUEST) is None
