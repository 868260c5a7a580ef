"""Personal data typed in free text: person names, postal addresses, health conditions.

Citizens do not type personal data only where a form expects it (« je m'appelle Marie D…,
j'habite 12 rue des Lilas, j'ai un cancer du sein… »). ``find_personal_data`` finds them in
any message and ``mask_personal_data`` replaces them before anything is stored or published
(``privacy.masking.mask_text(..., free_text=True)``). The NLU and the dialogue still see the
original text in memory.

How each kind is found:
- names: cues (« je m'appelle », « mon nom est », civilities, relatives « ma fille Léa »,
  signatures after « Cordialement »), the given names of ``first_names.yml`` followed by a
  surname, and spaCy's French NER (``fr_core_news_md``, PER), run only when a message has a
  capitalised word that is neither sentence-initial nor a known institution or product;
- addresses: number + street type + street name, « lieu-dit », « BP », postcode + city;
- health: the lexicon ``health_terms.yml`` (inflections listed there, accents optional),
  unless the condition is named as a research topic (« la recherche sur le cancer »).
Institution and product names (Health Data Hub, SNDS, CNIL, Microsoft, Assurance maladie,
ameli, Doctolib, Mon espace santé…) and generic words are never masked.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Iterator, List, Optional, Pattern, Sequence, Tuple

import yaml

logger = logging.getLogger(__name__)

NAME_MASK = "[nom masqué]"
ADDRESS_MASK = "[adresse masquée]"
HEALTH_MASK = "[détail de santé masqué]"
MASK_BY_KIND = {"name": NAME_MASK, "address": ADDRESS_MASK, "health": HEALTH_MASK}
KINDS = tuple(MASK_BY_KIND)

_HERE = Path(__file__).resolve().parent
HEALTH_TERMS_FILE = _HERE / "health_terms.yml"
FIRST_NAMES_FILE = _HERE / "first_names.yml"
SPACY_MODEL = "fr_core_news_md"


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: str


# --- text normalisation (one character for one character, so offsets stay valid) -------------


def _fold_char(char: str) -> str:
    if char in "’`´":
        return "'"
    decomposed = unicodedata.normalize("NFD", char)
    return decomposed[0].lower() if decomposed else char


def fold(text: str) -> str:
    """Lowercase without accents, same length as ``text``."""
    return "".join(_fold_char(c) for c in text)


# --- words that are never a person's name -----------------------------------------------------

# Capitalised words citizens write that are not people: institutions, products, places that
# name institutions, greetings, days and months, acronyms of the domain. Compared folded.
_NOT_NAMES = set(
    fold(w)
    for w in """
    health data hub hdh snds sniiram pmsi cnil cnam cpam cnsa caf msa ameli doctolib mon espace santé
    dmp microsoft azure amazon google apple facebook meta openai chatgpt cloud act rgpd gdpr
    assurance maladie sécu sécurité sociale mutuelle caisse primaire nationale primaires
    ministère ministre santé gouvernement état conseil cour justice européenne union europe france
    français française république sénat assemblée parlement inserm insee ansm anssi has ars aphp ap-hp
    chu chr ehpad hôpital clinique pharmacie samu urgences plateforme données système national
    data hub health institut pasteur curie gustave roussy necker pompidou georges salpêtrière pitié
    bichat hôtel-dieu lariboisière cochin trousseau lyon marseille paris toulouse nice nantes
    strasbourg montpellier bordeaux lille rennes reims brest grenoble dijon angers nîmes limoges tours
    bonjour bonsoir salut coucou merci cordialement madame monsieur mademoiselle docteur professeur maître
    m mr mme mlle mmes dr pr me nom prénom prénoms signé signée né née épouse veuve moi c'est
    lundi mardi mercredi jeudi vendredi samedi dimanche janvier février mars avril mai juin juillet
    août septembre octobre novembre décembre oui non ok svp stp question questions help aide
    je j tu il elle on nous vous ils elles mon ma mes ton ta tes son sa ses notre votre leur leurs
    le la les l un une des du de d au aux et ou mais donc car ni que qui quoi quand comment pourquoi
    est-ce est c ce cet cette ces y a-t-il peut-on puis-je dois-je
    secnumcloud ovh orange bleu atos capgemini thales dassault outscale s3ns numspot
    code article loi décret arrêté règlement directive ehds
    covid covid-19 sars-cov-2 vitale carte espace
    """.split()
)

_PARTICLES = {
    "de",
    "du",
    "des",
    "de la",
    "le",
    "la",
    "van",
    "von",
    "der",
    "da",
    "dos",
    "das",
    "di",
    "del",
    "ben",
    "bin",
    "el",
    "al",
    "ould",
    "abou",
}

# A name word: capitalised (Élodie, N'Diaye, O'Brien, Le, Jean-Pierre), or upper case (DUPONT).
_NAME_WORD = r"(?:[A-ZÀ-Ý][a-zà-ÿ]*['’][A-ZÀ-Ý][a-zà-ÿ]+|[A-ZÀ-Ý][a-zà-ÿ]+(?:-[A-ZÀ-Ýa-zà-ÿ][a-zà-ÿ]+)*|[A-ZÀ-Ý]{2,}(?:-[A-ZÀ-Ý]{2,})*)"
_PARTICLE = r"(?:d['’]|(?:de la|de|du|des|le|la|van|von|der|da|dos|das|di|del|ben|bin|el|al|ould|abou)\s+)"
# A full name: one or more name words, particles allowed between them (Jean de La Fontaine).
_FULL_NAME = rf"{_NAME_WORD}(?:(?:\s+|\s+{_PARTICLE}|\s*{_PARTICLE}){_NAME_WORD}){{0,4}}"
_FULL_NAME_RE = re.compile(_FULL_NAME)
# After a strong cue (« je m'appelle », « mon nom est ») a name may be typed in lower case.
_LOWER_NAME_WORD = r"[a-zà-ÿ][a-zà-ÿ'’-]+"

_CIVILITY = (
    r"(?:M\.|Mr\.?|Mme\.?|Mlle\.?|Mmes|Madame|Monsieur|Mademoiselle|Dr\.?|Docteur|docteur|Pr\.?|Professeur|Maître|Me)"
)
_RELATIVE = (
    r"(?:fils|fille|filles|mère|mere|père|pere|mari|époux|epoux|épouse|epouse|femme|compagnon|compagne|"
    r"conjoint|conjointe|frère|frere|sœur|soeur|grand-mère|grand-mere|grand-père|grand-pere|mamie|papy|"
    r"oncle|tante|cousin|cousine|enfant|enfants|bébé|bebe|neveu|nièce|niece|petit-fils|petite-fille|"
    r"beau-père|beau-pere|belle-mère|belle-mere|papa|maman|voisin|voisine|ami|amie|copain|copine|"
    r"tuteur|tutrice|patient|patiente|fiancé|fiancée|belle-sœur|beau-frère|nom|prénom|prenom)"
)

_STRONG_CUE = re.compile(
    r"(?:je\s+m['’]\s*ap+el+e|j['’]\s*m['’]\s*ap+el+e|jm['’]?ap+el+e|je\s+me\s+nom+e|moi\s+c['’]\s*est|"
    r"c['’]est\s+moi|(?<![\w'’])c\s+moi|"
    r"(?:mon|le|son|ton|notre|leur)\s+(?:nom|pr[ée]nom)(?:\s+de\s+famille|\s+de\s+naissance|\s+d['’]usage|\s+de\s+jeune\s+fille)?"
    r"\s*(?:est|c['’]est|:|=)|"
    r"(?<![\w])(?:nom|pr[ée]nom)(?:\s+de\s+famille|\s+de\s+naissance|\s+d['’]usage)?\s*:|"
    r"(?<![\w])(?-i:née?|[ée]pouse|veuve)\s+(?=(?-i:[A-ZÀ-Ý]))|"
    r"sign[ée]\s*:?|s['’]ap+el+e|s['’]ap+el+ait|au\s+nom\s+de)\s*",
    re.IGNORECASE,
)
_CIVILITY_CUE = re.compile(rf"(?<![\w]){_CIVILITY}\s+(?={_NAME_WORD})")
# A civility in lower case (« je suis madame lefebvre ») is followed by a name in any case.
_LOWER_CIVILITY_CUE = re.compile(r"(?<![\w])(?:madame|monsieur|mademoiselle|mme|mlle|m\.)\s+(?=[a-zà-ÿ])")
_RELATIVE_CUE = re.compile(
    rf"(?<![\w])(?:mon|ma|mes|notre|nos|son|sa)\s+{_RELATIVE}\s*,?\s+(?=(?-i:[A-ZÀ-Ý]))", re.IGNORECASE
)
_SIGNATURE_CUE = re.compile(
    r"(?:cordialement|bien\s+cordialement|bien\s+à\s+vous|bien\s+a\s+vous|salutations(?:\s+distinguées)?|"
    r"sinc[èe]rement|merci(?:\s+d['’]avance|\s+beaucoup)?|bonne\s+journ[ée]e|amicalement|respectueusement)"
    r"\s*[,.!]?\s*(?:\n\s*|\s+)(?=(?-i:[A-ZÀ-Ý])[^\n]{0,60}$)",
    re.IGNORECASE,
)
_JE_SUIS_CUE = re.compile(
    rf"(?<![\w])(?:je\s+suis|moi\s+c['’]est|c['’]est|ici)\s+(?={_NAME_WORD}(?:\s|[,.!?]|$))", re.IGNORECASE
)

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


# --- addresses ---------------------------------------------------------------------------------

_STREET_TYPES = (
    r"rue|r\.|avenue|av\.?|ave|boulevard|bd|bld|boul\.?|chemin|ch\.|impasse|imp\.?|allée|allee|all\.|place|pl\.|"
    r"route|rte|quai|cours|square|sq\.?|passage|résidence|residence|rés\.?|lotissement|lot\.|hameau|voie|"
    r"sentier|faubourg|fbg|cité|cite|rond-point|esplanade|promenade|villa|parvis|ruelle|montée|montee|"
    r"traverse|domaine|chaussée|chaussee|mail|clos|venelle|carrefour|rocade|levée|levee|cour|sente|côte|cote"
)
_STREET_NAME_STOP = (
    r"(?:à|a|au|aux|et|ou|mais|depuis|pour|car|dans|chez|avec|sans|je|j|on|il|elle|nous|vous|qui|que|"
    r"est|sont|ai|suis|c|ça|ca|mon|ma|mes|vers|près|pres|en|sur|où|ou|donc|alors|puis)"
)
_STREET = re.compile(
    rf"(?<![\w])(?:(?:n°|no\.?|num[ée]ro)\s*)?\d{{1,4}}(?:\s?(?:bis|ter|quater|[A-Da-d])(?![\w]))?\s*,?\s+"
    rf"(?:{_STREET_TYPES})(?![\w])"
    rf"(?:[ \t]+(?!{_STREET_NAME_STOP}(?![\w'’-]))[\w'’.-]+){{1,6}}",
    re.IGNORECASE,
)
_LIEU_DIT = re.compile(
    rf"(?<![\w])(?:lieu-dit|lieudit|lieu dit|hameau(?: de| du| des)?)\s+(?:{_NAME_WORD}|[\w'’-]+)(?:\s+{_NAME_WORD}){{0,3}}",
    re.IGNORECASE,
)
_POSTBOX = re.compile(r"(?<![\w])(?:BP|B\.P\.|CS|TSA)\s*\d{2,6}(?![\w])")
_BUILDING = re.compile(
    r"(?<![\w])(?:appartement|appart\.?|apt\.?|bâtiment|batiment|bât\.?|bat\.?|escalier|esc\.?|étage|etage)\s*[\w]{1,4}(?![\w])",
    re.IGNORECASE,
)
# Postcode and city: 5 digits (01000–98999, Corsica 20xxx) then a city (capitalised, or any word
# that is not a count noun), optional CEDEX.
_COUNT_NOUNS = (
    r"(?:personnes?|patients?|euros?|€|projets?|demandes?|dossiers?|fois|ans|années?|jours?|mois|heures?|"
    r"habitants?|assurés?|assures?|utilisateurs?|citoyens?|m[ée]decins?|lits?|décès|deces|cas|morts?|"
    r"données|donnees|lignes?|fichiers?|To|Go|Mo|km|mètres?|metres?|pages?|signatures?|plaintes?|et|ou|à|a)"
)
_POSTCODE_CITY = re.compile(
    rf"(?<![\w,.])(?:0[1-9]|[1-8]\d|9[0-8])\d{{3}}\s+(?!(?i:{_COUNT_NOUNS})(?![\w]))"
    r"[^\W\d_][\w'’-]*"
    r"(?:[ -](?:sur|sous|en|lès|les|le|la|de|du|des|aux)[ -][\w'’-]+|[ -](?:d['’]|l['’])[\w'’-]+"
    r"|[ -](?!(?i:cedex))[A-ZÀ-Ý][\w'’-]*){0,4}"
    r"(?:\s+(?i:cedex)(?:\s*\d{1,2}(?!\d))?)?"
)


def _address_spans(text: str) -> Iterator[Span]:
    for pattern in (_STREET, _LIEU_DIT, _POSTBOX, _BUILDING, _POSTCODE_CITY):
        for match in pattern.finditer(text):
            start, end = match.span()
            while end > start and text[end - 1] in " ,.;:!?'’-":
                end -= 1
            yield Span(start, end, "address")


# --- health conditions -------------------------------------------------------------------------


def _load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@lru_cache(maxsize=1)
def _health_pattern() -> Optional[Pattern[str]]:
    if not HEALTH_TERMS_FILE.exists():
        logger.warning("health terms lexicon missing: %s", HEALTH_TERMS_FILE)
        return None
    document = _load_yaml(HEALTH_TERMS_FILE)
    terms = set()
    for values in (document.get("categories") or {}).values():
        for term in values or ():
            if isinstance(term, str) and term.strip():
                folded = fold(term.strip())
                terms.add(folded)
                terms.add(folded.replace("œ", "oe"))
                terms.add(folded.replace("oe", "œ"))
    if not terms:
        return None
    alternatives = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])")


# A condition named as a research or public-health topic, or as a population (« les personnes
# atteintes de diabète », « les données sur le VIH »), is not about the writer or a relative.
_TOPIC_CONTEXT = re.compile(
    r"(?:(?:recherches?|etudes?|essais?|lutte|progres|avancees?|projets?|travaux|plan|campagne|depistage|"
    r"prevention|statistiques?|epidemiologie|chercheurs?|soigner|combattre|guerir|registres?|cohortes?|"
    r"donnees|informations|chiffres|traitements?|medicaments?|vaccins?)"
    r"(?:\s+\w+){0,3}\s+(?:sur|contre|du|de|des|le|la|les|l'|d'|concernant|relatives?\s+a|lies?\s+a|liees?\s+a)"
    r"|(?:les|des|aux|ces)\s+(?:\w+\s+)?(?:personnes|patients|patientes|malades|gens|femmes|hommes|enfants|"
    r"assures|francais|citoyens|adultes|jeunes|populations?)"
    r"(?:\s+\w+){0,2}?\s+(?:atteint\w*|souffrant|qui\s+ont|ayant|vivant\s+avec|avec|sous|touche\w*)"
    r"(?:\s+(?:de|d'|du|des|par|un|une|le|la|les))*"
    r"|(?:les|des|aux|ces)\s+(?:personnes|patients|patientes|malades|gens|femmes|hommes|enfants|assures|"
    r"citoyens|adultes|jeunes|francais)"
    r"|(?:maladies?|pathologies?|affections?)\s+(?:comme|telles?\s+que|tels?\s+que)(?:\s+(?:le|la|les|l'))?"
    r")\s*$"
)
# Marks of a personal disclosure that win over a topic: « j'ai », « mon », « ma fille est »…
_PERSONAL_MARK = re.compile(
    r"(?:\b(?:mon|ma|mes|son|sa|ses|notre|nos|leur)\b|j'ai|je\s+suis|\bsuis\b|je\s+souffre|\bmoi\b)"
)


# What specifies a condition belongs to it (« diabétique de type 2 », « cancer stade 3 »).
_HEALTH_QUALIFIER = re.compile(
    r"(?:\s+(?:de\s+)?(?:type|stade|grade|niveau)\s+(?:[1-4]|i{1,3}|iv|un|deux|trois|quatre)(?![\w])"
    r"|\s+(?:chronique|severe|aigue?|precoce|avance|metastatique)s?(?![\w]))+"
)


def _health_spans(text: str, folded: str) -> Iterator[Span]:
    pattern = _health_pattern()
    if pattern is None:
        return
    for match in pattern.finditer(folded):
        before = folded[max(0, match.start() - 60) : match.start()]
        topic = _TOPIC_CONTEXT.search(before)
        if topic and not _PERSONAL_MARK.search(before[topic.start() :]):
            continue
        qualifier = _HEALTH_QUALIFIER.match(folded, match.end())
        yield Span(match.start(), qualifier.end() if qualifier else match.end(), "health")


# --- names -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _first_names() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    if not FIRST_NAMES_FILE.exists():
        logger.warning("first names list missing: %s", FIRST_NAMES_FILE)
        return frozenset(), frozenset()
    document = _load_yaml(FIRST_NAMES_FILE)
    names = frozenset(fold(n) for n in document.get("names") or () if isinstance(n, str))
    ambiguous = frozenset(fold(n) for n in document.get("ambiguous") or () if isinstance(n, str))
    return names - ambiguous, ambiguous


def _is_not_name(words: str) -> bool:
    """True when every word of a capitalised sequence is a known non-name (SNDS, Health Data Hub…)."""
    parts = [p for p in re.split(r"[\s'’]+", fold(words)) if p]
    return all(p in _NOT_NAMES or p in _PARTICLES for p in parts)


def _trim_name(text: str, start: int, end: int) -> Optional[Span]:
    """Drop leading and trailing words that are not names (« Dupont Bonjour », « Le SNDS »).

    A capitalised particle that starts a surname stays (« Le Floch », « Da Costa », « Ben Youssef »)."""
    words = list(_WORD.finditer(text, start, end))

    def not_name(word: re.Match) -> bool:
        return fold(word.group()) in _NOT_NAMES or fold(word.group()) in _PARTICLES

    while words and not_name(words[-1]):
        words.pop()
    while words and not_name(words[0]):
        first = words[0].group()
        if len(words) >= 2 and first[0].isupper() and fold(first) in _PARTICLES and not not_name(words[1]):
            break
        words.pop(0)
    if not words:
        return None
    return Span(words[0].start(), words[-1].end(), "name")


_LOWER_NAME_RE = re.compile(rf"{_LOWER_NAME_WORD}(?:\s+(?:{_PARTICLE})?{_LOWER_NAME_WORD}){{0,2}}")


def _name_after(text: str, position: int, allow_lower: bool) -> Optional[Span]:
    """The name typed at ``position`` (after a cue)."""
    match = _FULL_NAME_RE.match(text, position)
    if match:
        return _trim_name(text, match.start(), match.end())
    if allow_lower:
        match = _LOWER_NAME_RE.match(text, position)
        if match:
            # stop at the first word that is clearly a continuation of the sentence
            words = []
            for word in _WORD.finditer(text, match.start(), match.end()):
                if fold(word.group()) in _CONTINUATION:
                    break
                words.append(word)
            if words:
                return _trim_name(text, words[0].start(), words[-1].end())
    return None


# Words that continue the sentence after a lower-case name (« je m'appelle kevin et je… »).
_CONTINUATION = set(
    """et je j mais pour car qui que depuis suis ai habite vis veux voudrais souhaite ne n a au aux dans
    sur avec est c ca ça mes mon ma les le la des du un une comment pourquoi quand ou donc alors aussi
    bonjour merci j'ai svp stp voila voilà en y""".split()
)


