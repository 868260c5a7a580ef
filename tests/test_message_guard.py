"""The message guard cleans, caps and neutralises what citizens send."""

import pytest

from rasa_addons.message_guard import (
    RateLimiter,
    check_text,
    clean_message,
    neutralise_payload,
    rate_limit_client,
    valid_sender,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  bonjour\n\tà tous  ", "bonjour à tous"),
        ("a\x00b\x1bc", "a b c"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("e\u0301", "é"),
        ("emoji 🙂 ok", "emoji 🙂 ok"),
        ("zero\u200bwidth", "zero width"),
    ],
)
def test_clean_message(raw, expected):
    assert clean_message(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "not_text"),
        (42, "not_text"),
        (["x"], "not_text"),
        ("   ", "empty_message"),
        ("\x00\x01", "empty_message"),
        ("x" * 1001, "message_too_long"),
    ],
)
def test_rejected_texts_get_a_french_reply(raw, reason):
    verdict = check_text(raw)
    assert verdict.text is None and verdict.reason == reason and verdict.reply


def test_length_cap_is_configurable(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "10")
    assert check_text("x" * 11).reason == "message_too_long"
    assert check_text("x" * 10).text == "x" * 10


@pytest.mark.parametrize(
    "payload",
    [
        '/ask_fact{"fact_id":"consent"}',
        "/affirm",
        "/cancel",
        "/request_erasure",
        '/correct_field{"request_field":"email"}',
        "/retry_submit",
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","helpful":"yes"}',
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","helpful":"no","reason":"unclear"}',
        '/add_feedback_comment{"answer_id":"a1b2c3d4e5f6","fact_id":"consent"}',
    ],
)
def test_button_payloads_are_kept(payload):
    assert neutralise_payload(payload) == payload


@pytest.mark.parametrize(
    "forged",
    [
        '/request_erasure{"email": "x@example.fr"}',
        '/inform{"first_name": "Jeanne"}',
        '/ask_fact{"fact_id":"nope"}',
        '/ask_fact{"fact_id":"consent","email":"x"}',
        '/correct_field{"request_field":"status"}',
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"nope","helpful":"yes"}',
        '/give_feedback{"answer_id":"<b>","fact_id":"consent","helpful":"yes"}',
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","helpful":"maybe"}',
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","helpful":"no","reason":"x"}',
        '/give_feedback{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","helpful":"no","comment":"Jeanne"}',
        '/add_feedback_comment{"answer_id":"a1b2c3d4e5f6","fact_id":"consent","feedback_comment":"x"}',
        "/nlu_fallback",
        "/session_start",
        "//restart",
    ],
)
def test_forged_payloads_become_plain_text(forged):
    neutral = neutralise_payload(forged)
    assert not neutral.startswith("/")


