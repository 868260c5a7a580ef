"""« Comptes » (admin only, console.permissions): the operators with their roles, the change of
a role (audited; the account's sessions end so the new rights apply at once; the last
administrator keeps the role), the professional e-mail address single sign-on finds an account
by (audited), and the audit tables of both."""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from console import oidc
from console.accounts import OperatorError, change_role, email_changes, list_operators, role_changes, set_email
from console.permissions import ROLE_DESCRIPTIONS, ROLES

blueprint = Blueprint("operators", __name__)


def _page(error: Optional[str] = None, changed: Optional[str] = None, email_changed: Optional[str] = None):
    repo = current_app.config["REPOSITORY"]
    return render_template(
        "console/accounts.html",
        operators=list_operators(repo),
        changes=role_changes(repo),
        email_history=email_changes(repo),
        sso=oidc.configured(),
        roles=ROLES,
        descriptions=ROLE_DESCRIPTIONS,
        error=error,
        changed=changed,
        email_changed=email_changed,
    ), (400 if error else 200)


@blueprint.get("/comptes")
def accounts():
    return _page(
        changed=(request.args.get("modifie") or "")[:100] or None,
        email_changed=(request.args.get("adresse") or "")[:100] or None,
    )


@blueprint.post("/comptes/adresse", endpoint="change_email")
def change_email_of():
    """The address single sign-on finds the account by (empty: the account signs in by password only)."""
    username = (request.form.get("identifiant") or "").strip()[:100]
    try:
        changed = set_email(current_app.config["REPOSITORY"], username, request.form.get("email", "")[:300], g.operator)
    except OperatorError as problem:
        return _page(error=str(problem))
    return redirect(url_for("console.operators.accounts", adresse=username if changed else None))


@blueprint.post("/comptes/role", endpoint="change_role")
def change_role_of():
    username = (request.form.get("identifiant") or "").strip()[:100]
    try:
        changed = change_role(current_app.config["REPOSITORY"], username, request.form.get("role", ""), g.operator)
    except OperatorError as problem:
        return _page(error=str(problem))
    # Changing one's own role ends one's own session too: the redirect then leads to the login page.
    return redirect(url_for("console.operators.accounts", modifie=username if changed else None))
