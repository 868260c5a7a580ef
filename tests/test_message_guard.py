"""The message guard cleans, caps and neutralises what citizens send."""
import pytest

from mesdonnees.message_guard import RateLimiter, check_text, clean_message, neutralise_payload, valid_sender


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


@pytest.mark.parametrize("raw, reason", [(None, "not_text"), (42, "not_text"), (["x"], "not_text"), ("   ", "empty_message"), ("\x00\x01", "empty_message"), ("x" * 1001, "message_too_long")])
def test_rejected_texts_get_a_french_reply(raw, reason):
    verdict = check_text(raw)
    assert verdict.text is None and verdict.reason == reason and verdict.reply


def test_length_cap_is_configurable(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "10")
    assert check_text("x" * 11).reason == "message_too_long"
    assert check_text("x" * 10).text == "x" * 10


@pytest.mark.parametrize(
    "payload",
    ['/ask_fact{"fact_id":"consent"}', "/affirm", "/cancel", "/request_erasure", '/correct_field{"request_field":"email"}', "/retry_submit"],
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
        "/nlu_fallback",
        "/session_start",
        "//restart",
    ],
)
def test_forged_payloads_become_plain_text(forged):
    neutral = neutralise_payload(forged)
    assert not neutral.startswith("/")


@pytest.mark.parametrize("sender, ok", [("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("", False), (None, False), (12, False), ("a b", False), ("<script>", False)])
def test_sender_ids(sender, ok):
    assert valid_sender(sender) is ok


def test_rate_limiter_window():
    limiter = RateLimiter(per_minute=3)
    assert [limiter.allow("ip", now=t)[0] for t in (0, 1, 2, 3)] == [True, True, True, False]
    allowed, wait = limiter.allow("ip", now=30)
    assert not allowed and 1 <= wait <= 31
    assert limiter.allow("other", now=30)[0]
    assert limiter.allow("ip", now=61)[0]
