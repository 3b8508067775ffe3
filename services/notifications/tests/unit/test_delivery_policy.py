from notifications.domain.delivery import RetryPolicy


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=10, max_attempts=5)
    assert [policy.delay_after(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_the_policy_gives_up_after_the_last_attempt() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=10, max_attempts=3)
    assert not policy.gives_up_after(2)
    assert policy.gives_up_after(3)
