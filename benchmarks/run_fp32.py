"""``python benchmarks/run.py --fp32``: the full fp32 pipeline against raw ONNX Runtime at its best batch size.

The target: the full pipeline ≥ 0.95 × raw ONNX Runtime (best batch size, same sentences,
same model file) on short UD sentences and on long paragraph text, at the default
``maxSentenceLength``, on ``local[2]`` and ``local[4]``. For each text:

* **raw ONNX Runtime** (``ceiling`` contender with ``batch_sizes``), one process, all cores
  (``default_intra_op_threads``), the model's own ``model.onnx``, on the sentences sparkbert
  embeds (its DocumentAssembler and SentenceDetector, run in-process on the same rows). Each
  sentence runs whole, ``[CLS] pieces [SEP]``; one over the model's position limit (512) runs
  as consecutive chunks of it, without overlap (every piece runs once),
  in globally length-sorted batches padded to their own longest row, at every
  ``--fp32-batch-sizes``; the fastest is the ceiling. Then the windows sparkbert cuts at the
  default ``maxSentenceLength``, at that batch size: what window overlap costs.
* **the full pipeline** (``sparkbert`` contender): DocumentAssembler → SentenceDetector →
  Tokenizer → BertEmbeddings through public params, library defaults, forced by a ``noop``
  write, on each master of ``--fp32-masters``.

Rates are word pieces of the detected sentences under the model's tokenizer (no control
tokens), one count for every contender, per second and per CPU-second of the contender's
process tree. Short text: ``--fp32-short`` UD sentences, one per row; long text:
``--fp32-long`` paragraphs of ten UD sentences of one language, languages interleaved.

``--fp32-rounds N`` repeats raw and pipeline N times per text, alternating which goes first,
and judges the median of the rounds' ratios: identical runs on a shared machine move by
8–10 % over minutes, more than the gap this mode measures, and a single run puts any drift
between its raw and pipeline halves straight into the ratio.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.common import detected_sentences, machine, paragraph_rows, sentences, write_jsonl
from benchmarks.runner import fmt, median, rates, report_header, run_contender

logger = logging.getLogger("benchmarks")

#: Default sizes: at ~500 pieces/s (the 12-layer model, 2 idle cores) one pass over the short
#: text (34.6k pieces) takes ~70 s, over the long one (16.3k pieces) ~35 s; with 5 batch
#: sizes + windowed + 2 masters per text and Spark's start-ups the mode takes ~16-17 minutes.
DEFAULT_SHORT = 1000
DEFAULT_LONG = 48
DEFAULT_BATCH_SIZES = (1, 4, 8, 16, 32)
DEFAULT_MASTERS = ("local[2]", "local[4]")
#: The issue's target: pipeline / best raw.
TARGET = 0.95
#: Seconds between memory samples (``common.Sampler``); this mode reports speed, not memory.
MEMORY_INTERVAL_S = 10.0


def _model(args: argparse.Namespace) -> Any:
    from benchmarks.model import random_mbert, tiny_mbert, user_model

    cache = Path(args.out) / "model-cache"
    cache.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if getattr(args, "fp32_tiny", False):
        model = tiny_mbert(cache)
    elif args.model:
        model = user_model(Path(args.model), cache, with_int8=False)
    else:
        model = random_mbert(cache, with_int8=False)
    logger.info("model ready in %.1fs: %s", time.perf_counter() - t, model.fp32_dir)
    return model


def _rows(kind: str, args: argparse.Namespace) -> list[str]:
    return sentences(int(args.fp32_short)) if kind == "short" else paragraph_rows(int(args.fp32_long))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Raw ONNX Runtime at every batch size and the pipeline on every master, short and long text."""
    from sparkbert.runtime.tokenization import encode, load_tokenizer
    from sparkbert.settings import DEFAULT_MAX_SENTENCE_LENGTH

    started = time.perf_counter()
    model = _model(args)
    work = Path(args.out) / "work"
    tok = load_tokenizer(model.fp32_dir / "tokenizer.json")
    batch_sizes = list(args.fp32_batch_sizes)
    masters = list(args.fp32_masters)
    texts_report: dict[str, Any] = {}
    for kind in ("short", "long"):
        rows = _rows(kind, args)
        found = detected_sentences(rows, model.fp32_dir)
        flat = [s for row in found for s in row]
        lengths = [len(e) for e in encode(tok, flat)]
        pieces = sum(lengths)
        rows_file = write_jsonl(work / f"fp32-{kind}-rows-{len(rows)}.jsonl", rows)
        sents_file = write_jsonl(work / f"fp32-{kind}-sentences-{len(rows)}.jsonl", flat)
        # the pipeline's warm-up (model load, first batches): 16 short rows, 8 paragraphs
        warmup = args.warmup_rows if kind == "short" else min(args.warmup_rows, 8)
        # memory every 10 s, not 2: reading four model workers' page tables every 2 s took
        # 2.5 CPU-s of the two cores the pipeline runs on (0.6 s at 10 s); CPU times stay at 2 s
        base = {
            "model_dir": str(model.fp32_dir.resolve()),
            "warmup_rows": warmup,
            "memory_interval_s": MEMORY_INTERVAL_S,
        }
        info: dict[str, Any] = {
            "rows": len(rows),
            "sentences": len(flat),
            "pieces": pieces,
            "mean_pieces_per_sentence": round(pieces / max(1, len(flat)), 1),
            "longest_sentence_pieces": max(lengths, default=0),
            "sentences_over_max_sentence_length": sum(n > DEFAULT_MAX_SENTENCE_LENGTH - 2 for n in lengths),
        }
        sents_spec = base | {
            "contender": "ceiling",
            "tag": f"fp32-{kind}-raw",
            "sentences_file": str(sents_file.resolve()),
            "n": len(flat),
            "max_sentence_length": DEFAULT_MAX_SENTENCE_LENGTH,
        }
        rows_spec = base | {
            "contender": "sparkbert",
            "sentences_file": str(rows_file.resolve()),
            "n": len(rows),
            "first_embedding": False,
        }
        count = (pieces, len(flat))
        want_raw = not args.only or "raw" in args.only
        raw = _run_raw(sents_spec | {"batch_sizes": batch_sizes}, work, args, count) if want_raw else {}
        pipeline = _run_pipelines(rows_spec, kind, masters, work, args, count)
        _ratios(raw, pipeline)
        rounds = [_round(1, "raw first", raw, pipeline)] if raw and pipeline else []
        for number in range(2, args.fp32_rounds + 1 if rounds else 0):
            # the raw batch sizes that won round 1; the order alternates so that a drift of the
            # machine's speed during the run weighs on both sides alike
            again_spec = sents_spec | {"batch_sizes": sorted({raw["best_by_wall"], raw["best_by_cpu"]})}
            again_spec["windowed"] = False
            order = "pipeline first" if number % 2 == 0 else "raw first"
            if order == "pipeline first":
                again = _run_pipelines(rows_spec, kind, masters, work, args, count)
                again_raw = _run_raw(again_spec, work, args, count)
            else:
                again_raw = _run_raw(again_spec, work, args, count)
                again = _run_pipelines(rows_spec, kind, masters, work, args, count)
            _ratios(again_raw, again)
            rounds.append(_round(number, order, again_raw, again))
        texts_report[kind] = info | {"raw": raw, "pipeline": pipeline, "rounds": rounds}
    return {
        "mode": "fp32",
        "model": model.name,
        "model_dir": str(model.fp32_dir),
        "max_sentence_length": DEFAULT_MAX_SENTENCE_LENGTH,
        "batch_sizes": batch_sizes,
        "masters": masters,
        "rounds": args.fp32_rounds,
        "token_unit": "word pieces of the detected sentences under the model's tokenizer, no control tokens",
        "texts": texts_report,
        "targets": targets(texts_report, masters),
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def _run_raw(
    spec: dict[str, Any], work: Path, args: argparse.Namespace, count: tuple[int, int]
) -> dict[str, Any]:
    """Raw ONNX Runtime (``ceiling`` contender) at ``spec["batch_sizes"]``, with its rates."""
    res = run_contender(spec, work, args.timeout)
    for entry in [*res.get("sweep", []), res.get("windowed", {})]:
        rates(entry, *count)
    rates(res, *count)
    return res


def _run_pipelines(
    spec: dict[str, Any],
    kind: str,
    masters: list[str],
    work: Path,
    args: argparse.Namespace,
    count: tuple[int, int],
) -> dict[str, Any]:
    """The full pipeline on each master ``--only`` leaves, with its rates."""
    out = {}
    for master in masters:
        if args.only and "pipeline" not in args.only and master not in args.only:
            continue
        tag = f"fp32-{kind}-pipeline-{master.replace('[', '').replace(']', '')}"
        res = run_contender(spec | {"tag": tag, "master": master}, work, args.timeout)
        rates(res, *count)
        out[master] = res
    return out


def _best(raw: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The raw sweep entry with the highest ``key`` rate (wall or CPU)."""
    entries = [e for e in raw.get("sweep", []) if e.get(key)]
    return max(entries, key=lambda e: e[key]) if entries else None


def _ratios(raw: dict[str, Any], pipeline: dict[str, Any]) -> None:
    """Each rate against the best raw rate of its kind (wall against wall, CPU against CPU)."""
    wall, cpu = _best(raw, "tokens_per_s"), _best(raw, "tokens_per_cpu_s")
    for entry in [*raw.get("sweep", []), raw.get("windowed", {}), *pipeline.values()]:
        if wall and entry.get("tokens_per_s"):
            entry["ratio_to_best_raw"] = round(entry["tokens_per_s"] / wall["tokens_per_s"], 3)
        if cpu and entry.get("tokens_per_cpu_s"):
            entry["cpu_ratio_to_best_raw"] = round(entry["tokens_per_cpu_s"] / cpu["tokens_per_cpu_s"], 3)
    if wall:
        raw["best_by_wall"] = wall["batch_size"]
    if cpu:
        raw["best_by_cpu"] = cpu["batch_size"]


def _round(number: int, order: str, raw: dict[str, Any], pipeline: dict[str, Any]) -> dict[str, Any]:
    """One round's rates and each master's ratio to the same round's best raw (set by ``_ratios``)."""
    return {
        "round": number,
        "order": order,
        "raw": {str(e["batch_size"]): _rates_of(e) for e in raw.get("sweep", [])},
        "pipeline": {m: _rates_of(r) for m, r in pipeline.items()},
        "ratio": {m: r["ratio_to_best_raw"] for m, r in pipeline.items() if "ratio_to_best_raw" in r},
        "cpu_ratio": {
            m: r["cpu_ratio_to_best_raw"] for m, r in pipeline.items() if "cpu_ratio_to_best_raw" in r
        },
    }


def _rates_of(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("elapsed_s", "cpu_s", "tokens_per_s", "tokens_per_cpu_s", "others_share_of_busy")
    return {k: r.get(k) for k in keys}


def targets(texts: dict[str, Any], masters: list[str]) -> list[dict[str, Any]]:
    """Pipeline ≥ 0.95 × best raw, per (text, master); pass/fail on wall time and per CPU-second.

    With several rounds the ratio judged is the median of the rounds' ratios (each round's
    pipeline against that round's raw run); with one, the single run's.
    """
    checks = []
    for kind, t in texts.items():
        for master in masters:
            res = t["pipeline"].get(master, {})
            ratio, cpu_ratio = res.get("ratio_to_best_raw"), res.get("cpu_ratio_to_best_raw")
            walls = [r["ratio"][master] for r in t.get("rounds", []) if master in r["ratio"]]
            cpus = [r["cpu_ratio"][master] for r in t.get("rounds", []) if master in r["cpu_ratio"]]
            if len(walls) > 1:
                ratio, cpu_ratio = median(walls, 3), median(cpus, 3)
            checks.append(
                {
                    "text": kind,
                    "master": master,
                    "pipeline_tokens_per_s": res.get("tokens_per_s"),
                    "best_raw_tokens_per_s": (_best(t["raw"], "tokens_per_s") or {}).get("tokens_per_s"),
                    "best_raw_batch_size": t["raw"].get("best_by_wall"),
                    "ratio": ratio,
                    "cpu_ratio": cpu_ratio,
                    "round_ratios": walls,
                    "round_cpu_ratios": cpus,
                    "needed": TARGET,
                    "status": "not measured" if ratio is None else ("pass" if ratio >= TARGET else "FAIL"),
                    "cpu_status": "not measured"
                    if cpu_ratio is None
                    else ("pass" if cpu_ratio >= TARGET else "FAIL"),
                }
            )
    return checks


def _row(kind: str, label: str, t: dict[str, Any], r: dict[str, Any], detail: str) -> str:
    if "error" in r:
        return f"| {kind} | {label} | {t['sentences']:,} | error: {str(r['error'])[:80]} |" + " |" * 8
    return (
        f"| {kind} | {label} | {t['sentences']:,} | {fmt(r.get('elapsed_s'), 2)} | {fmt(r.get('tokens_per_s'))} "
        f"| {fmt(r.get('cpu_s'), 2)} | {fmt(r.get('tokens_per_cpu_s'))} | {fmt(r.get('ratio_to_best_raw'), 2)} "
        f"| {fmt(r.get('cpu_ratio_to_best_raw'), 2)} | {detail} | {fmt(r.get('others_share_of_busy'), 2)} |"
    )


def _rounds_table(report: dict[str, Any]) -> list[str]:
    """With ``--fp32-rounds`` > 1: every round's ratios, the order it ran in, and the medians."""
    texts = {k: t for k, t in report["texts"].items() if len(t.get("rounds", [])) > 1}
    if not texts:
        return []
    lines = [
        "",
        f"Interleaved rounds (`--fp32-rounds {report.get('rounds')}`): round 1 is the run above; each later "
        "round runs raw ONNX Runtime again at round 1's best batch sizes (by wall time and per CPU-second) "
        "and the pipeline on every master, in alternating order. Each ratio is the pipeline against the "
        "best raw rate of its own round, wall (per CPU-second); the targets above use the median.",
        "",
        "| text | round | order | best raw pieces/s | "
        + " | ".join(f"`{m}` × raw" for m in report["masters"])
        + " |",
        "|---|--:|---|--:|" + "--:|" * len(report["masters"]),
    ]
    for kind, t in texts.items():
        for r in t["rounds"]:
            best = max((e.get("tokens_per_s") or 0 for e in r["raw"].values()), default=0)
            cells = [
                f"{fmt(r['ratio'].get(m), 3)} ({fmt(r['cpu_ratio'].get(m), 3)})" for m in report["masters"]
            ]
            lines.append(
                f"| {kind} | {r['round']} | {r['order']} | {fmt(best)} | " + " | ".join(cells) + " |"
            )
    return lines


def markdown(report: dict[str, Any]) -> str:
    """Every raw batch size, the windowed variant and the pipeline per master; then the target table."""
    lines = [
        *report_header("fp32 pipeline against raw ONNX Runtime", report["machine"]),
        f"Model: {report['model']}. maxSentenceLength {report['max_sentence_length']} (the default). "
        f"Pieces = {report['token_unit']}; every contender of a text is rated on the same count.",
        "",
    ]
    for kind, t in report["texts"].items():
        lines.append(
            f"- **{kind}**: {t['rows']:,} rows, {t['sentences']:,} sentences, {t['pieces']:,} pieces "
            f"({t['mean_pieces_per_sentence']} per sentence, longest {t['longest_sentence_pieces']:,}; "
            f"{t['sentences_over_max_sentence_length']:,} over maxSentenceLength, cut into windows by the pipeline)"
        )
    lines += [
        "",
        "| text | contender | sentences | time (s) | pieces/s | CPU (s) | pieces/CPU-s | × best raw "
        "| × best raw (CPU) | batches, padded / real pieces | other load |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for kind, t in report["texts"].items():
        raw = t["raw"]
        if "error" in raw:
            lines.append(_row(kind, "raw ONNX Runtime", t, raw, ""))
        for e in raw.get("sweep", []):
            best = " **(best)**" if e["batch_size"] == raw.get("best_by_wall") else ""
            pad = f"{e['batches']:,}, {e['padded_tokens'] / max(1, e['real_tokens']):.2f}"
            lines.append(
                _row(kind, f"raw ORT whole sentences, batch {e['batch_size']}{best}", t, raw | e, pad)
            )
        w = raw.get("windowed")
        if w:
            label = f"raw ORT windows of {report['max_sentence_length']}, batch {w['batch_size']}"
            if w.get("same_as_whole"):
                label += " (no sentence windowed: = whole)"
            pad = f"{w['batches']:,}, {w['padded_tokens'] / max(1, w['real_tokens']):.2f}"
            lines.append(_row(kind, label, t, raw | w, pad))
        for master, r in t["pipeline"].items():
            detail = f"{r.get('partitions', '–')} partitions, batchSize {r.get('batch_size', '–')}"
            lines.append(_row(kind, f"sparkbert full pipeline fp32, `{master}`", t, r, detail))
    median = any(len(c.get("round_ratios", [])) > 1 for c in report["targets"])
    of = f", median of {report.get('rounds')} rounds" if median else ""
    lines += [
        "",
        f"| text | master | pipeline pieces/s | best raw pieces/s (batch) | ratio (wall{of}) | ratio (CPU-s{of}) "
        "| needed | status (wall) | status (CPU-s) |",
        "|---|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for c in report["targets"]:
        lines.append(
            f"| {c['text']} | `{c['master']}` | {fmt(c['pipeline_tokens_per_s'])} "
            f"| {fmt(c['best_raw_tokens_per_s'])} ({fmt(c['best_raw_batch_size'])}) | {fmt(c['ratio'], 3)} "
            f"| {fmt(c['cpu_ratio'], 3)} | {c['needed']:.2f} | {c['status']} | {c['cpu_status']} |"
        )
    lines += _rounds_table(report)
    chunked = {k: t["raw"].get("sentences_chunked") for k, t in report["texts"].items()}
    lines += [
        "",
        "Raw ONNX Runtime: one process, "
        f"{next((t['raw'].get('intra_op_threads') for t in report['texts'].values() if t['raw'].get('intra_op_threads')), '–')}"
        " intra-op threads, the model's own `model.onnx`, batches length-sorted over the whole set, each "
        "padded to its own longest row, no token budget; whole sentences, a sentence over the position limit "
        "as consecutive chunks of it without overlap, so every piece runs once (sentences chunked: "
        f"{', '.join(f'{k} {fmt(v)}' for k, v in chunked.items())}). "
        "Its CPU time is its own process's; the pipeline's is its whole process tree (driver, JVM, Python "
        "workers) during the measured window. × best raw: against the fastest batch size by wall time, and "
        "per CPU-second against the best per CPU-second. 'other load': share of the machine's busy CPU "
        "time spent outside the contender; on a shared machine read the CPU-second columns.",
        "",
        f"Total wall time of the run: {report['total_wall_s']:.0f} s.",
        "",
    ]
    return "\n".join(lines)
