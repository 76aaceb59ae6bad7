"""``python benchmarks/run.py --scaling``: sparkbert fp32 alone at several sizes; the rate must hold."""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import machine, piece_counts, sentences
from benchmarks.runner import (
    base_spec,
    fmt,
    mib,
    prepare,
    rates,
    report_header,
    run_contender,
    write_sentences,
)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    model, out = prepare(args)
    sizes = args.sizes
    results = []
    for n in sizes:
        file = write_sentences(out, n)
        spec = base_spec(model, file, n) | {
            "contender": "sparkbert",
            "tag": f"scaling-{n}",
            "warmup_rows": args.warmup_rows,
        }
        res = run_contender(spec, out / "work", args.timeout)
        rates(res, sum(piece_counts(sentences(n), model.fp32_dir / "tokenizer.json")), n)
        results.append(res)
    ok = [r["tokens_per_s"] for r in results if "tokens_per_s" in r]
    ok_cpu = [r["tokens_per_cpu_s"] for r in results if "tokens_per_cpu_s" in r]
    summary: dict[str, Any] = {}
    if ok:
        mid = sorted(ok)[len(ok) // 2]
        summary = {
            "median_tokens_per_s": mid,
            "max_deviation": round(max(abs(x / mid - 1) for x in ok), 3),
            "status": "pass" if all(abs(x / mid - 1) <= 0.10 for x in ok) else "FAIL",
        }
        if ok_cpu:
            mid_c = sorted(ok_cpu)[len(ok_cpu) // 2]
            summary["max_deviation_cpu"] = round(max(abs(x / mid_c - 1) for x in ok_cpu), 3)
    return {
        "mode": "scaling",
        "model": model.name,
        "sizes": sizes,
        "results": results,
        "summary": summary,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        *report_header("scaling", report["machine"]),
        "sparkbert fp32, full pipeline, Spark `local[*]`.",
        "",
        "| sentences | tokens | time (s) | tokens/s | sentences/s | tokens/CPU-s | peak Σ worker PSS (MiB) | other load |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['n']:,} | error: {r['error'][:80]} | | | | | | |")
            continue
        lines.append(
            f"| {r['n']:,} | {r['pieces']:,} | {r['elapsed_s']:.1f} | {r['tokens_per_s']:,.0f} | {r['sentences_per_s']:.2f} "
            f"| {fmt(r.get('tokens_per_cpu_s'))} | {mib(r.get('peak_total_worker_pss_mib'))} | {fmt(r.get('others_share_of_busy'), 2)} |"
        )
    s = report["summary"]
    if s:
        lines += [
            "",
            f"Largest deviation from the median rate: {s['max_deviation']:.1%} (wall), "
            f"{s.get('max_deviation_cpu', float('nan')):.1%} (per CPU-second); target ±10%: **{s['status']}**.",
        ]
    return "\n".join(lines) + "\n"
