"""« Courriels (développement) »: the latest messages the local SMTP sink stored (mail.sink), so
a developer can read what citizens would receive. It exists only while SMTP_URL is a plain
smtp:// server on the loopback (the embedded default); anywhere else it is a 404, and like every
console page it needs an operator's login (console.routes)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

import settings

blueprint = Blueprint("dev_mail", __name__)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def sink_page_available() -> bool:
    """True when outgoing mail goes to a plain SMTP server on this machine (the local sink)."""
    from mail.transport import parse_smtp_url

    try:
        config = parse_smtp_url(settings.smtp_url())
    except ValueError:  # an unusable SMTP_URL: no sink either
        return False
    return config.scheme == "smtp" and config.host.lower() in LOOPBACK_HOSTS


@blueprint.get("/courriels")
def sink_messages():
    if not sink_page_available():
        abort(404)
    from mail.sink import last_messages

    directory = settings.mail_dir()
    messages = last_messages(directory) if directory.exists() else []
    return render_template("console/mails.html", messages=messages, directory=directory)