# After a name found by a cue, more names in an enumeration (« mes enfants Lucas et Nolwenn »).
_ENUMERATION = re.compile(rf"\s*(?:,|et|&)\s*(?={_NAME_WORD})")


def _with_enumeration(text: str, span: Optional[Span]) -> Iterator[Span]:
    while span is not None:
        yield span
        follow = _ENUMERATION.match(text, span.end)
        if not follow:
            return
        following = _FULL_NAME_RE.match(text, follow.end())
        span = _trim_name(text, following.start(), following.end()) if following else None
        if span is not None and span.start != following.start():
            return


def _cue_name_spans(text: str) -> Iterator[Span]:
    for match in _STRONG_CUE.finditer(text):
        yield from _with_enumeration(text, _name_after(text, match.end(), allow_lower=True))
    for match in _LOWER_CIVILITY_CUE.finditer(text):
        yield from _with_enumeration(text, _name_after(text, match.end(), allow_lower=True))
    for cue in (_CIVILITY_CUE, _RELATIVE_CUE, _SIGNATURE_CUE):
        for match in cue.finditer(text):
            yield from _with_enumeration(text, _name_after(text, match.end(), allow_lower=False))
    for match in _JE_SUIS_CUE.finditer(text):
        span = _name_after(text, match.end(), allow_lower=False)
        if span and _looks_like_person(text, span):
            yield span


