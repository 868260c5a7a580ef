"""Operator accounts (argon2-hashed passwords) and the console's request processing."""
from __future__ import annotations

import datetime as dt
import getpass
import re
import sys
from typing import Any, List, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mesdonnees.requests_repository import (
    STATUSES,
    RequestRepository,
    gdpr_requests,
    metadata,
    request_status_changes,
)

operators = sa.Table(
    "operators", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9._-]{3,100}$")
MIN_PASSWORD_LENGTH = 12
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class OperatorError(ValueError):
    pass


def create_operator(repo: RequestRepository, username: str, password: str) -> None:
    if not USERNAME.match(username):
        raise OperatorError("Identifiant : 3 à 100 caractères parmi a-z, 0-9, point, tiret, souligné.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"Mot de passe : {MIN_PASSWORD_LENGTH} caractères au moins.")
    with repo.engine.begin() as connection:
        exists = connection.execute(sa.select(operators.c.id).where(operators.c.username == username)).first()
        if exists:
            connection.execute(operators.update().where(operators.c.username == username)
                               .values(password_hash=_hasher.hash(password)))
        else:
            connection.execute(operators.insert().values(
                username=username, password_hash=_hasher.hash(password), created_at=dt.datetime.now(dt.timezone.utc)))


def authenticate(repo: RequestRepository, username: str, password: str) -> bool:
    with repo.engine.connect() as connection:
        stored = connection.execute(
            sa.select(operators.c.password_hash).where(operators.c.username == username)).scalar()
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def change_status(repo: RequestRepository, reference: str, new_status: str, reason: Optional[str], operator: str,
                  seen_status: Optional[str] = None) -> None:
    """Change a request's status and record who did it, in one transaction.

    `seen_status` is the status the operator had on screen: if another operator changed it
    in the meantime, nothing is written and the error says who did what, instead of one
    decision silently replacing the other.
    """
    if new_status not in STATUSES:
        raise OperatorError("Statut inconnu.")
    reason = (reason or "").strip() or None
    if new_status == "refusée" and not reason:
        raise OperatorError("Un refus doit être motivé.")
    now = dt.datetime.now(dt.timezone.utc)
    with repo.engine.begin() as connection:
        query = sa.select(gdpr_requests.c.id, gdpr_requests.c.status).where(gdpr_requests.c.reference == reference)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()  # a concurrent change waits, then sees this one
        row = connection.execute(query).first()
        if row is None:
            raise OperatorError("Demande introuvable.")
        if seen_status is not None and row.status != seen_status:
            raise OperatorError(_changed_meanwhile(connection, row.id, row.status))
        updated = connection.execute(gdpr_requests.update().where(
            (gdpr_requests.c.id == row.id) & (gdpr_requests.c.status == row.status)
        ).values(status=new_status, status_reason=reason, updated_at=now))
        if updated.rowcount != 1:  # SQLite: another change landed between the read and this write
            raise OperatorError(_changed_meanwhile(connection, row.id, None))
        connection.execute(request_status_changes.insert().values(
            request_id=row.id, old_status=row.status, new_status=new_status, reason=reason,
            changed_by=operator, changed_at=now))


def _changed_meanwhile(connection: Any, request_id: int, status: Optional[str]) -> str:
    last = connection.execute(
        sa.select(request_status_changes.c.new_status, request_status_changes.c.changed_by, request_status_changes.c.changed_at)
        .where(request_status_changes.c.request_id == request_id)
        .order_by(request_status_changes.c.id.desc()).limit(1)).first()
    if last is None:
        return "La demande a été modifiée entre-temps : rechargez la page avant de changer son statut."
    when = last.changed_at.strftime("%d/%m/%Y %H:%M")
    return (f"Entre-temps, {last.changed_by} a passé cette demande au statut « {status or last.new_status} » "
            f"({when}). Votre changement n'a pas été enregistré : vérifiez l'historique, puis recommencez si besoin.")


def status_history(repo: RequestRepository, reference: str) -> List[dict]:
    with repo.engine.connect() as connection:
        rows = connection.execute(
            sa.select(request_status_changes).join(gdpr_requests, gdpr_requests.c.id == request_status_changes.c.request_id)
            .where(gdpr_requests.c.reference == reference).order_by(request_status_changes.c.id)).mappings().all()
    return [dict(r) for r in rows]


def main(argv: List[str]) -> int:
    """python -m mesdonnees.operators USERNAME  (password asked, or OPERATOR_PASSWORD)."""
    import os

    if len(argv) != 2:
        print("usage: make operator NAME=identifiant", file=sys.stderr)
        return 2
    password = os.environ.get("OPERATOR_PASSWORD") or getpass.getpass("Mot de passe (12 caractères au moins) : ")
    try:
        create_operator(RequestRepository(), argv[1], password)
    except OperatorError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Compte opérateur « {argv[1]} » enregistré.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
