"""Model releases: which trained model is in service, and the gate a new one must pass.

`make train` trains a *candidate* (training.model_store). `make promote` scores the candidate
and the model in service with the code of the benchmarks (bench.quality: fact accuracy and
confidently-wrong rate, at the assistant's own thresholds) on the development set and the
test sets (real and blind questions), refuses the candidate if, on any of them, fact accuracy
drops or confidently-wrong replies rise by more than a margin, and otherwise puts it in
service, keeping the one it replaces as the previous release. `make rollback` goes back to the
previous release. The servers load the release in service (`python -m training.releases path`,
rasa_addons.rasa_server).

On a machine with no release yet, the first `make train` puts its model in service
(`adopt_first`), so that `make run` serves a model on a fresh clone; every later training is only
a candidate until promoted. The tests keep testing the model trained from the current data
(training.model_store.current_model_path), whether promoted or not.

The registry is ``releases.json`` in MODEL_RELEASES_DIR (default ``models/releases/``), beside
copies of the released models (so that a new training, which replaces ``models/mds-*``, never
removes the model in service). It is written whole to a temporary file, then renamed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import settings
from settings import PROJECT_ROOT
from training.model_store import current_model_path

GATE_SETS = {
    "dev": PROJECT_ROOT / "tests" / "nlu" / "dev.yml",
    "real": PROJECT_ROOT / "tests" / "nlu" / "real.yml",
    "blind": PROJECT_ROOT / "tests" / "nlu" / "blind.yml",
}
SET_LABELS = {"dev": "développement", "real": "questions réelles", "blind": "à l'aveugle"}
REGISTRY = "releases.json"
KEEP_PREVIOUS = 5  # releases kept for rollback
KEEP_HISTORY = 200  # promotions and rollbacks remembered
EPSILON = 1e-9  # rates are ratios of small integers: equal must compare equal

Figures = Dict[str, Dict[str, float]]  # set name -> {"fact_accuracy", "confidently_wrong", "messages"}


class ReleaseError(Exception):
    """Something an operator must fix; the message is in French."""


# --- the registry ----------------------------------------------------------------------
def releases_dir() -> Path:
    return settings.model_releases_dir()


def registry_path() -> Path:
    return releases_dir() / REGISTRY


def load_registry() -> Dict[str, Any]:
    path = registry_path()
    if not path.exists():
        return {"current": None, "previous": [], "history": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename it over `path`: a reader
    sees the old content or the new one, never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_registry(registry: Dict[str, Any]) -> None:
    text = json.dumps(registry, ensure_ascii=False, indent=2) + "\n"
    _atomic_write(registry_path(), text.encode("utf-8"))


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One promotion or rollback at a time."""
    releases_dir().mkdir(parents=True, exist_ok=True)
    with open(releases_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


# --- models ----------------------------------------------------------------------------
def model_info(model: Path) -> Dict[str, Any]:
    """What Rasa wrote in the archive's metadata.json: the model id Rasa puts in every event's
    metadata, the training date and what was trained."""
    try:
        with tarfile.open(model, "r:gz") as archive:
            member = next(m for m in archive.getmembers() if m.name.lstrip("/") == "metadata.json")
            metadata = json.load(archive.extractfile(member))
    except (OSError, tarfile.TarError, StopIteration, ValueError) as error:
        raise ReleaseError(f"{model} n'est pas un modèle Rasa lisible ({error}).") from error
    return {
        "model_id": metadata.get("model_id"),
        "trained_at": metadata.get("trained_at"),
        "training_type": metadata.get("training_type"),
    }


def release_file(release: Dict[str, Any]) -> Path:
    return releases_dir() / release["file"]


def served_model() -> Optional[Path]:
    """The model of the release in service, or None when no release was made on this machine."""
    current = load_registry().get("current")
    if not current:
        return None
    path = release_file(current)
    if not path.exists():
        raise ReleaseError(
            f"Le modèle en service {path} est introuvable : rétablissez-le, ou `make rollback`, "
            f"ou supprimez {registry_path()} pour servir le dernier modèle entraîné."
        )
    return path


def model_to_serve() -> Path:
    """What the servers load: the release in service, else the model trained from the current data."""
    return served_model() or current_model_path()


def _store(candidate: Path, info: Dict[str, Any]) -> str:
    """Copy the candidate beside the registry (copy, then rename); its file name there."""
    stem = candidate.name[: -len(".tar.gz")] if candidate.name.endswith(".tar.gz") else candidate.stem
    name = f"{stem}-{(info['model_id'] or 'sans-id')[:8]}.tar.gz"
    target = releases_dir() / name
    if not target.exists():
        releases_dir().mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.tmp")
        shutil.copyfile(candidate, partial)
        os.replace(partial, target)
    return name


def _prune(registry: Dict[str, Any]) -> None:
    """Remove released models no release refers to any more."""
    kept = {r["file"] for r in [registry.get("current"), *registry.get("previous", [])] if r}
    for path in releases_dir().glob("*.tar.gz"):
        if path.name not in kept:
            path.unlink()


def _release(candidate: Path, info: Dict[str, Any], how: str, figures: Optional[Figures]) -> Dict[str, Any]:
    return {
        "file": _store(candidate, info),
        "source": str(candidate),
        "model_id": info["model_id"],
        "trained_at": info["trained_at"],
        "promoted_at": _now(),
        "how": how,
        "figures": figures,
    }


def _put_in_service(registry: Dict[str, Any], release: Dict[str, Any], action: str) -> None:
    old = registry.get("current")
    registry["current"] = release
    if old:
        registry["previous"] = ([old] + registry.get("previous", []))[:KEEP_PREVIOUS]
    registry.setdefault("history", []).append(
        {"at": release["promoted_at"], "action": action, "model_id": release["model_id"], "file": release["file"]}
    )
    registry["history"] = registry["history"][-KEEP_HISTORY:]
    write_registry(registry)
    _prune(registry)


# --- scoring ---------------------------------------------------------------------------
def evaluate_model(model: Path) -> Figures:
    """Fact accuracy and confidently-wrong rate on each gate set, as bench/quality.py scores them."""
    from bench.quality import rasa_parser, score
    from training.evaluation import assistant_thresholds, load_examples, understand_all

    parse = rasa_parser(model)
    figures: Figures = {}
    for name, path in GATE_SETS.items():
        examples = load_examples(path)
        report = score(name, examples, understand_all(examples, parse), assistant_thresholds()).report
        figures[name] = {
            "fact_accuracy": report.fact_accuracy,
            "confidently_wrong": report.confidently_wrong_rate,
            "messages": len(examples),
        }
    return figures


def compare(current: Figures, candidate: Figures, margin_accuracy: float, margin_wrong: float) -> List[str]:
    """Why the candidate is refused (French, one line per failed check); empty when it may go."""
    reasons = []
    for name in GATE_SETS:
        was, now = current[name], candidate[name]
        drop = was["fact_accuracy"] - now["fact_accuracy"]
        if drop > margin_accuracy + EPSILON:
            reasons.append(
                f"jeu {name} : bon fait {_pct(was['fact_accuracy'])} → {_pct(now['fact_accuracy'])}, "
                f"baisse de {_pts(drop, False)} (marge {_pts(margin_accuracy, False)})"
            )
        rise = now["confidently_wrong"] - was["confidently_wrong"]
        if rise > margin_wrong + EPSILON:
            reasons.append(
                f"jeu {name} : sûr et faux {_pct(was['confidently_wrong'])} → {_pct(now['confidently_wrong'])}, "
                f"hausse de {_pts(rise, False)} (marge {_pts(margin_wrong, False)})"
            )
    return reasons


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %".replace(".", ",")


def _pts(value: float, signed: bool = True) -> str:
    return f"{value * 100:{'+' if signed else ''}.1f} pt".replace(".", ",")


def table(current: Optional[Figures], candidate: Figures) -> str:
    """French comparison table: fact accuracy and confidently-wrong, in service → candidate."""
    head = f"{'jeu':<26}{'messages':>9}   {'bon fait':<30}{'sûr et faux'}"
    lines = [head, "-" * len(head)]
    for name in GATE_SETS:
        new = candidate[name]
        cells = []
        for key in ("fact_accuracy", "confidently_wrong"):
            if current:
                cell = f"{_pct(current[name][key])} → {_pct(new[key])} ({_pts(new[key] - current[name][key])})"
            else:
                cell = _pct(new[key])
            cells.append(f"{cell:<30}")
        label = f"{name} ({SET_LABELS[name]})"
        lines.append(f"{label:<26}{int(new['messages']):>9}   {''.join(cells).rstrip()}")
    return "\n".join(lines)


# --- commands --------------------------------------------------------------------------
def adopt_first(model: Path) -> bool:
    """After `make train`: with no release in service, put this model in service (not scored:
    there is nothing to compare it with). Otherwise say whether it is a candidate."""
    with _locked():
        registry = load_registry()
        current = registry.get("current")
        info = model_info(model)
        if not current:
            release = _release(model, info, "premier modèle de cette machine (make train, sans comparaison)", None)
            _put_in_service(registry, release, "first")
            print(
                f"Aucun modèle n'était en service : {model.name} est mis en service. "
                "Les prochains entraînements seront des candidats à promouvoir (make promote)."
            )
            return True
    if current["model_id"] != info["model_id"]:
        print(f"Candidat : {model.name} ; en service : {current['file']}. Pour le mettre en service : make promote.")
    return False


def promote(candidate: Optional[Path], margin_accuracy: float, margin_wrong: float) -> int:
    candidate = Path(candidate) if candidate else current_model_path()
    if not candidate.exists():
        raise ReleaseError(f"Candidat introuvable : {candidate} (make train le produit).")
    info = model_info(candidate)
    if info["training_type"] == 1:
        raise ReleaseError(
            f"{candidate.name} ne contient que la compréhension (rasa train nlu) : il ne peut pas servir."
        )
    with _locked():
        registry = load_registry()
        current = registry.get("current")
        if current and current["model_id"] == info["model_id"]:
            print(f"{candidate.name} est déjà le modèle en service ({current['file']}) : rien à faire.")
            return 0
        if current and not release_file(current).exists():
            raise ReleaseError(
                f"Le modèle en service {release_file(current)} est introuvable : impossible de comparer."
            )
        print(f"Évaluation du candidat {candidate.name} …", flush=True)
        candidate_figures = evaluate_model(candidate)
        current_figures = None
        if current:
            print(f"Évaluation du modèle en service {current['file']} …", flush=True)
            current_figures = evaluate_model(release_file(current))
        print()
        print(table(current_figures, candidate_figures))
        print()
        if current_figures is not None:
            reasons = compare(current_figures, candidate_figures, margin_accuracy, margin_wrong)
            if reasons:
                print("Candidat REFUSÉ, rien n'a changé :")
                print("\n".join(f"  - {reason}" for reason in reasons))
                return 1
        release = _release(candidate, info, "promotion (make promote)", candidate_figures)
        release["margins"] = {"fact_accuracy": margin_accuracy, "confidently_wrong": margin_wrong}
        release["replaced_figures"] = current_figures
        _put_in_service(registry, release, "promote")
    print(f"Candidat accepté : {release['file']} est en service (identifiant Rasa {info['model_id']}).")
    print(_reload_hint())
    return 0


def rollback() -> int:
    with _locked():
        registry = load_registry()
        previous = registry.get("previous") or []
        if not previous:
            print(
                "Aucun modèle précédent : rien à restaurer (make model-status montre les mises en service).",
                file=sys.stderr,
            )
            return 1
        if not release_file(previous[0]).exists():
            raise ReleaseError(f"Le modèle précédent {release_file(previous[0])} est introuvable.")
        old, back = registry["current"], previous[0]
        registry["current"], registry["previous"] = back, previous[1:]
        registry.setdefault("history", []).append(
            {"at": _now(), "action": "rollback", "model_id": back["model_id"], "file": back["file"]}
        )
        write_registry(registry)
        _prune(registry)
    print(f"Retour arrière : {back['file']} est de nouveau en service (à la place de {old['file']}).")
    print(_reload_hint())
    return 0


def _reload_hint() -> str:
    return (
        "Les serveurs le chargent au démarrage ; un serveur Rasa en marche le charge sans redémarrer avec "
        "`curl -X POST \"http://localhost:5005/model?token=$(cat var/rasa-api-token)\"` (un appel par serveur)."
    )


def _describe(release: Dict[str, Any]) -> List[str]:
    lines = [
        f"  {release['file']}  (identifiant Rasa {release['model_id']})",
        f"    entraîné le {release['trained_at']}, mis en service le {release['promoted_at']} : {release['how']}",
    ]
    figures = release.get("figures")
    if figures:
        lines += ["    " + line for line in table(None, figures).splitlines()]
    else:
        lines.append("    non évalué (aucune comparaison à sa mise en service)")
    return lines


def status() -> int:
    registry = load_registry()
    current = registry.get("current")
    if not current:
        print(f"Aucune mise en service sur cette machine : les serveurs servent {current_model_path().name}.")
        return 0
    print("En service :")
    print("\n".join(_describe(current)))
    for number, release in enumerate(registry.get("previous") or [], start=1):
        print(f"Précédent n° {number} :" + (" (celui que rétablit make rollback)" if number == 1 else ""))
        print("\n".join(_describe(release)))
    trained = current_model_path()
    if trained.exists() and model_info(trained)["model_id"] != current["model_id"]:
        print(f"Candidat non promu : {trained.name} (make promote).")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    accuracy, wrong = settings.model_promotion_margins()
    parser = argparse.ArgumentParser(prog="python -m training.releases", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    promoting = commands.add_parser("promote", help="évaluer le candidat et le mettre en service s'il ne régresse pas")
    promoting.add_argument("--candidate", type=Path, help="modèle candidat (défaut : le modèle entraîné des données)")
    promoting.add_argument("--margin-accuracy", type=float, default=accuracy, help=f"défaut {accuracy}")
    promoting.add_argument("--margin-wrong", type=float, default=wrong, help=f"défaut {wrong}")
    commands.add_parser("rollback", help="remettre en service le modèle précédent")
    commands.add_parser("status", help="modèles en service et précédents, avec leurs mesures")
    commands.add_parser("path", help="le modèle que les serveurs chargent")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "promote":
            return promote(arguments.candidate, arguments.margin_accuracy, arguments.margin_wrong)
        if arguments.command == "rollback":
            return rollback()
        if arguments.command == "status":
            return status()
        print(model_to_serve())
        return 0
    except ReleaseError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