def _looks_like_person(text: str, span: Span) -> bool:
    """After « je suis » / « c'est », a capitalised word is a name if it is a known given name,
    upper case (DUPONT), or followed by another capitalised word."""
    words = [w.group() for w in _WORD.finditer(text, span.start, span.end)]
    names, _ambiguous = _first_names()
    if fold(words[0]) in names or len(words) >= 2:
        return True
    return words[0].isupper() and len(words[0]) >= 3


def _first_name_spans(text: str) -> Iterator[Span]:
    """A known given name, with the surname that follows it (« Fatou Diop », « Kevin DUPONT »)."""
    names, ambiguous = _first_names()
    for match in _FULL_NAME_RE.finditer(text):
        words = list(_WORD.finditer(text, match.start(), match.end()))
        for index, word in enumerate(words):
            folded = fold(word.group())
            first = folded.split("-")[0]
            known = folded in names or (first in names and "-" in folded)
            if not known and folded in ambiguous:
                # « Rose » alone is a flower; « Rose Martin » is a person
                known = index + 1 < len(words) and fold(words[index + 1].group()) not in _NOT_NAMES
            if known:
                span = _trim_name(text, word.start(), match.end())
                if span:
                    yield span
                break


_nlp = None
_nlp_lock = threading.Lock()