@pytest.mark.parametrize(
    "sender, ok",
    [
        ("abc-123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (None, False),
        (12, False),
        ("a b", False),
        ("<script>", False),
    ],
)
def test_sender_ids(sender, ok):
    assert valid_sender(sender) is ok


def test_rate_limiter_window():
    limiter = RateLimiter(per_minute=3)
    assert [limiter.allow("ip", now=t)[0] for t in (0, 1, 2, 3)] == [True, True, True, False]
    allowed, wait = limiter.allow("ip", now=30)
    assert not allowed and 1 <= wait <= 31
    assert limiter.allow("other", now=30)[0]
    assert limiter.allow("ip", now=61)[0]


@pytest.mark.parametrize(
    "address, client",
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::ffff]", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_rate_limit_counts_an_ipv6_client_by_its_64(address, client):
    assert rate_limit_client(address) == client


def test_an_ipv6_client_cannot_escape_the_limit_by_changing_address():
    limiter = RateLimiter(per_minute=3)
    answers = [limiter.allow(f"2001:db8:1:2::{i:x}", now=i)[0] for i in range(1, 6)]
    assert answers == [True, True, True, False, False]
    assert limiter.allow("2001:db8:1:3::1", now=6)[0], "another subscriber's network is not limited"


def test_an_ipv6_client_is_limited_by_its_64_across_servers(redis_prefix):
    one, two = shared_limiter(redis_prefix, 2), shared_limiter(redis_prefix, 2)
    assert [one.allow("2001:db8::1")[0], two.allow("2001:db8::2")[0], one.allow("2001:db8::3")[0]] == [
        True,
        True,
        False,
    ]


from devtools.databases import REDIS_URL  # noqa: E402


def shared_limiter(prefix, per_minute, window=60.0):
    """One Rasa server's limiter, with its own Redis connection."""
    from rasa_addons.message_guard import RedisRateLimiter
    from rasa_addons.scale_out import redis_client

    return RedisRateLimiter(redis_client(REDIS_URL), per_minute=per_minute, window=window, key_prefix=prefix)


def test_the_rate_limit_holds_across_servers_sharing_redis(redis_prefix):
    first, second = shared_limiter(redis_prefix, 3), shared_limiter(redis_prefix, 3)
    assert [first.allow("ip")[0], second.allow("ip")[0], first.allow("ip")[0]] == [True, True, True]
    allowed, wait = second.allow("ip")
    assert not allowed and 1 <= wait <= 61
    assert first.allow("other-ip")[0]


def test_the_shared_window_slides(redis_prefix):
    limiter = shared_limiter(redis_prefix, 2, window=60.0)
    assert [limiter.allow("ip", now=t)[0] for t in (1000, 1001, 1002)] == [True, True, False]
    allowed, wait = limiter.allow("ip", now=1030)
    assert not allowed and wait == 31
    assert limiter.allow("ip", now=1060.5)[0]  # the first hit left the window


def test_simultaneous_messages_on_two_servers_never_exceed_the_limit(redis_prefix):
    from concurrent.futures import ThreadPoolExecutor

    servers = [shared_limiter(redis_prefix, 10), shared_limiter(redis_prefix, 10)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(lambda i: servers[i % 2].allow("burst")[0], range(40)))
    assert verdicts.count(True) == 10


def test_the_client_address_is_not_stored_in_redis(redis_prefix):
    import redis

    shared_limiter(redis_prefix, 5).allow("203.0.113.7")
    keys = [k.decode() for k in redis.StrictRedis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}:*")]
    assert len(keys) == 1 and "203.0.113.7" not in keys[0]
    assert 0 < redis.StrictRedis.from_url(REDIS_URL).pttl(keys[0]) <= 60_000


def test_an_unreachable_redis_lets_messages_through(caplog):
    from rasa_addons.message_guard import RedisRateLimiter
    from rasa_addons.scale_out import redis_client

    limiter = RedisRateLimiter(redis_client("redis://127.0.0.1:1/0"), per_minute=1)
    assert limiter.allow("203.0.113.7") == (True, 0) and limiter.allow("203.0.113.7") == (True, 0)
    assert "Redis unavailable" in caplog.text and "203.0.113.7" not in caplog.text


def test_redis_url_selects_the_shared_limiter(monkeypatch):
    from rasa_addons.message_guard import RedisRateLimiter, rate_limiter_from_environment

    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(rate_limiter_from_environment(), RateLimiter)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    assert isinstance(rate_limiter_from_environment(), RedisRateLimiter)


@pytest.mark.parametrize(
    "peer, forwarded_for, trusted, expected",
    [
        ("10.0.0.5", None, 0, "10.0.0.5"),
        ("10.0.0.5", "198.51.100.7", 0, "10.0.0.5"),  # header ignored unless a proxy is trusted
        ("10.0.0.5", "198.51.100.7", 1, "198.51.100.7"),
        ("10.0.0.5", "203.0.113.1, 198.51.100.7", 1, "198.51.100.7"),  # what the client wrote is not trusted
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", 2, "198.51.100.7"),
        ("10.0.0.5", "198.51.100.7", 2, "10.0.0.5"),  # fewer hops than proxies: the header is not whole
        ("10.0.0.5", " , ", 1, "10.0.0.5"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_address(peer, forwarded_for, trusted, expected):
    from settings import client_address

    assert client_address(peer, forwarded_for, trusted) == expected
