"""Console conversation queries checked against a tracker store the real Rasa server filled."""

from __future__ import annotations

import re
from typing import Set

import sqlalchemy as sa

from console import transcripts as conversation_pages
from devtools.console_client import logged_in_client


def listed(client, query: str = "") -> Set[str]:
    """Every conversation the list shows for a query, following the keyset pages."""
    found, path = [], f"/console/conversations?{query}"
    while path:
        response = client.get(path)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        found += re.findall(r'href="/console/conversations/([^"]+)"', page)
        more = re.search(r'href="(/console/conversations\?[^"]*apres=[^"]+)"', page)
        path = more.group(1).replace("&amp;", "&") if more else None
    assert len(found) == len(set(found)), "a conversation appears on two pages"
    return set(found)


def _senders_without_user_messages(tracker_url: str) -> Set[str]:
    with sa.create_engine(tracker_url).connect() as connection:
        every = set(connection.execute(sa.text("SELECT DISTINCT sender_id FROM events")).scalars())
        talking = set(
            connection.execute(sa.text("SELECT DISTINCT sender_id FROM events WHERE type_name = 'user'")).scalars()
        )
    return every - talking


def check_queries(
    tracker_url: str,
    app_url: str,
    fallback_sender: str,
    fact_sender: str,
    fact_id: str,
    form_sender: str,
    page_size: int = 3,
) -> None:
    client = logged_in_client(tracker_url, app_url)
    original = conversation_pages.PAGE_SIZE
    conversation_pages.PAGE_SIZE = page_size  # walk several keyset pages
    try:
        with sa.create_engine(tracker_url).connect() as connection:
            all_senders = set(connection.execute(sa.text("SELECT DISTINCT sender_id FROM events")).scalars())
        assert listed(client) == all_senders
        fallbacks = listed(client, "repli=1")
        assert fallback_sender in fallbacks and fact_sender not in fallbacks
        assert fact_sender in listed(client, f"fait={fact_id}")
        assert form_sender in listed(client, "demande=1") and fact_sender not in listed(client, "demande=1")
        assert listed(client, "q=zzzzzz-absent") == set()
        assert listed(client, "confiance_max=1.01") == all_senders - _senders_without_user_messages(tracker_url)
        assert listed(client, "confiance_max=0") == set()
        for injection in ("' OR 1=1 --", "%' UNION SELECT sender_id FROM events --"):
            assert listed(client, f"q={injection}") == set()
        transcript = client.get(f"/console/conversations/{fact_sender}").get_data(as_text=True)
        assert fact_id in transcript and "Compris : faq" in transcript
    finally:
        conversation_pages.PAGE_SIZE = original
