"""Personal data a citizen types never reaches the servers' logs or the conversation log."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from devtools.mailbox import latest_code

pytestmark = pytest.mark.servers


def test_personal_data_is_not_logged(assistant, servers_dir, tracker_store_url, mail_dir):
    token = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))  # letters only: a valid name
    first, last = f"Zéphyrine{token}", f"Quillebeuf{token}"
    email = f"zq.{token}@example.org"
    nir = "2 84 12 75 123 456 78"
    phone = "06 98 76 54 32"
    citizen = f"privacy-{token}"
    steps = [
        (f"bonjour, mon numéro de sécu est {nir} et mon téléphone {phone}", None),
        ("annuler", None),
        ("/request_rectification", 1),
        ("Mes données de l'Assurance maladie (SNDS)", 2),
        (first, 3),
        (last, 4),
        (email, 5),
        (f"mon adresse {email} est mal écrite dans le dossier", 6),
        ("la bonne adresse est celle que je vous ai donnée", 7),
        ("/affirm", 8),
        ("{code}", None),
    ]
    code = None
    for text, next_step in steps:
        if text == "{code}":
            text = code = latest_code(mail_dir, email)
        replies = assistant.say(citizen, text)
        assert replies
        if next_step:
            forms = [r["custom"]["form"] for r in replies if "form" in r.get("custom", {})]
            assert forms and forms[-1]["step"] == next_step, (text, replies)
    assert any("request" in r.get("custom", {}) for r in replies), "the request was stored"
    logs = "\n".join(p.read_text(errors="replace") for p in servers_dir.glob("*.log"))
    assert logs, "server logs were captured"
    with sa.create_engine(tracker_store_url).connect() as connection:
        stored = "\n".join(
            connection.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": citizen}).scalars()
        )
    # The verification code: six digits, so look for it as a number on its own (timestamps hold digits).
    assert not re.search(rf"(?<!\d){code}(?!\d)", logs), "the verification code is in a server log"
    user_texts = [e.get("text") or "" for e in map(json.loads, stored.splitlines()) if e.get("event") == "user"]
    assert "[code masqué]" in user_texts and not any(code in t for t in user_texts)
    for secret in (first, last, email, nir, nir.replace(" ", ""), phone, token):
        assert secret not in logs, f"{secret!r} found in a server log"
        assert secret not in stored.replace(citizen, ""), f"{secret!r} found in the conversation log"


def _stored_bytes(tracker_store_url: str) -> str:
    """The SQLite database file and its write-ahead log, as bytes decoded leniently."""
    path = Path(sa.engine.make_url(tracker_store_url).database)
    parts = [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
    assert parts, "the conversation database exists"
    return b"".join(parts).decode("utf-8", errors="ignore")


def test_names_addresses_and_conditions_typed_anywhere_are_not_stored(
    assistant, servers_dir, tracker_store_url, app_database_url
):
    """Issue #19: free text outside forms and at a form step that did not expect it."""
    from devtools.console_client import logged_in_client

    token = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    surname, street, relative = f"Kerbrat{token}", f"Glycines{token}", f"Maëlys{token}"
    outside = f"outside-{token}"
    in_form = f"inform-{token}"
    message = (
        f"Bonjour, je m'appelle Marie {surname}, j'habite 12 rue des {street} à Nantes. "
        "J'ai un cancer du sein et je veux savoir qui voit mes données"
    )
    assert assistant.say(outside, message)
    assert assistant.say(outside, f"ma fille {relative} est séropositive, est-elle dans le SNDS ?")

    replies = assistant.say(in_form, "/request_erasure")
    assert replies[-1]["custom"]["form"]["step"] == 1
    assert assistant.say(in_form, surname)  # a surname typed where the form asks which data
    assert assistant.say(in_form, message)  # the whole story, still at the first step
    assert assistant.say(in_form, "annuler")

    stored = _stored_bytes(tracker_store_url)
    assert outside in stored and in_form in stored, "the conversations were stored"
    logs = "\n".join(p.read_text(errors="replace") for p in servers_dir.glob("*.log"))
    client = logged_in_client(tracker_store_url, app_database_url)
    pages = "".join(
        client.get(f"/console/conversations/{sender}").get_data(as_text=True) for sender in (outside, in_form)
    )
    assert "[nom masqué]" in pages and "[adresse masquée]" in pages and "[détail de santé masqué]" in pages
    pages += client.get("/console/conversations").get_data(as_text=True)
    pages += client.get("/console/corrections.yml").get_data(as_text=True)
    stored, pages = (t.replace(outside, "").replace(in_form, "") for t in (stored, pages))
    for secret in (surname, street, relative, token, "cancer du sein", "séropositive"):
        if secret != token:  # raw pages also hold pieces of the sender ids, which contain the token
            assert secret not in stored, f"{secret!r} found in the SQLite database or its log"
        assert secret not in logs, f"{secret!r} found in a server log"
        assert secret not in pages, f"{secret!r} shown by the console"