def load_ner() -> object:
    """spaCy's French pipeline reduced to what NER needs (loaded once per process)."""
    global _nlp
    if _nlp is None:
        with _nlp_lock:
            if _nlp is None:
                import spacy

                _nlp = spacy.load(
                    SPACY_MODEL, exclude=["parser", "lemmatizer", "morphologizer", "attribute_ruler", "senter"]
                )
    return _nlp


def warm_up() -> None:
    """Load everything masking reads lazily (NER, lexicon, given names, vocabulary), so that no
    citizen's turn pays for it; the tracker store calls it in the background when it starts."""
    load_ner()
    _health_pattern()
    _first_names()
    _vocabulary()


def _needs_ner(text: str) -> bool:
    """NER only runs when a capitalised word could be an unknown name: not the first word of a
    sentence, and not a known institution, product or greeting."""
    for match in _FULL_NAME_RE.finditer(text):
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\n":
            words = list(_WORD.finditer(text, match.start(), match.end()))
            if len(words) < 2:
                continue
        if not _is_not_name(match.group()):
            return True
    return False


def _ner_spans(text: str) -> Iterator[Span]:
    if not _needs_ner(text):
        return
    try:
        document = load_ner()(text)
    except Exception as error:  # noqa: BLE001 - masking still applies its other rules
        logger.warning("NER unavailable for masking: %s", type(error).__name__)
        return
    for entity in document.ents:
        if entity.label_ != "PER" or _is_not_name(entity.text):
            continue
        if not any(c.isupper() for c in entity.text):
            continue
        span = _trim_name(text, entity.start_char, entity.end_char)
        if span:
            yield span


