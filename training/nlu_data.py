"""Generate Rasa training data for the facts from the fact catalogue.

Writes ``data/nlu/facts.yml`` (git-ignored): one retrieval intent ``faq/<id>`` per fact
with its example questions, and the matching ``utter_faq/<id>`` responses the
ResponseSelector needs (their text is the fact's title: the action server sends the
answer itself, so editing an answer needs no retraining). Adding a fact is therefore one new file in the catalogue.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from settings import PROJECT_ROOT
from training.facts import Catalogue, CatalogueError, load_catalogue

RETRIEVAL_INTENT = "faq"
GENERATED_NLU_FILE = PROJECT_ROOT / "data" / "nlu" / "facts.yml"
HEADER = "# GENERATED from facts/catalogue/ by `make data` — do not edit, edit the facts.\n"


class _LiteralStr(str):
    pass


def _literal_representer(dumper: yaml.Dumper, value: _LiteralStr):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_LiteralStr, _literal_representer)


def _example_line(text: str) -> str:
    # Rasa's YAML examples are markdown-like: brackets and parentheses would be
    # read as entity annotations, so the generated questions keep plain text.
    return "- " + text.replace("[", "(").replace("]", ")")


def render_training_data(catalogue: Catalogue) -> str:
    nlu = [
        {
            "intent": f"{RETRIEVAL_INTENT}/{fact.id}",
            "examples": _LiteralStr("\n".join(_example_line(e) for e in fact.examples) + "\n"),
        }
        for fact in catalogue
    ]
    responses = {f"utter_{RETRIEVAL_INTENT}/{fact.id}": [{"text": fact.title}] for fact in catalogue}
    document = {"version": "3.1", "nlu": nlu, "responses": responses}
    return HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def write_training_data(target: Path = GENERATED_NLU_FILE) -> bool:
    """Write the generated file; return True when its content changed."""
    content = render_training_data(load_catalogue())
    if target.exists() and target.read_text(encoding="utf-8") == content:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return True


def main() -> int:
    try:
        changed = write_training_data()
    except CatalogueError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{GENERATED_NLU_FILE.relative_to(PROJECT_ROOT)} {'written' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
