"""E-mail messages sent to citizens: headers, plain-text and HTML parts, and a minimal HTML page."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import settings

# A URL in running text; trailing punctuation of the sentence is not part of it.
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING_PUNCTUATION = ".,;:!?)»"


def _sender_domain() -> str:
    address = parseaddr(settings.mail_from())[1]
    return address.rpartition("@")[2] or "localhost"


def new_message_id() -> str:
    """A unique RFC 5322 Message-ID, `<...@domain>`, in the domain of MAIL_FROM."""
    return make_msgid(domain=_sender_domain())


def compose(recipient: str, subject: str, text: str, html: str, message_id: str | None = None) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) from MAIL_FROM to `recipient`.

    Raises ValueError when a header value is unusable (e.g. a line break in the address)."""
    message = EmailMessage()
    message["From"] = settings.mail_from()
    message["To"] = recipient
    message["Reply-To"] = settings.mail_reply_to()
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now().astimezone())
    message["Message-ID"] = message_id or new_message_id()
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps every line 7-bit: no server needs 8BITMIME.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = "fr"  # after the parts: set_content() clears Content-* headers
    return message


def _linked(paragraph: str) -> str:
    """Escape a paragraph, turning http(s) URLs into links and line breaks into <br>."""
    parts = []
    position = 0
    for match in _URL.finditer(paragraph):
        url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        if not url or url.endswith("//"):
            continue
        parts.append(html_lib.escape(paragraph[position : match.start()]))
        escaped = html_lib.escape(url, quote=True)
        parts.append(f'<a href="{escaped}" style="color: #000091; text-decoration: underline;">{escaped}</a>')
        position = match.start() + len(url)
    parts.append(html_lib.escape(paragraph[position:]))
    return "".join(parts).replace("\n", "<br>\n")


def html_page(title: str, paragraphs: list[str]) -> str:
    """A minimal, accessible HTML e-mail body in French: every text is escaped, URLs become links."""
    escaped_title = html_lib.escape(title)
    body = "\n".join(f'<p style="margin: 0 0 16px 0;">{_linked(paragraph)}</p>' for paragraph in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escaped_title}</title>
</head>
<body style="margin: 0; padding: 16px; background: #ffffff; color: #1e1e1e; font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5;">
<div role="article" aria-label="{escaped_title}" lang="fr" style="max-width: 640px; margin: 0 auto;">
<h1 style="font-size: 22px; line-height: 1.3; margin: 0 0 16px 0;">{escaped_title}</h1>
{body}
</div>
</body>
</html>
"""
