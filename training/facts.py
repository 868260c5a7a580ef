"""The curated fact catalogue: the single source of truth for every answer.

One YAML file per fact under ``facts/catalogue/``: id, title, answer, sources,
verification date, related facts and the example questions that train the NLU.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence
from urllib.parse import urlparse

import yaml

from gdpr.kinds import KINDS
from settings import PROJECT_ROOT

DEFAULT_CATALOGUE_DIR = PROJECT_ROOT / "facts" / "catalogue"

# Contract (SPEC §3.1): these ids must exist; new ids may be added, none renamed.
REQUIRED_FACT_IDS = (
    "hdh_presentation",
    "hdh_creation",
    "hdh_missions",
    "hdh_governance",
    "snds_presentation",
    "snds_content",
    "data_volume",
    "data_pseudonymisation",
    "data_retention",
    "data_controller",
    "hosting_microsoft",
    "hosting_procurement",
    "cloud_act",
    "hosting_legal_challenges",
    "hosting_migration",
    "data_security",
    "data_access_who",
    "data_access_procedure",
    "data_forbidden_uses",
    "projects_transparency",
    "consent",
    "rights_overview",
    "right_access",
    "right_rectification",
    "right_erasure",
    "right_objection",
    "rights_where",
    "response_deadline",
    "cnil_complaint",
    "dpo_contact",
    "chat_privacy",
    "access_by_health_professionals",
    "data_not_sold",
    "data_breach",
    "ai_training",
    "leave_snds",
    "minors_data",
    "deceased_relative",
    "acting_for_someone",
    "rights_free_of_charge",
    "mon_espace_sante",
    "ehds",
)

MIN_EXAMPLES_PER_FACT = 12
# Plain French (issue #16): a short answer, every acronym spelled out at its first use.
MAX_ANSWER_WORDS = 80
ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")
NAMES_NOT_ACRONYMS = frozenset({"EMC2", "DARWIN"})  # research projects' own names


def undefined_acronyms(answer: str) -> List[str]:
    """Acronyms whose first use is neither « (CNIL) » after the words it stands for, nor
    « CNIL (Commission nationale…) » before them."""
    undefined = []
    for acronym in dict.fromkeys(a for a in ACRONYM.findall(answer) if a not in NAMES_NOT_ACRONYMS):
        first = re.search(rf"\b{acronym}\b", answer)
        before, after = answer[: first.start()], answer[first.end() :]
        inside_brackets = before.rfind("(") > before.rfind(")")
        if not inside_brackets and not after.lstrip().startswith("("):
            undefined.append(acronym)
    return undefined


FACT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
REQUEST_KINDS = tuple(KINDS)  # a fact may offer to start one of these requests


@dataclass(frozen=True)
class Source:
    title: str
    url: str

    def as_dict(self) -> Dict[str, str]:
        return {"title": self.title, "url": self.url}


@dataclass(frozen=True)
class Fact:
    id: str
    title: str
    answer: str
    sources: Sequence[Source]
    verified_on: dt.date
    related: Sequence[str] = ()
    examples: Sequence[str] = ()
    offers_request: Optional[str] = None  # a request kind the answer offers to start

    def payload(self) -> Dict:
        """The machine-readable part of a fact reply (SPEC §3.2)."""
        return {
            "fact_id": self.id,
            "title": self.title,
            "sources": [s.as_dict() for s in self.sources],
            "verified_on": self.verified_on.isoformat(),
        }


class CatalogueError(ValueError):
    """The catalogue is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: List[str]):
        super().__init__("Invalid fact catalogue:\n- " + "\n- ".join(problems))
        self.problems = problems


@dataclass
class Catalogue:
    facts: Dict[str, Fact] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """A short name of what the catalogue makes the assistant say, e.g. `2026-12-01.9c41e07a`:
        the most recent verification date, then the start of a SHA-256 of every fact's answer, title,
        sources, verification date, related facts and offered request (sorted by id). The same facts
        give the same version on any machine, whatever the YAML layout; a change of what a citizen
        reads changes it. The example questions are left out: they shape the model, which has its own
        id. Carried with each fact answer (actions.facts) and shown by the console's transcripts."""
        if not self.facts:
            return ""
        content = [
            {
                "id": fact.id,
                "title": fact.title,
                "answer": fact.answer,
                "sources": [s.as_dict() for s in fact.sources],
                "verified_on": fact.verified_on.isoformat(),
                "related": list(fact.related),
                "offers_request": fact.offers_request,
            }
            for fact in sorted(self.facts.values(), key=lambda f: f.id)
        ]
        digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
        latest = max(fact.verified_on for fact in self.facts.values())
        return f"{latest.isoformat()}.{digest[:8]}"

    def __contains__(self, fact_id: object) -> bool:
        return fact_id in self.facts

    def __getitem__(self, fact_id: str) -> Fact:
        return self.facts[fact_id]

    def get(self, fact_id: Optional[str]) -> Optional[Fact]:
        return self.facts.get(fact_id) if fact_id else None

    def __iter__(self):
        return iter(self.facts.values())

    def __len__(self) -> int:
        return len(self.facts)


