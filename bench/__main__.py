"""`make bench`: understanding quality and serving speed, against baselines, in one run.

Writes docs/benchmarks.md and PNG charts under docs/benchmarks/. Figures are reported,
never asserted by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import re
import statistics
from pathlib import Path

from settings import PROJECT_ROOT
from training.model_store import current_model_path

DOCS = PROJECT_ROOT / "docs"
CHARTS = DOCS / "benchmarks"
WORKDIR = PROJECT_ROOT / "var" / "bench"


def pct(x: float) -> str:
    return f"{x:.1%}"


SET_NAMES = {"real": "questions réelles", "blind": "jeu à l'aveugle", "heldout": "jeu tenu à l'écart"}
SET_TITLES = {
    "real": "Questions réelles (`tests/nlu/real.yml` : posées en public, chacune avec son adresse)",
    "blind": "Jeu à l'aveugle (`tests/nlu/blind.yml` : écrit sans voir les données d'entraînement)",
    "heldout": "Jeu tenu à l'écart (`tests/nlu/heldout.yml` : écrit par l'équipe)",
}


def quality_rows(scores) -> list:
    rows = [
        "| système | bon fait donné | bon fait donné ou proposé | sûr et faux (tous messages) | formulaires lancés sans demande (dont hors sujet) | hors sujet recevant un fait | autres intentions reconnues |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        r = s.report
        rows.append(
            f"| {s.name} | {pct(r.fact_accuracy)} | {pct(r.fact_answered_or_offered)} | {pct(r.confidently_wrong_rate)} | "
            f"{r.forms_started_wrongly} ({r.forms_started_off_topic}) | {r.oos_given_fact}/{r.oos_total} | {pct(r.other_accuracy)} |"
        )
    return rows


def quality_section(q) -> list:
    lines = [
        "## Compréhension",
        "",
        "Trois jeux de test gelés, jamais utilisés pour l'entraînement ni le réglage, mesurés séparément. "
        "Le projet décide lui-même (seuils de `config.yml`, choisis sur le jeu de développement "
        "`tests/nlu/dev.yml`) ; la référence TF-IDF et le pipeline précédent ont leurs seuils réglés sur ce "
        "même jeu de développement. « Bon fait proposé » : le projet hésitait et a proposé le bon fait parmi "
        "les boutons de « Vouliez-vous dire… ? ». « Sûr et faux » : un fait ou un formulaire donné alors qu'il "
        "n'était pas le bon.",
        "",
    ]
    for name in ("real", "blind", "heldout"):
        if name not in q["sets"]:
            continue
        lines += [f"### {SET_TITLES[name]} — {q['sizes'][name]} questions", ""]
        lines += quality_rows(q["sets"][name])
        categories = q["categories"][name]
        lines += ["", "Erreurs du projet sur ce jeu : " + " ; ".join(f"{k} : {v}" for k, v in categories.items()) + "."]
        pairs = q["confusions"][name]
        if pairs:
            lines += [
                "Faits confondus (attendu → donné) : " + ", ".join(f"{a} → {b} ({n})" for (a, b), n in pairs) + "."
            ]
        lines.append("")
    if "by_length" in q:
        lines += targets_section(q) + length_section(q)
    lines += [
        "Validation croisée à 5 plis sur les données d'entraînement (chaque question est prédite par un "
        "modèle qui ne l'a pas vue). Le projet y garde ses seuils ; la référence TF-IDF a les siens choisis "
        "sur les prédictions hors pli.",
        "",
        *quality_rows(q["cv"]),
        "",
        "Le pipeline précédent en validation croisée (5 entraînements) se lance avec "
        "`make bench BENCH_ARGS=--rasa-folds=5`.",
        "",
        "![Faits les plus confondus](benchmarks/confusions.png)",
        "",
    ]
    return lines


def _row(q, name: str, prefix: str):
    return next((s.report for s in q["sets"].get(name, []) if s.name.startswith(prefix)), None)


def targets_section(q) -> list:
    """Issue #15's targets against what this run measured, each marked reached or not."""
    real, blind = _row(q, "real", "Le projet"), _row(q, "blind", "Le projet")
    real_tfidf, blind_tfidf = _row(q, "real", "TF-IDF"), _row(q, "blind", "TF-IDF")
    if not (real and blind and real_tfidf and blind_tfidf):
        return []

    def reached(ok: bool) -> str:
        return "oui" if ok else "**non**"

    def ahead(project, baseline) -> str:
        return (
            f"bon fait donné {pct(project.fact_accuracy)} contre {pct(baseline.fact_accuracy)}, donné ou proposé "
            f"{pct(project.fact_answered_or_offered)} contre {pct(baseline.fact_answered_or_offered)}, sûr et faux "
            f"{pct(project.confidently_wrong_rate)} contre {pct(baseline.confidently_wrong_rate)}"
        )

    def is_ahead(project, baseline) -> bool:
        return (
            project.fact_accuracy > baseline.fact_accuracy
            and project.confidently_wrong_rate <= baseline.confidently_wrong_rate
        )

    gap = (blind.fact_accuracy - real.fact_accuracy) * 100
    return [
        "### Cibles de l'issue #15 et ce qui est atteint",
        "",
        "Sur les questions réelles, avec les seuils de `config.yml` (choisis sur le jeu de développement et "
        "sur les données d'entraînement prédites hors pli). « Devant la référence » veut dire : plus de bons "
        "faits donnés, sans plus de réponses sûres et fausses.",
        "",
        "| cible | mesuré | atteinte |",
        "|---|---|---|",
        f"| bon fait donné ≥ 95 % | {pct(real.fact_accuracy)} | {reached(real.fact_accuracy >= 0.95)} |",
        f"| bon fait donné ou proposé ≥ 98 % | {pct(real.fact_answered_or_offered)} | "
        f"{reached(real.fact_answered_or_offered >= 0.98)} |",
        f"| sûr et faux ≤ 2 % de tous les messages | {pct(real.confidently_wrong_rate)} | "
        f"{reached(real.confidently_wrong_rate <= 0.02)} |",
        f"| aucun formulaire lancé pour un message hors sujet | {real.forms_started_off_topic} | "
        f"{reached(real.forms_started_off_topic == 0)} |",
        f"| devant la référence TF-IDF, questions réelles | {ahead(real, real_tfidf)} | "
        f"{reached(is_ahead(real, real_tfidf))} |",
        f"| devant la référence TF-IDF, jeu à l'aveugle | {ahead(blind, blind_tfidf)} | "
        f"{reached(is_ahead(blind, blind_tfidf))} |",
        f"| jeu à l'aveugle à moins de 3 points des questions réelles (bon fait donné) | écart de {gap:+.1f} points | "
        f"{reached(abs(gap) <= 3)} |",
        "| latence séquentielle p95 pas pire qu'avant | voir « Vitesse de service » | mesurée à part |",
        "",
    ]


