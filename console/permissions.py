"""Who may open what in the console (issue #22.1): the one permission table, checked server-side
for every request by the parent blueprint (console.routes), and used to hide the links an
operator cannot follow.

Each console endpoint lists, per HTTP method, the roles allowed. Default deny: an endpoint or a
method missing from the table is refused to every role (a test checks every registered console
endpoint is in the table). Each operator has one role; `admin` manages accounts and reads what a
`lecteur` reads, but does not open requests, messages or reviews (separation of duties: give the
person a second account with the role they need)."""

from __future__ import annotations

from typing import Dict, FrozenSet, Mapping

LECTEUR, REVISEUR, DPO, ADMIN = "lecteur", "réviseur", "dpo", "admin"
ROLES = (LECTEUR, REVISEUR, DPO, ADMIN)
DEFAULT_ROLE = LECTEUR
# What each role is for, as shown on the « Comptes » page.
ROLE_DESCRIPTIONS = {
    LECTEUR: "tableau de bord et conversations (masquées), en lecture",
    REVISEUR: "lecteur + revue des conversations, export des corrections, « Faits à revoir »",
    DPO: "lecteur + demandes RGPD et leurs actions, export CSV, « Messages » et leurs réponses",
    ADMIN: "lecteur + comptes des opérateurs, leurs rôles et leurs adresses de connexion unique",
}

EVERYONE: FrozenSet[str] = frozenset(ROLES)
REVIEWERS: FrozenSet[str] = frozenset({REVISEUR})
OFFICERS: FrozenSet[str] = frozenset({DPO})
ADMINS: FrozenSet[str] = frozenset({ADMIN})

# The login pages are the only ones open without an operator: the password form, and single
# sign-on's start, callback and return from the provider's logout (console.oidc).
PUBLIC_ENDPOINTS = frozenset(
    {"console.login.login", "console.login.sso.start", "console.login.sso.callback", "console.login.sso.logged_out"}
)

PERMISSIONS: Mapping[str, Mapping[str, FrozenSet[str]]] = {
    "console.home": {"GET": EVERYONE},
    "console.login.logout": {"POST": EVERYONE},
    # Reading: aggregated figures and conversations as stored (personal data masked).
    "console.dashboard.dashboard": {"GET": EVERYONE},
    "console.conversations.conversations": {"GET": EVERYONE},
    "console.conversations.transcript": {"GET": EVERYONE, "POST": REVIEWERS},
    # Review.
    "console.conversations.corrections_export": {"GET": REVIEWERS},
    "console.facts_review.facts_to_review": {"GET": REVIEWERS},
    # Requests (names, e-mail addresses) and messages to the team (e-mail addresses).
    "console.requests.requests_queue": {"GET": OFFICERS},
    "console.requests.requests_csv": {"GET": OFFICERS},
    "console.requests.request_detail": {"GET": OFFICERS, "POST": OFFICERS},
    "console.requests.request_transmission": {"POST": OFFICERS},
    "console.requests.request_extension": {"POST": OFFICERS},
    "console.team_messages.messages": {"GET": OFFICERS},
    "console.team_messages.message_detail": {"GET": OFFICERS},
    "console.team_messages.message_assign": {"POST": OFFICERS},
    "console.team_messages.message_answer": {"POST": OFFICERS},
    "console.team_messages.message_close": {"POST": OFFICERS},
    "console.team_messages.message_spam": {"POST": OFFICERS},
    "console.dev_mail.sink_messages": {"GET": OFFICERS},  # the e-mails citizens would receive
    # Accounts.
    "console.operators.accounts": {"GET": ADMINS},
    "console.operators.change_role": {"POST": ADMINS},
    "console.operators.change_email": {"POST": ADMINS},
}

# Where « /console/ » and a login without a return path lead, by role.
HOME_ENDPOINTS: Dict[str, str] = {
    LECTEUR: "console.dashboard.dashboard",
    REVISEUR: "console.conversations.conversations",
    DPO: "console.requests.requests_queue",
    ADMIN: "console.operators.accounts",
}


def roles_allowed(endpoint: str, method: str = "GET") -> FrozenSet[str]:
    """The roles that may call `endpoint` with `method` (HEAD and OPTIONS count as GET)."""
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    return PERMISSIONS.get(endpoint, {}).get(method, frozenset())


def allowed(role: str, endpoint: str, method: str = "GET") -> bool:
    return role in roles_allowed(endpoint, method)