def _bare_name_span(text: str) -> Optional[Span]:
    """A message that is only a name (« Dubois », « Martin Sophie »), as typed to a question."""
    stripped = text.strip().strip(".!")
    if not stripped or len(stripped) > 60:
        return None
    match = _FULL_NAME_RE.fullmatch(stripped)
    if not match or _is_not_name(stripped):
        return None
    words = [w.group() for w in _WORD.finditer(stripped)]
    if len(words) > 4:
        return None
    folded = [fold(w) for w in words]
    if all(f in _vocabulary() for f in folded):
        return None
    offset = text.index(stripped)
    return _trim_name(text, offset, offset + len(stripped))


@lru_cache(maxsize=1)
def _vocabulary() -> FrozenSet[str]:
    """Words of the assistant's own domain (fact catalogue and NLU data), folded: a message
    made of one of them (« Effacement », « Oui », « Remboursements ») is not a name."""
    from settings import PROJECT_ROOT

    words = set(_NOT_NAMES)
    paths = list((PROJECT_ROOT / "facts" / "catalogue").glob("*.yml")) + list((PROJECT_ROOT / "data").rglob("*.yml"))
    for path in paths:
        try:
            words.update(fold(w) for w in _WORD.findall(path.read_text(encoding="utf-8")))
        except OSError:
            continue
    return frozenset(words)


