"""Operator accounts of the console (argon2-hashed passwords); `make operator NAME=…`."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import sys
from typing import List, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import settings
from gdpr.requests import RequestRepository
from storage.schema import operators

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
            # A new password ends every open session of the account.
            connection.execute(
                operators.update()
                .where(operators.c.username == username)
                .values(password_hash=_hasher.hash(password), session_version=operators.c.session_version + 1)
            )
        else:
            connection.execute(
                operators.insert().values(
                    username=username, password_hash=_hasher.hash(password), created_at=dt.datetime.now(dt.timezone.utc)
                )
            )


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
    with repo.engine.connect() as connection:
        return connection.execute(
            sa.select(operators.c.session_version).where(operators.c.username == username)
        ).scalar()


def end_sessions(repo: RequestRepository, username: str) -> None:
    """Every session cookie issued to this account stops working (logout, password change)."""
    with repo.engine.begin() as connection:
        connection.execute(
            operators.update()
            .where(operators.c.username == username)
            .values(session_version=operators.c.session_version + 1)
        )


def main(argv: List[str]) -> int:
    """python -m console.accounts USERNAME  (password asked, or OPERATOR_PASSWORD)."""
    if len(argv) != 2:
        print("usage: make operator NAME=identifiant", file=sys.stderr)
        return 2
    password = settings.operator_password() or getpass.getpass("Mot de passe (12 caractères au moins) : ")
    try:
        create_operator(RequestRepository(), argv[1], password)
    except OperatorError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Compte opérateur « {argv[1]} » enregistré.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