def _is_valid_url(value: object) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and "." in parsed.netloc


def _parse_date(value: object) -> Optional[dt.date]:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_fact(raw: object, origin: str, problems: List[str]) -> Optional[Fact]:
    if not isinstance(raw, dict):
        problems.append(f"{origin}: a fact must be a mapping")
        return None
    fact_id = raw.get("id")
    where = f"{origin} ({fact_id})"
    if not isinstance(fact_id, str) or not FACT_ID_PATTERN.match(fact_id):
        problems.append(f"{where}: missing or malformed id")
        return None
    start = len(problems)
    for key in ("title", "answer"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"{where}: missing {key}")
    sources_raw = raw.get("sources")
    sources: List[Source] = []
    if not isinstance(sources_raw, list) or not sources_raw:
        problems.append(f"{where}: a fact needs at least one source")
    else:
        for i, src in enumerate(sources_raw):
            if not isinstance(src, dict) or not str(src.get("title") or "").strip():
                problems.append(f"{where}: source {i + 1} has no title")
                continue
            if not _is_valid_url(src.get("url")):
                problems.append(f"{where}: source {i + 1} has a malformed URL {src.get('url')!r}")
                continue
            sources.append(Source(title=src["title"].strip(), url=src["url"]))
    verified_on = _parse_date(raw.get("verified_on"))
    if verified_on is None:
        problems.append(f"{where}: verified_on must be an ISO date (YYYY-MM-DD)")
    elif verified_on > dt.date.today():
        problems.append(f"{where}: verified_on {verified_on} is in the future")
    related = raw.get("related") or []
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append(f"{where}: related must be a list of fact ids")
        related = []
    examples = raw.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
        problems.append(f"{where}: examples must be a list of non-empty questions")
        examples = []
    answer_text = " ".join(str(raw.get("answer") or "").split())
    if len(answer_text.split()) > MAX_ANSWER_WORDS:
        problems.append(f"{where}: answer has {len(answer_text.split())} words, at most {MAX_ANSWER_WORDS}")
    for acronym in undefined_acronyms(answer_text):
        problems.append(f"{where}: acronym {acronym} is not spelled out at its first use in the answer")
    offers = raw.get("offers_request")
    if offers is not None and offers not in REQUEST_KINDS:
        problems.append(f"{where}: offers_request must be one of {', '.join(REQUEST_KINDS)}")
    if len(problems) > start:
        return None
    return Fact(
        id=fact_id,
        title=raw["title"].strip(),
        answer=" ".join(raw["answer"].split()),
        sources=tuple(sources),
        verified_on=verified_on,
        related=tuple(related),
        examples=tuple(e.strip() for e in examples),
        offers_request=offers,
    )


def load_catalogue(
    directory: Path = DEFAULT_CATALOGUE_DIR,
    required_ids: Sequence[str] = REQUIRED_FACT_IDS,
    min_examples: int = MIN_EXAMPLES_PER_FACT,
) -> Catalogue:
    """Load and validate every fact file; raise CatalogueError listing all problems."""
    problems: List[str] = []
    catalogue = Catalogue()
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise CatalogueError([f"no fact file in {directory}"])
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(f"{path.name}: not valid YAML ({error.__class__.__name__})")
            continue
        fact = _parse_fact(raw, path.name, problems)
        if fact is None:
            continue
        if fact.id != path.stem:
            problems.append(f"{path.name}: id {fact.id!r} does not match the file name")
        if fact.id in catalogue.facts:
            problems.append(f"{path.name}: duplicate id {fact.id!r}")
        catalogue.facts[fact.id] = fact
    for fact_id in required_ids:
        if fact_id not in catalogue.facts:
            problems.append(f"missing fact for required id {fact_id!r}")
    seen_examples: Dict[str, str] = {}
    for fact in catalogue:
        for target in fact.related:
            if target not in catalogue.facts:
                problems.append(f"{fact.id}: related fact {target!r} does not exist")
            elif target == fact.id:
                problems.append(f"{fact.id}: a fact cannot be related to itself")
        if len(set(fact.examples)) < min_examples:
            problems.append(f"{fact.id}: {len(set(fact.examples))} distinct examples, at least {min_examples} needed")
        for example in fact.examples:
            key = example.casefold()
            other = seen_examples.setdefault(key, fact.id)
            if other != fact.id:
                problems.append(f"example {example!r} is used by both {other} and {fact.id}")
    if problems:
        raise CatalogueError(problems)
    return catalogue


@lru_cache(maxsize=4)
def default_catalogue() -> Catalogue:
    """The project's catalogue, loaded once per process."""
    return load_catalogue(DEFAULT_CATALOGUE_DIR)


def main() -> int:
    try:
        catalogue = load_catalogue()
    except CatalogueError as error:
        print(error)
        return 1
    examples = sum(len(f.examples) for f in catalogue)
    print(f"Fact catalogue valid: {len(catalogue)} facts, {examples} training questions.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
