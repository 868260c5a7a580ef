"""Rasa SQL tracker store that masks personal data before anything is written.

Configured in ``endpoints.yml`` as ``type: mesdonnees.tracker_store.MaskingSQLTrackerStore``.
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
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Text

from rasa.core.brokers.broker import EventBroker
import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401 - sa.orm.session
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine.url import make_url

from mesdonnees import settings
from mesdonnees.pii import VALUE_MASK, mask_text, mask_value

logger = logging.getLogger(__name__)


def _known_personal_values(events: Iterable[Event]) -> Set[str]:
    values: Set[str] = set()
    for event in events:
        if isinstance(event, SlotSet) and event.key in settings.PERSONAL_SLOTS:
            if isinstance(event.value, str) and event.value != VALUE_MASK:
                values.add(event.value)
    return values


def mask_event_dict(data: Dict[str, Any], known_values: Iterable[str]) -> Dict[str, Any]:
    """Return a copy of a serialised event with personal data masked."""
    known = list(known_values)
    masked = dict(data)
    event_type = data.get("event")
    if event_type == "slot":
        if data.get("name") in settings.PERSONAL_SLOTS and data.get("value") is not None:
            masked["value"] = VALUE_MASK
        else:
            masked["value"] = mask_value(data.get("value"), known)
        return masked
    if event_type in ("user", "bot"):
        if isinstance(data.get("text"), str):
            masked["text"] = mask_text(data["text"], known)
        for key in ("parse_data", "data", "metadata"):
            if key in data:
                masked[key] = mask_value(data[key], known)
    return masked


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore storing and streaming only masked events."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        url: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as `host`
        parsed = make_url(url or settings.tracker_store_url())
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
        # Replace connections a database restart broke instead of failing a citizen's message.
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        return list(itertools.islice(tracker.events, stored, len(tracker.events)))

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publishing happens in `save`, with the masked events."""

    def _draft_values(self, tracker: DialogueStateTracker) -> Set[str]:
        """Answers of a request form in progress (kept in the application database)."""
        if not tracker.active_loop_name:
            return set()
        from mesdonnees.requests_repository import RequestRepository, StorageUnavailable

        try:
            return RequestRepository().personal_values_for(tracker.sender_id)
        except StorageUnavailable:
            logger.warning("could not read request draft values to mask them")
            return set()

    async def save(self, tracker: DialogueStateTracker) -> None:
        known = _known_personal_values(tracker.events) | self._draft_values(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._new_events(session, tracker):
                data = mask_event_dict(event.as_dict(), known)
                rows.append(data)
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        if self.event_broker is not None:
            for data in rows:
                self.event_broker.publish({"sender_id": tracker.sender_id, **data})
