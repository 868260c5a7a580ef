"""Rasa SQL tracker store that masks personal data before anything is written.

Configured in ``endpoints.yml`` as ``type: rasa_addons.tracker_store.MaskingSQLTrackerStore``.
The database comes from ``TRACKER_STORE_URL`` (SQLite file under ``var/`` by default).
User texts, bot texts, entities and slot values are masked (e-mails, phone numbers,
NIR-like numbers, and the values of personal slots such as names) in what is stored
and in what is published to an event broker. The running conversation keeps the real
values in memory only for the turn that collects them.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from typing import Any, Iterable, List, Optional, Set, Text, Tuple

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401 - sa.orm.session
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine.url import make_url

import rasa_addons
import settings
from conversations import log as conversation_log
from gdpr.kinds import PERSONAL_SLOTS
from metrics import rasa_server as rasa_metrics
from privacy import free_text
from privacy.events import mask_event_dict
from privacy.masking import VALUE_MASK
from rasa_addons import speedups as rasa_speedups
from storage.database import private_sqlite_file, sqlite_pragmas

logger = logging.getLogger(__name__)


def _known_personal_values(events: Iterable[Event]) -> Set[str]:
    values: Set[str] = set()
    for event in events:
        if isinstance(event, SlotSet) and event.key in PERSONAL_SLOTS:
            if isinstance(event.value, str) and event.value != VALUE_MASK:
                values.add(event.value)
    return values


def _answers_to_personal_questions(events: Iterable[Event]) -> Set[str]:
    """Texts a form took as the answer to a personal question, valid or not.

    A valid answer is masked through its slot value; one the form's validation refused never
    becomes a slot value, yet it is the same kind of datum (« Marie-Claire (épouse Dupont) »
    as a first name). A message answered the requested slot when the form then set that slot
    (to the value or, refused, to None) before the next message; a question asked in the
    middle of a form leaves the slot alone and is not masked whole."""
    from rasa.shared.core.events import UserUttered

    answers: Set[str] = set()
    requested: Optional[str] = None
    pending: Optional[str] = None  # text of the latest message while a personal slot was asked
    for event in events:
        if isinstance(event, UserUttered):
            pending = event.text if requested in PERSONAL_SLOTS and event.text else None
        elif isinstance(event, SlotSet):
            if event.key == "requested_slot":
                requested = event.value
            elif pending is not None and event.key == requested:
                answers.add(pending)
                pending = None
    return answers


def _warm_up_masking() -> None:
    try:
        free_text.warm_up()
    except Exception as error:  # noqa: BLE001 - masking falls back to its other rules
        logger.warning("masking warm-up failed: %s", type(error).__name__)


def _engine(url: Any) -> sa.engine.Engine:
    if url.get_backend_name() != "sqlite" or not url.database:
        # Replace connections a database restart broke instead of failing a citizen's message.
        return sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
    # SQLAlchemy 1.4 opens and closes a new SQLite connection for every session (NullPool);
    # in WAL mode each close of the last connection also checkpoints the log. Keeping a few
    # connections open halves the cost of a turn's read and write (docs/benchmarks.md). Rasa
    # uses them from its event loop only, one at a time.
    engine = sa.create_engine(
        url, poolclass=sa.pool.QueuePool, pool_size=2, max_overflow=8, connect_args={"check_same_thread": False}
    )
    sa.event.listen(engine, "connect", sqlite_pragmas)  # WAL: the console's reads don't block saves
    return engine


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore storing and streaming only masked events."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        url: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        rasa_addons.install()
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as `host`
        parsed = make_url(url or settings.tracker_store_url())
        if parsed.get_backend_name() == "sqlite":
            private_sqlite_file(parsed.database)
        super().__init__(
            domain=domain,
            dialect=parsed.drivername,
            host=parsed.host,
            port=parsed.port,
            db=parsed.database,
            username=parsed.username,
            password=parsed.password,
            event_broker=event_broker,
            query=dict(parsed.query) or None,
            **kwargs,
        )
        url = self.engine.url
        self.engine.dispose()
        self.engine = _engine(url)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        # The console's per-conversation summaries (conversations.summary): created, and filled
        # from the conversations stored before them, once, before the first save.
        conversation_log.ensure_summaries(self.engine)
        # Masking names needs spaCy's NER; load it now, in the background, not on a citizen's turn.
        threading.Thread(target=_warm_up_masking, name="masking-warm-up", daemon=True).start()

    # Rasa's ORM query for "the events of the latest session" costs more to build (SQLAlchemy
    # cache keys) than to run: about a tenth of the server's time under load. The same
    # selection, as plain SQL on the indexed sender_id, in two short statements.
    def _latest_session_start(self, session: Any, sender_id: Text) -> Optional[float]:
        return session.execute(
            conversation_log.SESSION_START, {"sender_id": sender_id, "type_name": SessionStarted.type_name}
        ).scalar()

    def _stored_event_count(self, session: Any, sender_id: Text) -> Tuple[int, bool]:
        """(events of the latest session stored, whether the conversation has none stored at all)."""
        since = self._latest_session_start(session, sender_id)
        if since is None:
            stored = session.execute(conversation_log.COUNT, {"sender_id": sender_id}).scalar() or 0
            return stored, stored == 0
        stored = session.execute(conversation_log.COUNT_SINCE, {"sender_id": sender_id, "since": since}).scalar() or 0
        return stored, False

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        """Same result as Rasa's: the latest session's events (or all), in storage order."""
        if not rasa_speedups.enabled():
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            since = None if fetch_events_from_all_sessions else self._latest_session_start(session, sender_id)
            if since is None:
                rows = session.execute(conversation_log.EVENTS, {"sender_id": sender_id}).all()
            else:
                rows = session.execute(conversation_log.EVENTS_SINCE, {"sender_id": sender_id, "since": since}).all()
            events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> Tuple[List[Event], bool]:
        """(events not stored yet, whether they are the conversation's first)."""
        if rasa_speedups.enabled():
            stored, first = self._stored_event_count(session, tracker.sender_id)
        else:
            stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            first = False  # not known: the summary is then computed from all the stored events
        return list(itertools.islice(tracker.events, stored, len(tracker.events))), first

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publishing happens in `save`, with the masked events."""

    def _draft_values(self, tracker: DialogueStateTracker) -> Set[str]:
        """Answers of a request form in progress (kept in the application database)."""
        if not tracker.active_loop_name:
            return set()
        from gdpr.requests import RequestRepository, StorageUnavailable

        try:
            return RequestRepository().personal_values_for(tracker.sender_id)
        except StorageUnavailable:
            logger.warning("could not read request draft values to mask them")
            return set()

    async def save(self, tracker: DialogueStateTracker) -> None:
        known = (
            _known_personal_values(tracker.events)
            | self._draft_values(tracker)
            | _answers_to_personal_questions(tracker.events)
        )
        with self.session_scope() as session:
            rows, records = [], []
            new_events, first = self._new_events(session, tracker)
            for event in new_events:
                data = mask_event_dict(event.as_dict(), known)
                rows.append(data)
                records.append(conversation_log.event_row(tracker.sender_id, event.type_name, data))
            if records:
                # One multi-row insert, without the ORM's unit of work (a third of a save's time).
                session.execute(self.SQLEvent.__table__.insert(), records)
                # The conversation's summary, in the same transaction: the console never lists
                # events its summary does not count.
                conversation_log.record_saved(
                    session.connection(),
                    tracker.sender_id,
                    [{**record, "event": data} for record, data in zip(records, rows, strict=True)],
                    first=first,
                )
            session.commit()
        rasa_metrics.observe_saved_events(tracker, new_events, self.domain)  # fallbacks, forms (metrics/)
        if self.event_broker is not None:
            for data in rows:
                self.event_broker.publish({"sender_id": tracker.sender_id, **data})
