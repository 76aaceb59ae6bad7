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
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, paragraphs, piece_counts, ud_sentences
from benchmarks.runner import fmt, rates, report_header, run_contender

logger = logging.getLogger("benchmarks")

CONTENDERS = {
    "pipeline": "full pipeline (text stages + BertEmbeddings, tiny model)",
    "text_stages": "text stages alone (DocumentAssembler → SentenceDetector → Tokenizer)",
    "encode_batch": "`tokenizers` encode_batch alone (one process)",
    "replay": "Spark alone: the pipeline's output replayed from Arrow files (Python does nothing)",
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
        }
        specs = {
            "pipeline": base | {"contender": "sparkbert", "first_embedding": False},
            "text_stages": base | {"contender": "sparkbert", "text_stages_only": True},
            "encode_batch": base | {"contender": "encode_batch"},
            "replay": base
            | {"contender": "sparkbert", "first_embedding": False, "replay": str(work / f"replay-{kind}")},
        }
        results = {}
        for name, spec in specs.items():
            if args.only and name not in args.only:
                continue
            res = run_contender(spec | {"tag": f"host-{kind}-{name}"}, work, args.timeout)
            rates(res, pieces, len(texts))
            results[name] = res
        texts_report[kind] = {"rows": len(texts), "pieces": pieces, "results": results}
    return {
        "mode": "host",
        "model": model.name,
        "texts": texts_report,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    """The host-path table: pieces/s and pieces per CPU-second, and each against encode_batch."""
    lines = [
        *report_header("host path", report["machine"]),
        f"Model: {report['model']}. Spark `local[*]`. Every contender runs on the same rows.",
        "",
        "| text | contender | rows | pieces | time (s) | pieces/s | CPU (s) | pieces/CPU-s "
        "| × encode_batch (CPU-s) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for kind, t in report["texts"].items():
        floor = t["results"].get("encode_batch", {}).get("tokens_per_cpu_s")
        for name, r in t["results"].items():
            if "error" in r:
                lines.append(
                    f"| {kind} | {CONTENDERS[name]} | {t['rows']:,} | error: {r['error'][:80]} |" + " |" * 5
                )
                continue
            per_cpu = r.get("tokens_per_cpu_s")
            ratio = per_cpu / floor if per_cpu and floor else None
            lines.append(
                f"| {kind} | {CONTENDERS[name]} | {t['rows']:,} | {t['pieces']:,} | {r['elapsed_s']:.2f} "
                f"| {fmt(r.get('tokens_per_s'))} | {fmt(r.get('cpu_s'), 2)} | {fmt(per_cpu)} | {fmt(ratio, 2)} |"
            )
    lines += [
        "",
        "CPU time is the contender's whole process tree (driver, JVM, Python workers) during the measured "
        "window; encode_batch's is its one process (all its threads).",
        "",
    ]
    return "\n".join(lines)
