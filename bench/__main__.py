"""`make bench`: understanding quality and serving speed, against baselines, in one run.

Writes docs/benchmarks.md and PNG charts under docs/benchmarks/. Figures are reported,
never asserted by the tests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path

from mesdonnees.facts import PROJECT_ROOT
from mesdonnees.model_store import current_model_path

DOCS = PROJECT_ROOT / "docs"
CHARTS = DOCS / "benchmarks"
WORKDIR = PROJECT_ROOT / "var" / "bench"


def pct(x: float) -> str:
    return f"{x:.1%}"


def quality_section(q) -> list:
    lines = ["## Compréhension", "",
             "Jeu de test tenu à l'écart (`tests/nlu/heldout.yml`, jamais utilisé pour l'entraînement ni le "
             "réglage). Seuils de chaque système réglés sur le jeu de développement (`tests/nlu/dev.yml`), "
             "même règle que `make tune`. « Sûr et faux » : un fait donné alors qu'un autre, ou aucun, était juste.", "",
             "| système | exactitude (faits) | macro-F1 (faits) | hors sujet : précision | hors sujet : rappel | hors sujet recevant un fait | sûr et faux | seuils (intention, fait) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for s in q["heldout"]:
        r = s.report
        lines.append(f"| {s.name} | {pct(r.fact_accuracy)} | {s.macro_f1:.3f} | {pct(r.oos_precision)} | "
                     f"{pct(r.oos_recall)} | {pct(r.oos_fact_rate)} | {pct(r.confidently_wrong_rate)} | "
                     f"{s.thresholds[0]:.2f}, {s.thresholds[1]:.2f} |")
    lines += ["", "Validation croisée à 5 plis sur les données d'entraînement :", "",
              "| système | exactitude (faits) | macro-F1 (faits) | hors sujet recevant un fait | sûr et faux |",
              "|---|---:|---:|---:|---:|"]
    for s in q["cv"]:
        r = s.report
        lines.append(f"| {s.name} | {pct(r.fact_accuracy)} | {s.macro_f1:.3f} | {pct(r.oos_fact_rate)} | {pct(r.confidently_wrong_rate)} |")
    if len(q["cv"]) == 1:
        lines += ["", "La validation croisée des pipelines Rasa (5 entraînements chacun) se lance avec "
                  "`make bench BENCH_ARGS=--rasa-folds=5` ; elle n'est pas dans le rapport par défaut."]
    lines += ["", "![Faits les plus confondus](benchmarks/confusions.png)", ""]
    return lines


def serving_rows(name, levels, rss=None):
    rows = []
    for c, load in sorted(levels.items()):
        rows.append(f"| {name} | {c} | {load.throughput:.1f} | {load.p(50):.0f} | {load.p(95):.0f} | "
                    f"{load.p(99):.0f} | {load.errors} |")
    return rows


def serving_section(s) -> list:
    seq_full, seq_plain = s["full_sequential"], s["plain_sequential"]
    lines = ["## Vitesse de service", "",
             "Canal REST, sur cette machine, dans le même lancement. « Pile complète » : serveur Rasa + serveur "
             "d'actions + tracker store SQL (SQLite) avec masquage. « Rasa simple » : un assistant minimal (pas "
             "d'action personnalisée, tracker en mémoire) entraîné par le banc.", "",
             "Latence séquentielle (ms, 150 messages) :", "",
             "| système | p50 | p95 | p99 |", "|---|---:|---:|---:|",
             f"| Pile complète | {seq_full.p(50):.0f} | {seq_full.p(95):.0f} | {seq_full.p(99):.0f} |",
             f"| Rasa simple | {seq_plain.p(50):.0f} | {seq_plain.p(95):.0f} | {seq_plain.p(99):.0f} |", "",
             "Charge (conversations simultanées, 15 s par niveau) :", "",
             "| système | conversations | messages/s | p50 (ms) | p95 (ms) | p99 (ms) | erreurs |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += serving_rows("Pile complète", s["full_levels"])
    if "workers_levels" in s:
        lines += serving_rows("Pile complète, 2 workers Sanic + Redis", s["workers_levels"])
    lines += serving_rows("Rasa simple", s["plain_levels"])
    if "workers_error" in s:
        lines += ["", f"2 workers Sanic : échec du démarrage ({s['workers_error']})."]
    ratios = [f"{c} : {s['full_levels'][c].throughput / s['plain_levels'][c].throughput:.2f}×"
              for c in sorted(s["full_levels"]) if s["plain_levels"][c].throughput]
    lines += ["", "Débit de la pile complète rapporté à celui de Rasa simple, par niveau de charge : " + ", ".join(ratios) + ".",
              "", "![Débit et latence](benchmarks/serving.png)", ""]
    return lines


def cost_section(q, s, main_model: Path, main_train_s) -> list:
    return ["## Coût", "",
            "| mesure | valeur |", "|---|---:|",
            f"| entraînement du modèle du projet (dernier `make train` ; Rasa réutilise les composants inchangés de son cache) | {main_train_s} |",
            f"| entraînement NLU sans spaCy | {q['timings']['train_no_spacy_s']:.0f} s |",
            f"| entraînement TF-IDF | {q['timings']['train_tfidf_s']:.1f} s |",
            f"| entraînement de Rasa simple | {s['plain_train_s']:.0f} s |",
            f"| taille du modèle du projet | {main_model.stat().st_size / 1e6:.0f} Mo |",
            f"| mémoire résidente : serveur Rasa (pile complète, après la charge) | {s['full_rss_mb']:.0f} Mio |",
            f"| mémoire résidente : serveur d'actions | {s['actions_rss_mb']:.0f} Mio |",
            *([f"| mémoire résidente : Rasa à 2 workers (tous processus) | {s['workers_rss_mb']:.0f} Mio |"] if "workers_rss_mb" in s else []),
            f"| mémoire résidente : Rasa simple | {s['plain_rss_mb']:.0f} Mio |",
            f"| démarrage jusqu'à la première réponse : pile complète | {s['full_startup_s']:.1f} s |",
            f"| démarrage jusqu'à la première réponse : Rasa simple | {s['plain_startup_s']:.1f} s |", ""]


def charts(q, s) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(parents=True, exist_ok=True)
    pairs = q["confusions"]
    fig, ax = plt.subplots(figsize=(8, 4))
    if pairs:
        ax.barh([f"{a} → {b}" for (a, b), _ in pairs][::-1], [n for _, n in pairs][::-1], color="#000091")
    ax.set_xlabel("questions du jeu de test")
    ax.set_title("Faits les plus confondus (projet, jeu de test)")
    fig.tight_layout()
    fig.savefig(CHARTS / "confusions.png", dpi=110)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, levels, colour in [("pile complète", s["full_levels"], "#000091"), ("Rasa simple", s["plain_levels"], "#929292")] + (
            [("2 workers + Redis", s["workers_levels"], "#18753c")] if "workers_levels" in s else []):
        xs = sorted(levels)
        left.plot(xs, [levels[c].throughput for c in xs], marker="o", label=name, color=colour)
        right.plot(xs, [levels[c].p(95) for c in xs], marker="o", label=name, color=colour)
    left.set_xlabel("conversations simultanées"); left.set_ylabel("messages/s"); left.set_title("Débit")
    right.set_xlabel("conversations simultanées"); right.set_ylabel("ms"); right.set_title("Latence p95")
    left.legend(); fig.tight_layout(); fig.savefig(CHARTS / "serving.png", dpi=110); plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-folds", type=int, default=0, help="also cross-validate the Rasa pipelines (slow)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per load level")
    args = parser.parse_args()
    from bench import quality, serving

    model = current_model_path()
    if not model.exists():
        print("No model for the current data: run `make train` first.")
        return 1
    q = quality.run(WORKDIR / "quality", model, args.rasa_folds)
    s = serving.run(WORKDIR / "serving", args.duration)
    charts(q, s)
    from mesdonnees.model_store import metadata_path

    meta = metadata_path(model)
    main_train = (f"{json.loads(meta.read_text())['train_seconds']:.0f} s" if meta.exists()
                  else "inconnu (modèle entraîné avant l'enregistrement de cette mesure)")
    lines = ["# Bancs d'essai", "",
             f"Généré par `make bench` le {dt.date.today().isoformat()} sur cette machine ({os.cpu_count()} cœurs, "
             f"Python {platform.python_version()}), modèle `{model.name}`. Chiffres rapportés, jamais assertés par les tests.", ""]
    lines += quality_section(q) + serving_section(s) + cost_section(q, s, model, main_train)
    lines += ["## Non mesuré dans ce rapport", "",
              "- l'évolution de la latence et de la mémoire avec la taille du tracker store (1k, 10k, 100k conversations) "
              "et avec le nombre de faits doublé (faits synthétiques).", ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"Report: docs/benchmarks.md; charts in {CHARTS.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
