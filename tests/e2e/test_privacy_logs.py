"""Personal data a citizen types never reaches the servers' logs or the conversation log."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.servers


def test_personal_data_is_not_logged(assistant, servers_dir, tracker_store_url):
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
        ("/affirm", None),
    ]
    for text, next_step in steps:
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
    for secret in (first, last, email, nir, nir.replace(" ", ""), phone, token):
        assert secret not in logs, f"{secret!r} found in a server log"
        assert secret not in stored.replace(citizen, ""), f"{secret!r} found in the conversation log"