def length_section(q) -> list:
    """Why the real set is harder: the same decisions, split by the length of the question."""
    lines = [
        "### Selon la longueur de la question",
        "",
        "Questions de fait seulement, mêmes décisions que ci-dessus, regroupées par nombre de mots. Médiane : "
        + ", ".join(f"{SET_NAMES[name]} {q['median_words'][name]:.0f} mots" for name in ("real", "blind", "heldout"))
        + ".",
        "",
        "| jeu | longueur | questions | bon fait donné | bon fait donné ou proposé | fait voisin donné |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in ("real", "blind", "heldout"):
        for label, count, report in q["by_length"].get(name, []):
            if not count:
                continue
            lines.append(
                f"| {SET_NAMES[name]} | {label} | {count} | {pct(report.fact_accuracy)} | "
                f"{pct(report.fact_answered_or_offered)} | {report.fact_confidently_wrong} |"
            )
    return lines + [""]


def serving_rows(name, levels, rss=None):
    rows = []
    for c, load in sorted(levels.items()):
        rows.append(
            f"| {name} | {c} | {load.throughput:.1f} | {load.p(50):.0f} | {load.p(95):.0f} | "
            f"{load.p(99):.0f} | {load.errors} |"
        )
    return rows


def serving_section(s) -> list:
    seq_full, seq_plain = s["full_sequential"], s["plain_sequential"]
    lines = [
        "## Vitesse de service",
        "",
        "Canal REST, sur cette machine, dans le même lancement. « Pile complète » : serveur Rasa + serveur "
        "d'actions + tracker store SQL (SQLite en journal WAL, connexions gardées ouvertes, une insertion "
        "groupée par tour) avec masquage. « Rasa simple » : un assistant minimal (pas "
        "d'action personnalisée, tracker en mémoire) entraîné par le banc. « Sans les correctifs » : la même "
        "pile avec `RASA_SPEEDUPS=0`, c'est-à-dire sans les corrections des points chauds trouvés au profilage "
        "(`rasa_addons/speedups.py` : réponses aux questions et replis passant par le serveur d'actions avec "
        "toute la session sérialisée, validation JSON Schema des réponses du serveur d'actions reconstruite "
        "à chaque appel, NER spaCy inutilisée, requête ORM du tracker store ; les réglages SQLite ci-dessus "
        "et les poids du classifieur rangés par colonne restent actifs).",
        "",
        "Chaque client ouvre une nouvelle conversation tous les 20 messages (une longue conversation de "
        "citoyen ; l'effet de conversations plus longues est mesuré plus bas). Messages envoyés : les 9 de "
        "`bench/serving.py` (`QUESTIONS` : salutation, sept questions courtes, remerciement), en boucle ; "
        "puis, plus bas, les 180 questions réelles de `tests/nlu/real.yml`, plus longues.",
        "",
        "Latence séquentielle (ms, 150 messages) :",
        "",
        "| système | p50 | p95 | p99 |",
        "|---|---:|---:|---:|",
        f"| Pile complète | {seq_full.p(50):.0f} | {seq_full.p(95):.0f} | {seq_full.p(99):.0f} |",
        *(
            [
                f"| Pile complète sans les correctifs de performance (`RASA_SPEEDUPS=0`) | {s['unpatched_sequential'].p(50):.0f} | "
                f"{s['unpatched_sequential'].p(95):.0f} | {s['unpatched_sequential'].p(99):.0f} |"
            ]
            if "unpatched_sequential" in s
            else []
        ),
        f"| Rasa simple | {seq_plain.p(50):.0f} | {seq_plain.p(95):.0f} | {seq_plain.p(99):.0f} |",
        "",
        "Charge (conversations simultanées, 15 s par niveau) :",
        "",
        "| système | conversations | messages/s | p50 (ms) | p95 (ms) | p99 (ms) | erreurs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += serving_rows("Pile complète", s["full_levels"])
    if "unpatched_levels" in s:
        lines += serving_rows("Pile complète sans les correctifs (`RASA_SPEEDUPS=0`)", s["unpatched_levels"])
    if "workers_levels" in s:
        lines += serving_rows("Pile complète, 2 workers Sanic + Redis", s["workers_levels"])
    lines += serving_rows("Rasa simple", s["plain_levels"])
    if "workers_error" in s:
        lines += ["", f"2 workers Sanic : échec du démarrage ({s['workers_error']})."]
    ratios = [
        f"{c} : {s['full_levels'][c].throughput / s['plain_levels'][c].throughput:.2f}×"
        for c in sorted(s["full_levels"])
        if s["plain_levels"][c].throughput
    ]
    lines += [
        "",
        "Débit de la pile complète rapporté à celui de Rasa simple, par niveau de charge : " + ", ".join(ratios) + ".",
        "",
    ]
    if "full_real" in s and "plain_real" in s:
        full_real, plain_real = s["full_real"], s["plain_real"]
        lines += [
            "Sur les 180 questions réelles (`tests/nlu/real.yml`), dans le même lancement :",
            "",
            "| système | séquentiel p50 (ms) | séquentiel p95 (ms) | 10 conversations : messages/s | p95 (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, real in (("Pile complète", full_real), ("Rasa simple", plain_real)):
            load = real["levels"][10]
            lines.append(
                f"| {name} | {real['sequential'].p(50):.0f} | {real['sequential'].p(95):.0f} | "
                f"{load.throughput:.1f} | {load.p(95):.0f} |"
            )
        ratio = full_real["levels"][10].throughput / plain_real["levels"][10].throughput
        lines += ["", f"Débit rapporté à celui de Rasa simple sur ces questions : {ratio:.2f}×.", ""]
    lines += ["![Débit et latence](benchmarks/serving.png)", ""]
    return lines


def cost_section(q, s, main_model: Path, main_train_s) -> list:
    return [
        "## Coût",
        "",
        "| mesure | valeur |",
        "|---|---:|",
        f"| entraînement du modèle du projet (dernier `make train` ; Rasa réutilise les composants inchangés de son cache) | {main_train_s} |",
        *(
            [f"| entraînement NLU du pipeline précédent (DIET, spaCy) | {q['timings']['train_previous_s']:.0f} s |"]
            if "train_previous_s" in q["timings"]
            else []
        ),
        f"| entraînement TF-IDF | {q['timings']['train_tfidf_s']:.1f} s |",
        f"| entraînement de Rasa simple | {s['plain_train_s']:.0f} s |",
        f"| taille du modèle du projet | {main_model.stat().st_size / 1e6:.0f} Mo |",
        f"| mémoire résidente : serveur Rasa (pile complète, après la charge) | {s['full_rss_mb']:.0f} Mio |",
        f"| mémoire résidente : serveur d'actions | {s['actions_rss_mb']:.0f} Mio |",
        *(
            [f"| mémoire résidente : Rasa à 2 workers (tous processus) | {s['workers_rss_mb']:.0f} Mio |"]
            if "workers_rss_mb" in s
            else []
        ),
        f"| mémoire résidente : Rasa simple | {s['plain_rss_mb']:.0f} Mio |",
        f"| démarrage jusqu'à la première réponse : pile complète | {s['full_startup_s']:.1f} s |",
        f"| démarrage jusqu'à la première réponse : Rasa simple | {s['plain_startup_s']:.1f} s |",
        "",
    ]


def charts(q, s) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(parents=True, exist_ok=True)
    pairs = q["confusions"].get("real", [])
    fig, ax = plt.subplots(figsize=(8, 4))
    if pairs:
        ax.barh([f"{a} → {b}" for (a, b), _ in pairs][::-1], [n for _, n in pairs][::-1], color="#000091")
    ax.set_xlabel("questions du jeu de test")
    ax.set_title("Faits les plus confondus (projet, questions réelles)")
    fig.tight_layout()
    fig.savefig(CHARTS / "confusions.png", dpi=110)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, levels, colour in [
        ("pile complète", s["full_levels"], "#000091"),
        ("Rasa simple", s["plain_levels"], "#929292"),
    ] + ([("2 workers + Redis", s["workers_levels"], "#18753c")] if "workers_levels" in s else []):
        xs = sorted(levels)
        left.plot(xs, [levels[c].throughput for c in xs], marker="o", label=name, color=colour)
        right.plot(xs, [levels[c].p(95) for c in xs], marker="o", label=name, color=colour)
    left.set(xlabel="conversations simultanées", ylabel="messages/s", title="Débit")
    right.set(xlabel="conversations simultanées", ylabel="ms", title="Latence p95")
    left.legend()
    fig.tight_layout()
    fig.savefig(CHARTS / "serving.png", dpi=110)
    plt.close(fig)


PARTS = ("quality", "serving", "masking", "profile", "scaling", "facts")
# Measured only when asked (`--only=spread`): it trains the model five times (about an hour).
OPTIONAL_PARTS = ("spread",)
RESULTS = WORKDIR / "results"


def profile_section(profile, measured: str) -> list:
    share = lambda n: f"{n / profile.samples:.1%}"  # noqa: E731
    lines = [
        "## Où part le temps du serveur Rasa",
        "",
        f"Mesuré le {measured}. py-spy échantillonne les piles Python du serveur Rasa (200 Hz, "
        f"{profile.seconds:.0f} s) pendant que 10 conversations simultanées l'interrogent "
        f"({profile.messages} messages). Chaque échantillon est compté pour le composant le plus "
        "interne de sa pile (numpy ou asyncio comptent pour le composant qui les appelle).",
        "",
        "| composant | part des échantillons |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {share(n)} |" for label, n in profile.by_component]
    lines += ["", "Fonctions les plus présentes en haut de pile :", "", "| fonction | part |", "|---|---:|"]
    lines += [f"| `{frame[:110]}` | {share(n)} |" for frame, n in profile.top_functions[:8]]
    return lines + [""]


def scaling_section(scaling, measured: str) -> list:
    from bench.scaling import QUESTIONS_PER_SIZE, p

    lines = [
        "## Coût selon le volume",
        "",
        f"Mesuré le {measured}.",
        "",
        "### Taille du tracker store",
        "",
        "Pile complète sur un tracker store SQLite contenant N conversations (copies d'une conversation "
        f"réelle de 9 messages enregistrée par le banc). {QUESTIONS_PER_SIZE} messages séquentiels par "
        "taille : la moitié ouvre une nouvelle conversation, l'autre moitié poursuit une conversation stockée.",
        "",
        "| conversations stockées | événements | fichier | nouvelle : p50 / p95 (ms) | poursuivie : p50 / p95 (ms) | démarrage | mémoire Rasa |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scaling["stores"]:
        back = f"{p(s.returning_ms, 50):.0f} / {p(s.returning_ms, 95):.0f}" if s.returning_ms else "—"
        lines.append(
            f"| {s.conversations:,} | {s.events:,} | {s.file_mb:.0f} Mo | {p(s.new_ms, 50):.0f} / "
            f"{p(s.new_ms, 95):.0f} | {back} | {s.startup_s:.1f} s | {s.rss_mb:.0f} Mio |".replace(",", " ")
        )
    by_length = scaling.get("conversation_length") or {}
    if "window" in by_length:
        window, rasa = by_length["window"], by_length.get("rasa", {})
        lines += [
            "",
            "### Longueur d'une conversation",
            "",
            "Une seule conversation de 200 messages. Rasa relit à chaque tour les événements de la session en "
            "cours ; le projet termine une session après `SESSION_MAX_MESSAGES` (40) messages, entre deux "
            "tours (`rasa_addons/session_window.py`). « Sessions de Rasa » : la même conversation avec "
            "`SESSION_MAX_MESSAGES=0` (une session tant que le citoyen écrit dans l'heure), dans le même "
            "lancement.",
            "",
            "| messages | p50 (ms), projet | max (ms), projet | p50 (ms), sessions de Rasa |",
            "|---|---:|---:|---:|",
        ]
        for start, values in sorted(window.items()):
            baseline = f"{statistics.median(rasa[start]):.0f}" if start in rasa else "—"
            lines.append(
                f"| {start} à {start + len(values) - 1} | {statistics.median(values):.0f} | {max(values):.0f} | "
                f"{baseline} |"
            )
        first, last = min(window), max(window)
        lines += [
            "",
            f"Messages {last} à {last + 9} rapportés aux messages 1 à 10 : projet "
            f"{statistics.median(window[last]) / statistics.median(window[first]):.1f}×"
            + (
                f", sessions de Rasa {statistics.median(rasa[last]) / statistics.median(rasa[first]):.1f}×."
                if rasa
                else "."
            ),
        ]
    return lines + [""]


def facts_section(facts, measured: str) -> list:
    lines = [
        "## Coût selon le nombre de faits",
        "",
        f"Mesuré le {measured}.",
        "",
        "Même configuration NLU, entraînée dans ce lancement sur les faits du projet puis sur les faits "
        "doublés : chaque fait reçoit un jumeau synthétique (un service fictif de données scolaires, "
        "mêmes questions au vocabulaire près). Latence d'analyse NLU seule, dans un processus neuf, sur "
        "les questions du jeu de test ; l'exactitude porte sur les faits réels du jeu de test, sans seuil.",
        "",
        "| faits | questions d'entraînement (faits) | entraînement | modèle | analyse p50 / p95 (ms) | mémoire | exactitude (jeu de test) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in facts:
        lines.append(
            f"| {f.facts} | {f.examples} | {f.train_s:.0f} s | {f.model_mb:.0f} Mo | {f.parse_p50_ms:.0f} / "
            f"{f.parse_p95_ms:.0f} | {f.rss_mb:.0f} Mio | {pct(f.heldout_fact_accuracy)} |"
        )
    one, two = facts[0], facts[-1]
    if one.train_s and one.parse_p50_ms:
        lines += [
            "",
            f"Faits ×{two.facts / one.facts:.1f} : entraînement ×{two.train_s / one.train_s:.2f}, "
            f"modèle ×{two.model_mb / one.model_mb:.2f}, analyse p50 ×{two.parse_p50_ms / one.parse_p50_ms:.2f}, "
            f"mémoire ×{two.rss_mb / one.rss_mb:.2f}.",
        ]
    return lines + [""]


SECTIONS = ("quality", "serving", "masking", "profile", "cost", "scaling", "facts", "spread")
SECTION_START, SECTION_END = "<!-- partie {} -->", "<!-- fin de la partie {} -->"


def previous_sections(report: Path) -> dict:
    """The report's sections as last written, by name."""
    if not report.exists():
        return {}
    text = report.read_text(encoding="utf-8")
    sections = {}
    for name in SECTIONS:
        found = re.search(
            re.escape(SECTION_START.format(name)) + r"\n(.*?)\n" + re.escape(SECTION_END.format(name)), text, re.S
        )
        if found:
            sections[name] = found.group(1).split("\n")
    return sections


def load_part(name: str):
    path = RESULTS / f"{name}.pickle"
    if not path.exists():
        return None, None
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return pickle.loads(path.read_bytes()), stamp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-folds", type=int, default=0, help="also cross-validate the Rasa pipelines (slow)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per load level")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to measure now ({', '.join(PARTS + OPTIONAL_PARTS)}; default all but "
        f"{', '.join(OPTIONAL_PARTS)}); the report keeps "
        "the last measurement of the others, with its date",
    )
    parser.add_argument(
        "--without-previous-pipeline",
        action="store_true",
        help="quality: skip training the previous DIET pipeline (about 25 minutes); its row is left out",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes: serving against the plain bot only, printed, docs/benchmarks.md untouched",
    )
    args = parser.parse_args()
    from bench import masking, profile, quality, scaling, serving, training_spread

    if args.quick:
        print(serving.quick_report(serving.run_quick(WORKDIR / "quick")))
        return 0

    model = current_model_path()
    if not model.exists():
        print("No model for the current data: run `make train` first.")
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    runners = {
        "quality": lambda: quality.run(
            WORKDIR / "quality", model, args.rasa_folds, previous_pipeline=not args.without_previous_pipeline
        ),
        "serving": lambda: serving.run(WORKDIR / "serving", args.duration),
        "masking": masking.run,
        "profile": lambda: profile.run(WORKDIR / "profile"),
        "scaling": lambda: scaling.run(WORKDIR / "scaling", with_facts=False),
        "facts": lambda: scaling.facts_scaling(WORKDIR / "scaling" / "facts"),
        "spread": lambda: training_spread.run(WORKDIR / "spread"),
    }
    for part in [p.strip() for p in args.only.split(",") if p.strip()]:
        if part not in runners:
            print(f"Unknown part {part!r}; parts: {', '.join(PARTS + OPTIONAL_PARTS)}")
            return 2
        result = runners[part]()
        result_model = {"model": model.name, "result": result}
        (RESULTS / f"{part}.pickle").write_bytes(pickle.dumps(result_model))

    parts = {name: load_part(name) for name in PARTS + OPTIONAL_PARTS}
    stale = [name for name, (value, _) in parts.items() if value and value["model"] != model.name]
    lines = [
        "# Bancs d'essai",
        "",
        f"Généré par `make bench` le {dt.date.today().isoformat()} ({os.cpu_count()} cœurs, "
        f"Python {platform.python_version()}), modèle `{model.name}`. Chiffres rapportés, jamais assertés par "
        "les tests. Chaque partie porte la date de sa mesure ; chaque comparaison (projet contre références) "
        "est faite dans un même lancement, sur une même machine.",
        "",
    ]
    if stale:
        lines += [f"Attention : parties mesurées avec un modèle antérieur : {', '.join(stale)}.", ""]
    (q, q_at), (s, s_at) = parts["quality"], parts["serving"]
    fresh = {}
    kept = previous_sections(DOCS / "benchmarks.md")
    if q:
        section = quality_section(q["result"])
        fresh["quality"] = section[:2] + [f"Mesuré le {q_at}.", ""] + section[2:]
    if s:
        section = serving_section(s["result"])
        fresh["serving"] = section[:2] + [f"Mesuré le {s_at}.", ""] + section[2:]
    if parts["masking"][0]:
        fresh["masking"] = masking.section(parts["masking"][0]["result"], parts["masking"][1])
    if parts["profile"][0]:
        fresh["profile"] = profile_section(parts["profile"][0]["result"], parts["profile"][1])
    if q and s:
        from training.model_store import metadata_path

        meta = metadata_path(model)
        main_train = (
            f"{json.loads(meta.read_text())['train_seconds']:.0f} s"
            if meta.exists()
            else "inconnu (modèle entraîné avant l'enregistrement de cette mesure)"
        )
        fresh["cost"] = cost_section(q["result"], s["result"], model, main_train)
        charts(q["result"], s["result"])
    if parts["scaling"][0]:
        fresh["scaling"] = scaling_section(parts["scaling"][0]["result"], parts["scaling"][1])
    if parts["facts"][0]:
        fresh["facts"] = facts_section(parts["facts"][0]["result"], parts["facts"][1])
    if parts["spread"][0]:
        fresh["spread"] = training_spread.section(parts["spread"][0]["result"], parts["spread"][1])
    # Results stay on the machine that measured them (var/): a section not measured here is
    # kept from the report as it was, with its own date, rather than dropped.
    missing = []
    for name in SECTIONS:
        body = fresh.get(name) or kept.get(name)
        if body is None:
            missing.append(name)
            continue
        lines += [SECTION_START.format(name), *body, SECTION_END.format(name)]
    if missing:
        lines += ["## Non mesuré dans ce rapport", "", f"Parties jamais lancées : {', '.join(missing)}.", ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"Report: docs/benchmarks.md; charts in {CHARTS.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
