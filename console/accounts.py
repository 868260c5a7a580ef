"""Operator accounts of the console (argon2-hashed passwords, one role each, role changes audited;
single sign-on e-mail addresses set by an administrator, audited too); `make operator NAME=… [ROLE=…]`."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import sys
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import settings
from console.permissions import ADMIN, DEFAULT_ROLE, REVISEUR, ROLES
from gdpr.requests import RequestRepository
from storage.schema import operator_email_changes, operator_role_changes, operators

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9._-]{3,100}$")
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
MIN_PASSWORD_LENGTH = 12
COMMAND_LINE = "ligne de commande"  # changed_by of a role set by `make operator`
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class OperatorError(ValueError):
    pass


def valid_role(role: str) -> str:
    """The role as stored; `reviseur` (typed without the accent) is accepted for `réviseur`."""
    role = (role or "").strip().lower()
    if role == "reviseur":
        role = REVISEUR
    if role not in ROLES:
        raise OperatorError(f"Rôle inconnu « {role[:30]} » : choisissez parmi {', '.join(ROLES)}.")
    return role


def create_operator(
    repo: RequestRepository,
    username: str,
    password: str,
    role: Optional[str] = None,
    changed_by: str = COMMAND_LINE,
) -> None:
    """Create the account (role `lecteur` unless `role` says otherwise), or give an existing one a
    new password (its role unchanged unless `role` is given). Every role given is audited."""
    if not USERNAME.match(username):
        raise OperatorError("Identifiant : 3 à 100 caractères parmi a-z, 0-9, point, tiret, souligné.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"Mot de passe : {MIN_PASSWORD_LENGTH} caractères au moins.")
    role = valid_role(role) if role is not None else None
    with repo.engine.begin() as connection:
        exists = connection.execute(sa.select(operators.c.id).where(operators.c.username == username)).first()
        if exists:
            # A new password ends every open session of the account.
            connection.execute(
                operators.update()
                .where(operators.c.username == username)
                .values(password_hash=_hasher.hash(password), session_version=operators.c.session_version + 1)
            )
            if role is not None:
                _set_role(connection, username, role, changed_by)
        else:
            now = dt.datetime.now(dt.timezone.utc)
            connection.execute(
                operators.insert().values(
                    username=username, password_hash=_hasher.hash(password), created_at=now, role=role or DEFAULT_ROLE
                )
            )
            connection.execute(
                operator_role_changes.insert().values(
                    operator=username,
                    old_role=None,
                    new_role=role or DEFAULT_ROLE,
                    changed_by=changed_by,
                    changed_at=now,
                )
            )


def change_role(repo: RequestRepository, username: str, role: str, changed_by: str) -> bool:
    """Give the account another role: audited, and its open sessions end (the new rights apply at
    once). False when it already had that role. The last administrator cannot lose the role."""
    role = valid_role(role)
    with repo.engine.begin() as connection:
        return _set_role(connection, username, role, changed_by)


def _set_role(connection: Any, username: str, role: str, changed_by: str) -> bool:
    # Two administrators demoting each other at the same moment must not leave the console without
    # one. PostgreSQL: the administrators' rows are locked first. SQLite: the no-op write below takes
    # the database's write lock before anything is read. Either way the count after the change is
    # exact, and an error rolls the whole change back.
    connection.execute(sa.select(operators.c.id).where(operators.c.role == ADMIN).with_for_update()).all()
    touched = connection.execute(
        operators.update().where(operators.c.username == username).values(role=operators.c.role)
    ).rowcount
    if not touched:
        raise OperatorError(f"Aucun compte opérateur ne s'appelle « {username[:100]} ».")
    old = connection.execute(sa.select(operators.c.role).where(operators.c.username == username)).scalar()
    if old == role:
        return False
    connection.execute(
        operators.update()
        .where(operators.c.username == username)
        .values(role=role, session_version=operators.c.session_version + 1)
    )
    admins_left = connection.execute(
        sa.select(sa.func.count()).select_from(operators).where(operators.c.role == ADMIN)
    ).scalar()
    if old == ADMIN and not admins_left:
        raise OperatorError(
            f"« {username} » est le dernier administrateur : donnez d'abord le rôle admin à un autre compte."
        )
    connection.execute(
        operator_role_changes.insert().values(
            operator=username,
            old_role=old,
            new_role=role,
            changed_by=changed_by[:100],
            changed_at=dt.datetime.now(dt.timezone.utc),
        )
    )
    return True


def list_operators(repo: RequestRepository) -> List[dict]:
    with repo.engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                sa.select(
                    operators.c.username,
                    operators.c.role,
                    operators.c.created_at,
                    operators.c.email,
                    (operators.c.sso_subject.isnot(None)).label("sso_linked"),
                ).order_by(operators.c.username)
            ).mappings()
        ]


def normal_email(email: Optional[str]) -> Optional[str]:
    """The address as stored and compared (trimmed, lower case), or None when it is not one."""
    email = (email or "").strip().lower()
    return email if len(email) <= 254 and EMAIL.match(email) else None


def set_email(repo: RequestRepository, username: str, email: str, changed_by: str) -> bool:
    """Give the account the professional e-mail address single sign-on finds it by (empty: none).
    Audited. A new address forgets the provider identity recorded by earlier logins, so only the
    owner of the new address can sign in, and ends the account's open sessions. False when the
    address was already this one."""
    new = normal_email(email) if (email or "").strip() else None
    if (email or "").strip() and new is None:
        raise OperatorError("Adresse e-mail non valable.")
    with repo.engine.begin() as connection:
        row = connection.execute(sa.select(operators.c.email).where(operators.c.username == username)).first()
        if row is None:
            raise OperatorError(f"Aucun compte opérateur ne s'appelle « {username[:100]} ».")
        if row[0] == new:
            return False
        if new is not None:
            other = connection.execute(
                sa.select(operators.c.username).where(operators.c.email == new, operators.c.username != username)
            ).scalar()
            if other:
                raise OperatorError(f"Cette adresse est déjà celle du compte « {other} » : une adresse, un compte.")
        connection.execute(
            operators.update()
            .where(operators.c.username == username)
            .values(email=new, sso_issuer=None, sso_subject=None, session_version=operators.c.session_version + 1)
        )
        connection.execute(
            operator_email_changes.insert().values(
                operator=username,
                old_email=row[0],
                new_email=new,
                changed_by=changed_by[:100],
                changed_at=dt.datetime.now(dt.timezone.utc),
            )
        )
    return True


def _latest_changes(repo: RequestRepository, table: sa.Table, limit: int) -> List[dict]:
    """The latest rows of an account change log (role or address), newest first."""
    with repo.engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                sa.select(table).order_by(table.c.changed_at.desc(), table.c.id.desc()).limit(limit)
            ).mappings()
        ]


def email_changes(repo: RequestRepository, limit: int = 200) -> List[dict]:
    """The latest single sign-on address changes, newest first."""
    return _latest_changes(repo, operator_email_changes, limit)


@dataclass(frozen=True)
class SsoMatch:
    """The account a single sign-on identity opens (`username`), and how it was found: `email`
    or `sub`; or no account: `unknown`, or `conflict` (the address and the `sub` name two accounts)."""

    username: Optional[str]
    reason: str


def find_sso_operator(repo: RequestRepository, issuer: str, subject: str, email: Optional[str]) -> SsoMatch:
    """The existing account for an identity the provider vouched for; never creates one.

    By the verified e-mail address first (ProConnect recommends it: its `sub` differs for each
    identity provider an agent may use), recording the identity (issuer, `sub`) on the account;
    else by the identity recorded at an earlier login (the provider's address changed). When the
    address and the identity designate two different accounts, neither opens."""
    address = normal_email(email)
    with repo.engine.begin() as connection:
        by_email = (
            connection.execute(sa.select(operators.c.username).where(operators.c.email == address)).scalar()
            if address
            else None
        )
        by_subject = connection.execute(
            sa.select(operators.c.username).where(operators.c.sso_issuer == issuer, operators.c.sso_subject == subject)
        ).scalar()
        if by_email and by_subject and by_email != by_subject:
            return SsoMatch(None, "conflict")
        if by_email:
            if by_subject != by_email:
                connection.execute(
                    operators.update()
                    .where(operators.c.username == by_email)
                    .values(sso_issuer=issuer, sso_subject=subject)
                )
            return SsoMatch(by_email, "email")
        if by_subject:
            return SsoMatch(by_subject, "sub")
    return SsoMatch(None, "unknown")


def role_changes(repo: RequestRepository, limit: int = 200) -> List[dict]:
    """The latest role changes, newest first."""
    return _latest_changes(repo, operator_role_changes, limit)


def authenticate(repo: RequestRepository, username: str, password: str) -> bool:
    with repo.engine.connect() as connection:
        stored = connection.execute(
            sa.select(operators.c.password_hash).where(operators.c.username == username)
        ).scalar()
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def session_version(repo: RequestRepository, username: str) -> Optional[int]:
    """The account's current session version (None when the account no longer exists)."""
    state = session_state(repo, username)
    return state[0] if state else None


def session_state(repo: RequestRepository, username: str) -> Optional[Tuple[int, str]]:
    """The account's session version and role (None when the account no longer exists)."""
    with repo.engine.connect() as connection:
        row = connection.execute(
            sa.select(operators.c.session_version, operators.c.role).where(operators.c.username == username)
        ).first()
    return (row[0], row[1]) if row else None


def end_sessions(repo: RequestRepository, username: str) -> None:
    """Every session cookie issued to this account stops working (logout, password change)."""
    with repo.engine.begin() as connection:
        connection.execute(
            operators.update()
            .where(operators.c.username == username)
            .values(session_version=operators.c.session_version + 1)
        )


def _exists(repo: RequestRepository, username: str) -> bool:
    return session_state(repo, username) is not None


def main(argv: List[str]) -> int:
    """python -m console.accounts USERNAME [ROLE]

    A new account: password asked (or OPERATOR_PASSWORD), role ROLE or `lecteur`. An existing
    account: with ROLE, only its role changes (audited, no password asked); without ROLE, its
    password is reset and its role kept."""
    if len(argv) not in (2, 3) or not argv[1]:
        print(f"usage: make operator NAME=identifiant [ROLE={'|'.join(ROLES)}]", file=sys.stderr)
        return 2
    username = argv[1]
    repo = RequestRepository()
    try:
        role = valid_role(argv[2]) if len(argv) == 3 and argv[2].strip() else None
        if role is not None and _exists(repo, username):
            changed = change_role(repo, username, role, COMMAND_LINE)
            print(
                f"Compte opérateur « {username} » : rôle {role}"
                + (" (ses sessions ouvertes sont fermées)." if changed else " (inchangé).")
            )
            return 0
        password = settings.operator_password() or getpass.getpass("Mot de passe (12 caractères au moins) : ")
        create_operator(repo, username, password, role)
    except OperatorError as error:
        print(error, file=sys.stderr)
        return 1
    state = session_state(repo, username)
    print(f"Compte opérateur « {username} » enregistré (rôle {state[1] if state else role}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
