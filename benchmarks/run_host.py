"""``python benchmarks/run.py --host``: the work around the model, with a model that costs almost nothing.

A 1-layer, hidden-32 random BERT with the real mBERT tokenizer (``tests/data/mbert``) runs
the full pipeline; beside it, on the same rows and the same number of them:

* the three text stages alone (DocumentAssembler → SentenceDetector → Tokenizer, forcing
  the token column), in Spark;
* Hugging Face ``tokenizers`` ``encode_batch`` of every row, in one process (the floor);
* Spark alone: the pipeline's own output, computed beforehand and saved per partition as
  Arrow files, replayed by a ``mapInArrow`` that does nothing else (the floor Spark sets for
  this output: Arrow in, rows of every column in the JVM).

Two texts: short UD sentences (one per row) and long paragraphs (ten UD sentences of one
language per row, ``--host-copies`` copies of all 4,800). Rates are word pieces of the rows
(the benchmark's token unit) per second and per CPU-second of the contender's whole process
tree; on a shared machine the per-CPU-second rate is the steadier one.

Each measured window lasts a second or two, in which another process's burst moves the
figure by a quarter, so ``--host-rounds N`` runs the contenders N times, round-robin (each
run a fresh Spark application), and keeps each contender's run with the least CPU: outside
load only ever adds CPU time, as in ``timeit``. The report also gives the median. Each run
first makes ``--warm-passes`` (default 1) untimed passes over all the rows: in a cold pass of
a second or two most of the JVM's CPU is its JIT compiler, which a long job pays once.
``--host-baseline SRC`` adds the full pipeline once more with ``sparkbert`` imported from
another checkout's ``src`` (same rows, same model file), and the report rates the pipeline
against it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, paragraphs, piece_counts, ud_sentences
from benchmarks.runner import fmt, median, rates, report_header, run_contender

logger = logging.getLogger("benchmarks")

CONTENDERS = {
    "pipeline": "full pipeline (text stages + BertEmbeddings, tiny model)",
    "text_stages": "text stages alone (DocumentAssembler → SentenceDetector → Tokenizer)",
    "encode_batch": "`tokenizers` encode_batch alone (one process)",
    "replay": "Spark alone: the pipeline's output replayed from Arrow files (Python does nothing)",
    "baseline": "full pipeline, the library of `--host-baseline` (same model file)",
}


def _texts(kind: str, args: argparse.Namespace) -> list[str]:
    if kind == "short":
        base = ud_sentences()
        return [base[i % len(base)] for i in range(int(args.host_short))]
    return paragraphs() * int(args.host_copies)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three contenders on short and on long text; return the report."""
    from benchmarks.model import tiny_mbert

    started = time.perf_counter()
    out = Path(args.out)
    model = tiny_mbert(out / "model-cache")
    warm = 1 if args.warm_passes is None else int(args.warm_passes)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    texts_report: dict[str, Any] = {}
    for kind in ("short", "long"):
        texts = _texts(kind, args)
        file = work / f"host-{kind}-{len(texts)}.jsonl"
        file.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
        pieces = sum(piece_counts(texts, model.fp32_dir / "tokenizer.json"))
        base = {
            "model_dir": str(model.fp32_dir.resolve()),
            "sentences_file": str(file.resolve()),
            "n": len(texts),
            "master": "local[*]",
            "warmup_rows": args.warmup_rows,
            "warm_passes": warm,
        }
        specs = {
            "pipeline": base | {"contender": "sparkbert", "first_embedding": False},
            "text_stages": base | {"contender": "sparkbert", "text_stages_only": True},
            "encode_batch": base | {"contender": "encode_batch"},
            "replay": base
            | {"contender": "sparkbert", "first_embedding": False, "replay": str(work / f"replay-{kind}")},
        }
        if args.host_baseline:
            specs["baseline"] = specs["pipeline"] | {"library_src": str(Path(args.host_baseline).resolve())}
        runs: dict[str, list[dict[str, Any]]] = {}
        for number in range(1, int(args.host_rounds) + 1):
            for name, spec in specs.items():
                if args.only and name not in args.only:
                    continue
                res = run_contender(spec | {"tag": f"host-{kind}-{name}-{number}"}, work, args.timeout)
                rates(res, pieces, len(texts))
                runs.setdefault(name, []).append(res)
        results = {name: _least_cpu(tries) for name, tries in runs.items()}
        texts_report[kind] = {"rows": len(texts), "pieces": pieces, "results": results}
    return {
        "mode": "host",
        "model": model.name,
        "rounds": int(args.host_rounds),
        "warm_passes": warm,
        "baseline": args.host_baseline,
        "texts": texts_report,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def _least_cpu(tries: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the least CPU time, with every run's CPU time and their median beside it."""
    good = [r for r in tries if r.get("cpu_s")]
    if not good:
        return tries[-1]
    best = min(good, key=lambda r: r["cpu_s"])
    cpus = [r["cpu_s"] for r in good]
    return best | {"cpu_s_per_round": cpus, "median_cpu_s": median(cpus, 2)}


def markdown(report: dict[str, Any]) -> str:
    """The host-path table: rates per second and per CPU-second, the CPU split, and Spark's floor."""
    rounds = report.get("rounds", 1)
    kept = f"the least-CPU run of {rounds}" if rounds > 1 else "one run"
    lines = [
        *report_header("host path", report["machine"]),
        f"Model: {report['model']}. Spark `local[*]`. Every contender runs on the same rows; "
        f"each row is {kept} (`--host-rounds {rounds}`).",
        "",
        "| text | contender | rows | pieces | time (s) | pieces/s | CPU (s) | median CPU (s) | pieces/CPU-s "
        "| × encode_batch (CPU-s) | Python workers (CPU-s) | JVM (CPU-s) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    floors, against = [], []
    for kind, t in report["texts"].items():
        res = t["results"]
        base, new = res.get("baseline", {}), res.get("pipeline", {})
        if base.get("tokens_per_cpu_s") and new.get("tokens_per_cpu_s"):
            against.append(
                f"- {kind}: {new['tokens_per_cpu_s'] / base['tokens_per_cpu_s']:.2f} × per CPU-second "
                f"({new['tokens_per_s'] / base['tokens_per_s']:.2f} × wall)"
            )
        floor = res.get("encode_batch", {}).get("tokens_per_cpu_s")
        for name, r in res.items():
            if "error" in r:
                lines.append(
                    f"| {kind} | {CONTENDERS[name]} | {t['rows']:,} | error: {r['error'][:80]} |" + " |" * 8
                )
                continue
            per_cpu = r.get("tokens_per_cpu_s")
            ratio = per_cpu / floor if per_cpu and floor else None
            split = r.get("cpu_by_process_s") or {}
            python = split.get("model_workers", 0.0) + split.get("other_workers", 0.0) if split else None
            lines.append(
                f"| {kind} | {CONTENDERS[name]} | {t['rows']:,} | {t['pieces']:,} | {r['elapsed_s']:.2f} "
                f"| {fmt(r.get('tokens_per_s'))} | {fmt(r.get('cpu_s'), 2)} | {fmt(r.get('median_cpu_s'), 2)} "
                f"| {fmt(per_cpu)} | {fmt(ratio, 2)} | {fmt(python, 2)} | {fmt(split.get('jvm'), 2)} |"
            )
        spark, encode = res.get("replay", {}).get("cpu_s"), res.get("encode_batch", {}).get("cpu_s")
        if spark and encode:
            bound = t["pieces"] / (spark + encode)
            versus = (
                f", {bound / base['tokens_per_cpu_s']:.2f} × the baseline"
                if base.get("tokens_per_cpu_s")
                else ""
            )
            floors.append(
                f"- {kind}: Spark alone {spark:.2f} + `encode_batch` {encode:.2f} = {spark + encode:.2f} CPU-s, "
                f"at most {fmt(bound)} pieces/CPU-s{versus}"
            )
    lines += [
        "",
        "CPU time is the contender's whole process tree (driver, JVM, Python workers) during the measured "
        "window; encode_batch's is its one process (all its threads).",
        "",
    ]
    if against:
        lines += [f"The full pipeline against `--host-baseline` ({report['baseline']}):", "", *against, ""]
    if floors:
        lines += [
            "The floor: no implementation that writes this output schema and tokenizes with `tokenizers` "
            "spends less than Spark alone plus `encode_batch` alone:",
            "",
            *floors,
            "",
        ]
    return "\n".join(lines)
