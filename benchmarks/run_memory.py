"""``python benchmarks/run.py --memory``: Σ PSS of 1, 2 and 4 Python workers, shared or private weights."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, machine, piece_counts, sentences
from benchmarks.runner import (
    base_spec,
    fmt,
    prepare,
    rates,
    report_header,
    run_contender,
    write_sentences,
)

MEMORY_VARIANTS = {
    # the library's defaults: stages fused into one mapInArrow, prepacked weights mapped per machine
    "shared": {},
    # a private prepacked heap copy of the weights in every worker (shareWeights=False)
    "private": {"spec": {"share_weights": False}},
    # one mapInArrow (one Python worker) per stage, weights shared
    "stage_by_stage": {"spec": {"stage_by_stage": True}},
}
DEFAULT_MEMORY_VARIANTS = ("shared", "private")


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    model, out = prepare(args)
    n = args.memory_sentences
    file = write_sentences(out, n)
    pieces = sum(piece_counts(sentences(n), model.fp32_dir / "tokenizer.json"))
    weights = (model.fp32_dir / "model.onnx.data").stat().st_size / 2**20
    activations = activation_probe(model.fp32_dir)
    activations["batch_size_8"] = activation_probe(model.fp32_dir, batch_size=8)
    results = []
    for workers in args.workers:
        for variant in args.variants:
            overrides = dict(MEMORY_VARIANTS[variant].get("spec", {}))
            spec = (
                overrides
                | base_spec(model, file, n)
                | {
                    "contender": "sparkbert",
                    "tag": f"memory-{variant}-local{workers}",
                    "master": f"local[{workers}]",
                    "partitions": 2 * workers,
                    "warmup_rows": 4 * workers,
                }
            )
            res = run_contender(spec, out / "work", args.timeout)
            rates(res, pieces, n)
            res.update({"variant": variant, "workers": workers})
            results.append(res)
    return {
        "mode": "memory",
        "model": model.name,
        "weights_mib": round(weights),
        "prepacked_data_mib": prepacked_data_mib(model.fp32_dir),
        "activations": activations,
        "sentences": n,
        "results": results,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def prepacked_data_mib(model_dir: Path) -> int | None:
    """Size of this machine's prepacked copy of the model's weights (made by the first worker)."""
    from sparkbert.model.directory import ModelDirectory
    from sparkbert.runtime.prepack import machine_key, prepack_root

    data = prepack_root() / machine_key(ModelDirectory.load(model_dir).identity) / "model.onnx.data"
    return round(data.stat().st_size / 2**20) if data.is_file() else None


def activation_probe(model_dir: Path, token_budget: int = 8192, batch_size: int = 32) -> dict[str, Any]:
    """RSS growth of one session from loaded to after its largest batch (ORT's arena), in a subprocess."""
    code = f"""
import json, numpy as np, psutil
from sparkbert.runtime.session import SessionOptions, create_session
s = create_session({str(model_dir / "model.onnx")!r}, SessionOptions(intra_op_threads=1))
p = psutil.Process()
ids = np.full((1, 8), 1000, np.int64)
s.run(None, {{"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}})
before = p.memory_full_info().uss
peak = before
for length in (32, 64, 128):
    rows = min({batch_size}, {token_budget} // length)
    ids = np.random.default_rng(0).integers(1000, 100000, (rows, length)).astype(np.int64)
    s.run(None, {{"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}})
    peak = max(peak, p.memory_full_info().uss)
print(json.dumps({{"uss_after_load_mib": round(before / 2**20), "uss_after_largest_batches_mib": round(peak / 2**20),
                  "activations_mib": round((peak - before) / 2**20)}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    try:
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (IndexError, ValueError):
        return {"error": proc.stderr[-500:]}


def markdown(report: dict[str, Any]) -> str:
    w = report["weights_mib"]
    act = report["activations"].get("activations_mib", 0)
    lines = [
        *report_header("memory", report["machine"]),
        f"sparkbert fp32, full pipeline, {report['sentences']:,} sentences; weight file (model.onnx.data) {w:,} MiB; "
        f"ORT activations of one worker at the default token budget (arena growth after the largest batches): "
        f"{act:,} MiB (batchSize 8: {report['activations'].get('batch_size_8', {}).get('activations_mib', '?')} MiB). "
        f"Prepacked copy of the weights mapped by every worker: {report['prepacked_data_mib'] or 0:,} MiB on disk.",
        "",
        "Σ PSS counts every Spark Python worker (one per pipeline stage per running task); 'model workers' only "
        "those holding the model (PSS ≥ 200 MiB). Target: Σ model-worker PSS ≤ 1.3 × weights + k × activations "
        "(the activations of the variant's batch size).",
        "",
        "| variant | local[k] | workers seen | model workers m | peak Σ PSS all workers | peak Σ PSS model workers "
        "| peak worker RSS / PSS / USS | Σ model PSS ≤ 1.3 × weights + k × act | tokens/s | tokens/CPU-s |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['variant']} | {r['workers']} | error: {r['error'][:80]} |" + " |" * 7)
            continue
        k = r["workers"]
        a = (
            report["activations"].get("batch_size_8", {}).get("activations_mib", act)
        )  # batchSize 8: the default
        m = sum(1 for x in r["per_worker_peak_pss_mib"] if x >= 200)
        ok = r["peak_model_workers_pss_mib"] <= 1.3 * w + k * a
        lines.append(
            f"| {r['variant']} | {k} | {r['python_workers']} | {m} | {r['peak_total_worker_pss_mib']:,} | {r['peak_model_workers_pss_mib']:,} "
            f"| {r['peak_worker_rss_mib']:,} / {r['peak_worker_pss_mib']:,} / {r['peak_worker_uss_mib']:,} "
            f"| {'pass' if ok else 'FAIL'} ({1.3 * w + k * a:,.0f}) | {fmt(r.get('tokens_per_s'))} | {fmt(r.get('tokens_per_cpu_s'))} |"
        )
    return "\n".join(lines) + "\n"
