"""Every table this project declares, in its two databases.

`metadata`: the application database. Alembic (migrations/env.py) compares migrations against
it, and a test checks that the migrated database matches it. Modules read and write these
tables through the functions of their owner: requests (gdpr.requests), operator accounts
(console.accounts), reviews (console.reviews).

`conversation_log_metadata`: the tables kept beside Rasa's `events` table in the conversation
log database (TRACKER_STORE_URL), owned by conversations.log and conversations.summary. Rasa's
`events` table itself is never declared here (SPEC §2: no two components create a table of the
same name).
"""

import sqlalchemy as sa

metadata = sa.MetaData()

gdpr_requests = sa.Table(
    "gdpr_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("data_scope", sa.String(30), nullable=False),
    sa.Column("controller", sa.String(200), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("wrong_data", sa.Text),
    sa.Column("correct_data", sa.Text),
    sa.Column("objection_reason", sa.Text),
    # When the citizen proved the e-mail address and the request was recorded (status « reçue »).
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    # The legal deadline in force (gdpr.deadlines): NULL while it has not started to run
    # (DEADLINE_STARTS_ON=transmission and the request is not transmitted yet).
    sa.Column("deadline", sa.Date),
    # The first month's deadline, kept when the deadline is extended (art. 12.3).
    sa.Column("initial_deadline", sa.Date),
    # Transmission to the controller (console « Transmise au responsable »).
    sa.Column("transmitted_on", sa.Date),
    sa.Column("transmitted_to", sa.String(200)),
    sa.Column("transmission_channel", sa.String(40)),
    sa.Column("transmitted_by", sa.String(100)),
    # Extension of the deadline by one or two months (art. 12.3), with its mandatory reason.
    sa.Column("extension_reason", sa.Text),
    sa.Column("extended_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
    sa.Column("letter_key", sa.String(64), nullable=False),
    sa.Index("ix_gdpr_requests_status_deadline", "status", "deadline"),
)

request_drafts = sa.Table(
    "request_drafts",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("submission_key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("answers", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

request_status_changes = sa.Table(
    "request_status_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("gdpr_requests.id"), nullable=False, index=True),
    sa.Column("old_status", sa.String(20)),
    sa.Column("new_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("changed_by", sa.String(100), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    # What happened: a status change, the transmission to the controller, or an extension.
    sa.Column("action", sa.String(20), nullable=False, server_default="statut"),
)

# --- Proof of the citizen's e-mail address (a 6-digit code sent before recording) ---------
# One row per code sent. The code itself is never stored: only its keyed hash (HMAC).
# Rows are bound to the draft they prove (submission_key) and to the address as typed.
email_verifications = sa.Table(
    "email_verifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("submission_key", sa.String(64), nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("verified_at", sa.DateTime(timezone=True)),
)

# --- Outgoing e-mail (the outbox): queued in the same transaction as what it reports, -----
# sent by mail.sender with retries and backoff; its history is shown in the console.
outgoing_emails = sa.Table(
    "outgoing_emails",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # One e-mail per event, whatever the retries (e.g. "ack:HDH-2026-000123").
    sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
    sa.Column("purpose", sa.String(30), nullable=False),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("gdpr_requests.id"), index=True),
    # Or the message to the team it belongs to (acknowledgement, answer).
    sa.Column(
        "team_message_id",
        sa.Integer,
        sa.ForeignKey("team_messages.id", name="fk_outgoing_emails_team_message"),
        index=True,
    ),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("message_id", sa.String(200), nullable=False, unique=True),
    # « en attente » → « envoyé », or « refusé » (the address was rejected: permanent).
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.String(200)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index("ix_outgoing_emails_status_next", "status", "next_attempt_at"),
)

# --- Console -------------------------------------------------------------------------
operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Bumped by logout and password change: every session cookie of the account stops working.
    sa.Column("session_version", sa.Integer, nullable=False, server_default="1"),
    # lecteur, réviseur, dpo or admin: what the operator may open (console/permissions.py).
    sa.Column("role", sa.String(20), nullable=False, server_default="lecteur"),
    # Single sign-on (console.oidc): the operator's professional e-mail address, in lower case,
    # set by an administrator (the provider's verified address finds the account by it), and the
    # provider's identity (issuer, `sub`) recorded by the account's latest single sign-on, which
    # still finds it if the provider's address changes. A login never creates an account.
    sa.Column("email", sa.String(254)),
    sa.Column("sso_issuer", sa.String(500)),
    sa.Column("sso_subject", sa.String(255)),
    sa.Index("uq_operators_email", "email", unique=True),
    sa.Index("uq_operators_sso_identity", "sso_issuer", "sso_subject", unique=True),
)

# Who set or removed which operator's single sign-on e-mail address, and when.
operator_email_changes = sa.Table(
    "operator_email_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("old_email", sa.String(254)),
    sa.Column("new_email", sa.String(254)),
    sa.Column("changed_by", sa.String(100), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

# Who gave which role to which operator, and when (old_role is NULL when the account was created).
operator_role_changes = sa.Table(
    "operator_role_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("old_role", sa.String(20)),
    sa.Column("new_role", sa.String(20), nullable=False),
    sa.Column("changed_by", sa.String(100), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("event_id", sa.Integer),
    sa.Column("message_text", sa.Text),
    sa.Column("tag", sa.String(30)),
    sa.Column("note", sa.Text),
    sa.Column("correct_label", sa.String(100)),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# --- Citizens' feedback on fact answers (« Cette réponse vous a-t-elle aidé ? ») ---------
# One row per answer a citizen rated (changeable: the latest choice wins); the console reads
# it for per-fact satisfaction and « Faits à revoir ».
answer_feedback = sa.Table(
    "answer_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("answer_id", sa.String(32), nullable=False),
    sa.Column("fact_id", sa.String(100), nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(30)),
    # The citizen added a comment: its text stays in the conversation log, masked like any message.
    sa.Column("commented", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("sender_id", "answer_id", name="uq_answer_feedback_answer"),
)

# --- « Écrire à l'équipe »: questions citizens leave for the data-protection team ---------
# Recorded only once the citizen's address is proven (gdpr.verification); the question is
# stored masked (no NIR, names, addresses or health details); answered by e-mail from the console.
team_messages = sa.Table(
    "team_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    # « nouveau » → « attribué » → « répondu » → « clos », or « indésirable » (spam).
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("assigned_to", sa.String(100)),
    sa.Column("answer", sa.Text),
    sa.Column("answered_by", sa.String(100)),
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_team_messages_status_created", "status", "created_at"),
)

team_message_events = sa.Table(
    "team_message_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("team_messages.id"), nullable=False, index=True),
    sa.Column("action", sa.String(30), nullable=False),  # reçu, attribué, répondu, clos, indésirable
    sa.Column("detail", sa.Text),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


# --- The conversation log database: per-conversation summaries beside Rasa's `events` -----------
# Written by the tracker store in the transaction that stores the events they summarise, so the
# console lists, filters and counts conversations without aggregating every event (issue #20).
# Created, and filled from the stored events, by conversations.summary.ensure_tables (the tracker
# store's start or the console's first read); `python -m conversations.summary` rebuilds them.
# Only masked data, as in `events`.
conversation_log_metadata = sa.MetaData()

conversation_summaries = sa.Table(
    "conversation_summaries",
    conversation_log_metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("first_at", sa.Float),  # epoch seconds of the first and the latest event
    sa.Column("last_at", sa.Float),
    sa.Column("turns", sa.Integer, nullable=False, server_default="0"),  # citizen messages
    sa.Column("fallbacks", sa.Integer, nullable=False, server_default="0"),  # replies with custom.fallback
    sa.Column("fallback_reason", sa.String(40)),  # the latest fallback's reason
    sa.Column("hesitations", sa.Integer, nullable=False, server_default="0"),  # « Vouliez-vous dire… ? »
    sa.Column("forms", sa.Integer, nullable=False, server_default="0"),  # request form events
    sa.Column("lowest_confidence", sa.Float),  # lowest NLU intent confidence of a citizen message
    # The latest citizen message no fallback has followed yet (stripped, lower case, masked), so
    # that a fallback in a later save still knows which question it left unanswered.
    sa.Column("pending_question", sa.Text),
    sa.Column("pending_at", sa.Float),
    # Newest first, keyset pagination, date filters; the confidence filter reads the index only.
    sa.Index("ix_conversation_summaries_last", "last_at", "sender_id", "lowest_confidence"),
    # The dashboard: conversations started per day, with or without a fallback (covering).
    sa.Index("ix_conversation_summaries_first", "first_at", "fallbacks"),
    # The list filters that keep a small share of conversations: newest first among them only.
    *(
        sa.Index(
            f"ix_conversation_summaries_{column}",
            "last_at",
            "sender_id",
            postgresql_where=sa.text(f"{column} > 0"),
            sqlite_where=sa.text(f"{column} > 0"),
        )
        for column in ("fallbacks", "hesitations", "forms")
    ),
)

# One row per fact given (each `last_fact_id` slot event): the fact filter, the facts of a listed
# conversation, and the dashboard's « faits donnés » over any period.
conversation_facts = sa.Table(
    "conversation_facts",
    conversation_log_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("fact_id", sa.String(100), nullable=False),
    sa.Column("at", sa.Float),
    sa.Index("ix_conversation_facts_fact", "fact_id", "sender_id"),
    sa.Index("ix_conversation_facts_at", "at", "fact_id"),
)

# One row per fallback reply, with the citizen's message it left unanswered (masked, lower case;
# NULL when a fallback already answered that message): the dashboard's « questions sans réponse ».
conversation_fallbacks = sa.Table(
    "conversation_fallbacks",
    conversation_log_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("at", sa.Float),
    sa.Column("reason", sa.String(40)),
    sa.Column("question", sa.Text),
    sa.Column("question_at", sa.Float),
    sa.Index("ix_conversation_fallbacks_at", "at"),
)

# The masked text of every citizen message, for the console's text search: a GIN index over its
# French tsvector on PostgreSQL, an FTS5 index (external content, kept by triggers) on SQLite.
conversation_texts = sa.Table(
    "conversation_texts",
    conversation_log_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
)
CONVERSATION_TEXTS_FTS = "conversation_texts_fts"  # SQLite only
TEXT_SEARCH_CONFIGURATION = "french"  # PostgreSQL only
sa.event.listen(
    conversation_texts,
    "after_create",
    sa.DDL(
        "CREATE INDEX ix_conversation_texts_search ON conversation_texts "
        f"USING gin (to_tsvector('{TEXT_SEARCH_CONFIGURATION}', text))"
    ).execute_if(dialect="postgresql"),
)
for _statement in (
    f"CREATE VIRTUAL TABLE {CONVERSATION_TEXTS_FTS} USING fts5(text, content='conversation_texts', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER conversation_texts_ai AFTER INSERT ON conversation_texts BEGIN "
    f"INSERT INTO {CONVERSATION_TEXTS_FTS}(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER conversation_texts_ad AFTER DELETE ON conversation_texts BEGIN "
    f"INSERT INTO {CONVERSATION_TEXTS_FTS}({CONVERSATION_TEXTS_FTS}, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    f"CREATE TRIGGER conversation_texts_au AFTER UPDATE ON conversation_texts BEGIN "
    f"INSERT INTO {CONVERSATION_TEXTS_FTS}({CONVERSATION_TEXTS_FTS}, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    f"INSERT INTO {CONVERSATION_TEXTS_FTS}(rowid, text) VALUES (new.id, new.text); END",
):
    sa.event.listen(conversation_texts, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
