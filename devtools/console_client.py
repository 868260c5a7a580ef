"""A console client logged in as an operator (Flask's test client), for tests and benchmarks."""

from __future__ import annotations

import re

from console.accounts import create_operator
from gdpr.requests import RequestRepository
from webapp import create_app

PASSWORD = "correct horse battery staple"


def logged_in_client(tracker_url: str, app_url: str, role: str = "réviseur"):
    """Logged in as `agent.test` with `role` (réviseur: conversations, reviews, « Faits à revoir »)."""
    create_operator(RequestRepository(app_url), "agent.test", PASSWORD, role=role)
    app = create_app(app_url, tracker_url)
    client = app.test_client()
    page = client.get("/console/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/console/connexion", data={"identifiant": "agent.test", "mot_de_passe": PASSWORD, "csrf": token}
        ).status_code
        == 302
    )
    return client
