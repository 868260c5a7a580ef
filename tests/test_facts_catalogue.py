"""The fact catalogue is complete, sourced, and a broken one is rejected."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from training.facts import (
    DEFAULT_CATALOGUE_DIR,
    MIN_EXAMPLES_PER_FACT,
    REQUIRED_FACT_IDS,
    CatalogueError,
    load_catalogue,
    undefined_acronyms,
)
from training.nlu_data import render_training_data


def test_every_contract_id_has_a_sourced_fact(catalogue):
    assert set(REQUIRED_FACT_IDS) <= set(catalogue.facts)
    for fact in catalogue:
        assert fact.sources, fact.id
        assert all(s.url.startswith("https://") for s in fact.sources), fact.id
        assert fact.verified_on <= dt.date.today()
        assert len(fact.related) >= 2, f"{fact.id} suggests too few follow-ups"
        assert len(set(fact.examples)) >= MIN_EXAMPLES_PER_FACT


def test_answers_are_short_plain_french(catalogue):
    for fact in catalogue:
        words = len(fact.answer.split())
        assert 25 <= words <= 140, f"{fact.id}: {words} words"


def test_unverified_claims_are_not_asserted(catalogue):
    # facts-sources.md marks these NON VÉRIFIÉ: the answers must say so, not assert them.
    # The new host is known from the specialised press only (2026-12-01): said as such.
    migration = catalogue["hosting_migration"].answer
    assert "selon la presse spécialisée" in migration and "Je n'ai pas vérifié" in migration
    assert "pas de source vérifiée" in catalogue["dpo_contact"].answer
    assert "pas de source vérifiée" in catalogue["hdh_governance"].answer
    for fact in catalogue:
        assert "anonymisées" not in fact.answer.replace("pas la même chose qu'anonymisées", "")


def test_disagreeing_sources_are_both_cited(catalogue):
    volume = catalogue["data_volume"].answer
    assert "1,2 milliard" in volume and "milliard et demi" in volume
    retention = catalogue["data_retention"].answer
    assert "19 ans" in retention and "20 ans" in retention


@pytest.fixture
def broken_catalogue(tmp_path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    return target


def _edit(directory: Path, fact_id: str, **changes) -> None:
    path = directory / f"{fact_id}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _problems(directory: Path):
    with pytest.raises(CatalogueError) as error:
        load_catalogue(directory)
    return "\n".join(error.value.problems)


def test_the_copy_itself_is_valid(broken_catalogue):
    assert len(load_catalogue(broken_catalogue)) >= len(REQUIRED_FACT_IDS)


def test_missing_id_is_rejected(broken_catalogue):
    (broken_catalogue / "cloud_act.yml").unlink()
    text = _problems(broken_catalogue)
    assert "missing fact for required id 'cloud_act'" in text
    assert "related fact 'cloud_act' does not exist" in text


def test_fact_without_source_is_rejected(broken_catalogue):
    _edit(broken_catalogue, "consent", sources=[])
    assert "consent.yml (consent): a fact needs at least one source" in _problems(broken_catalogue)


@pytest.mark.parametrize("url", ["www.cnil.fr/page", "ftp://cnil.fr/x", "https://", "https://cnil fr/x", 42])
def test_malformed_url_is_rejected(broken_catalogue, url):
    _edit(broken_catalogue, "consent", sources=[{"title": "CNIL", "url": url}])
    assert "malformed URL" in _problems(broken_catalogue)


@pytest.mark.parametrize("date", ["29/11/2026", "2026-13-01", "hier", None, "2999-01-01"])
def test_malformed_or_future_date_is_rejected(broken_catalogue, date):
    _edit(broken_catalogue, "consent", verified_on=date)
    assert "verified_on" in _problems(broken_catalogue)


def test_broken_related_link_is_rejected(broken_catalogue):
    _edit(broken_catalogue, "consent", related=["right_objection", "no_such_fact"])
    assert "related fact 'no_such_fact' does not exist" in _problems(broken_catalogue)


def test_too_few_examples_is_rejected(broken_catalogue):
    _edit(broken_catalogue, "consent", examples=["Mon consentement est-il demandé ?"])
    assert "at least 12 needed" in _problems(broken_catalogue)


def test_example_shared_by_two_facts_is_rejected(broken_catalogue, catalogue):
    stolen = catalogue["cloud_act"].examples[0]
    _edit(broken_catalogue, "consent", examples=list(catalogue["consent"].examples) + [stolen])
    assert "used by both" in _problems(broken_catalogue)


def test_id_must_match_file_name(broken_catalogue):
    _edit(broken_catalogue, "consent", id="consentement")
    assert "does not match the file name" in _problems(broken_catalogue)


def test_generated_training_data_covers_every_fact(catalogue):
    document = yaml.safe_load(render_training_data(catalogue))
    intents = {block["intent"]: block["examples"] for block in document["nlu"]}
    for fact in catalogue:
        lines = [line for line in intents[f"faq/{fact.id}"].splitlines() if line.startswith("- ")]
        assert len(lines) == len(fact.examples)
        assert f"utter_faq/{fact.id}" in document["responses"]


def test_the_catalogue_refuses_long_answers_and_undefined_acronyms(tmp_path):
    source = yaml.safe_load((DEFAULT_CATALOGUE_DIR / "consent.yml").read_text(encoding="utf-8"))
    for problem, answer in (
        ("81 words", " ".join(["mot"] * 81)),
        ("acronym CNIL", "Saisissez la CNIL si besoin."),
    ):
        directory = tmp_path / problem.replace(" ", "_")
        directory.mkdir()
        (directory / "consent.yml").write_text(yaml.safe_dump({**source, "answer": answer}, allow_unicode=True))
        with pytest.raises(CatalogueError) as refused:
            load_catalogue(directory, required_ids=("consent",))
        assert problem in str(refused.value)


def test_an_acronym_spelled_out_before_or_after_its_first_use_is_accepted():
    assert (
        undefined_acronyms("La Commission nationale de l'informatique et des libertés (CNIL) répond ; la CNIL.") == []
    )
    assert undefined_acronyms("Le RGPD (règlement général sur la protection des données) s'applique.") == []
    assert undefined_acronyms("Le SNDS contient… le Système national des données de santé (SNDS).") == ["SNDS"]