def _name_spans(text: str) -> Iterator[Span]:
    yield from _cue_name_spans(text)
    yield from _first_name_spans(text)
    yield from _ner_spans(text)
    bare = _bare_name_span(text)
    if bare:
        yield bare


# --- putting it together -----------------------------------------------------------------------


def _resolve(text: str, candidates: Sequence[Span]) -> List[Span]:
    """Keep non-overlapping spans: addresses first, then health, then names; longer first."""
    priority = {"address": 0, "health": 1, "name": 2}
    chosen: List[Span] = []
    for span in sorted(candidates, key=lambda s: (priority[s.kind], -(s.end - s.start), s.start)):
        if span.end <= span.start:
            continue
        overlapping = [c for c in chosen if c.start < span.end and span.start < c.end]
        if not overlapping:
            chosen.append(span)
        elif span.kind == "name" and all(c.kind == "name" for c in overlapping):
            # two name rules found parts of one name: join them
            for c in overlapping:
                chosen.remove(c)
            chosen.append(
                Span(
                    min([span.start] + [c.start for c in overlapping]),
                    max([span.end] + [c.end for c in overlapping]),
                    "name",
                )
            )
    merged: List[Span] = []
    for span in sorted(chosen):
        if merged and merged[-1].kind == span.kind and _only_spaces(text, merged[-1].end, span.start):
            merged[-1] = Span(merged[-1].start, span.end, span.kind)
        else:
            merged.append(span)
    return merged


def _only_spaces(text: str, start: int, end: int) -> bool:
    return not text[start:end].strip()


def find_personal_data(text: str) -> List[Span]:
    """Names, postal addresses and health conditions in ``text``, as non-overlapping spans."""
    if not text or not text.strip():
        return []
    folded = fold(text)
    candidates: List[Span] = []
    candidates.extend(_address_spans(text))
    candidates.extend(_health_spans(text, folded))
    candidates.extend(_name_spans(text))
    return _resolve(text, candidates)


def mask_personal_data(text: str, spans: Optional[Sequence[Span]] = None) -> str:
    """``text`` with each name, address and health condition replaced by its mask."""
    if spans is None:
        spans = find_personal_data(text)
    for span in sorted(spans, reverse=True):
        text = text[: span.start] + MASK_BY_KIND[span.kind] + text[span.end :]
    return text
