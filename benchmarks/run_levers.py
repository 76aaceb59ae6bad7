"""``python benchmarks/run.py --levers``: ONNX Runtime levers in one process, then Spark levers end to end."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, machine, piece_counts, sentences
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

logger = logging.getLogger("benchmarks")


def lever_specs(model: Any, out: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(lever, setting, spec overrides) measured end to end in Spark; the first of each lever is the default.

    Only public params and Spark settings: spinning and ``chunkRows`` have no param, so they
    are measured without Spark by :mod:`benchmarks.ort_levers` (spinning) and by its exact
    padding table (chunk size), with fusion, prepacking and batch size (steadier numbers).
    """
    return [
        ("threads", "auto (1 per task, 2 tasks)", {}),
        ("threads", "2 per task, 2 tasks (oversubscribed)", {"intra_op_threads": 2}),
        ("batch", "library default", {}),
        ("batch", "batchSize 32", {"batch_size": 32}),
        ("batch", "batchSize 4", {"batch_size": 4}),
        ("arrow", "maxRecordsPerBatch 10000", {}),
        ("arrow", "maxRecordsPerBatch 1000", {"arrow_records": 1000}),
        ("weights", "shared: prepacked copy mapped per machine (default)", {}),
        ("weights", "private heap copy per worker (shareWeights=False)", {"share_weights": False}),
        ("stage fusion", "1 fused mapInArrow (default)", {}),
        ("stage fusion", "4 mapInArrow stages", {"stage_by_stage": True}),
    ]


def prepacked(model: Any, out: Path) -> Path:
    from benchmarks.ort_levers import prepacked_model

    return prepacked_model(model.fp32_dir / "model.onnx", out / "model-cache" / "fp32-prepacked").resolve()


def unfused_model(model: Any, out: Path) -> Path:
    """The fp32 model directory with the converter's standard-ops graph instead of fused kernels."""
    import shutil

    from sparkbert.model.checkpoint import CheckpointWeights, read_config
    from sparkbert.model.onnx_graph import ExternalDataWriter, build_bert_graph

    target = out / "model-cache" / "fp32-unfused"
    if (target / "model.onnx").is_file():
        return target
    if model.checkpoint is None:
        raise SystemExit("the fusion lever needs the Hugging Face checkpoint of the model")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _, spec = read_config(model.checkpoint)
    with (
        CheckpointWeights(model.checkpoint) as weights,
        ExternalDataWriter(tmp / "model.onnx.data") as writer,
    ):
        graph = build_bert_graph(spec, weights.get, writer, fused=False)
    (tmp / "model.onnx").write_bytes(graph.SerializeToString())
    for name in ("tokenizer.json", "config.json", "manifest.json"):
        shutil.copyfile(model.fp32_dir / name, tmp / name)
    tmp.rename(target)
    return target


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    model, out = prepare(args)
    n = args.lever_sentences
    file = write_sentences(out, n)
    pieces = sum(piece_counts(sentences(n), model.fp32_dir / "tokenizer.json"))
    ort_report = None
    if not args.only or "ort" in args.only:
        cfg = {
            "fp32_dir": str(model.fp32_dir.resolve()),
            "int8_dir": str(model.int8_dir.resolve()) if model.int8_dir else None,
            "prepacked": str(prepacked(model, out)),
            "unfused_dir": str(unfused_model(model, out).resolve()) if model.checkpoint else None,
            "sentences": args.ort_sentences,
            "rounds": 2,
        }
        work = out / "work"
        work.mkdir(parents=True, exist_ok=True)
        (work / "ort_levers.spec.json").write_text(json.dumps(cfg))
        logger.info("running ONNX Runtime levers in one process ...")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.ort_levers",
                str(work / "ort_levers.spec.json"),
                str(work / "ort_levers.json"),
            ],
            cwd=REPO,
            check=True,
        )
        ort_report = json.loads((work / "ort_levers.json").read_text())
    specs = [s for s in lever_specs(model, out) if not args.only or s[0] in args.only]
    results: list[dict[str, Any]] = []
    baseline: dict[str, Any] | None = None
    for lever, setting, overrides in specs:
        if not overrides and baseline is not None:  # the default setting: measured once, reused
            res = dict(baseline)
        else:
            spec = base_spec(model, file, n) | {
                "contender": "sparkbert",
                "tag": f"lever-{lever}-{len(results)}",
            }
            spec |= {"warmup_rows": args.warmup_rows} | overrides
            res = run_contender(spec, out / "work", args.timeout)
            rates(res, pieces, n)
            if not overrides:
                baseline = dict(res)
        res.update({"lever": lever, "setting": setting})
        results.append(res)
    ceiling = None
    if not args.only or "ceiling" in args.only:
        spec = base_spec(model, file, n) | {"contender": "ceiling", "tag": "lever-ceiling"}
        ceiling = run_contender(spec, out / "work", args.timeout)
        rates(ceiling, pieces, n)
    return {
        "mode": "levers",
        "model": model.name,
        "sentences": n,
        "pieces": pieces,
        "results": results,
        "ceiling": ceiling,
        "ort": ort_report,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        *report_header("levers", report["machine"]),
        f"sparkbert fp32, full pipeline, {report['sentences']:,} sentences ({report['pieces']:,} tokens), "
        "one process per setting; gain = rate / the lever's default rate − 1.",
        "",
        "| lever | setting | time (s) | tokens/s | gain | tokens/CPU-s | gain (CPU) | peak Σ worker PSS (MiB) | other load |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    base: dict[str, dict[str, Any]] = {}
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['lever']} | {r['setting']} | error: {r['error'][:80]} | | | | | | |")
            continue
        b = base.setdefault(r["lever"], r)
        gain = r["tokens_per_s"] / b["tokens_per_s"] - 1
        gain_c = (
            (r["tokens_per_cpu_s"] / b["tokens_per_cpu_s"] - 1)
            if r.get("tokens_per_cpu_s") and b.get("tokens_per_cpu_s")
            else None
        )
        lines.append(
            f"| {r['lever']} | {r['setting']} | {r['elapsed_s']:.1f} | {r['tokens_per_s']:,.0f} | {gain:+.1%} "
            f"| {fmt(r.get('tokens_per_cpu_s'))} | {'–' if gain_c is None else f'{gain_c:+.1%}'} "
            f"| {mib(r.get('peak_total_worker_pss_mib'))} | {fmt(r.get('others_share_of_busy'), 2)} |"
        )
    o = report.get("ort")
    if o:
        sp = o["speed"]
        lines += [
            "",
            f"## ONNX Runtime alone (one process, {sp['sentences']} sentences, {sp['tokens']:,} tokens, best of {sp['rounds']} rounds)",
            "",
            "| setting | tokens/s | tokens/CPU-s | padded positions/CPU-s | padded per real | session load (s) |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for name, r in sp["settings"].items():
            lines.append(
                f"| {name} | {r['tokens_per_s']:,.0f} | {r['tokens_per_cpu_s']:,.0f} | {fmt(r.get('padded_per_cpu_s'))} "
                f"| {fmt(r.get('padded_per_real'), 3)} | {r['load_s']:.1f} |"
            )
        chunks = sorted({r["chunk_rows"] for r in o["padding"]})
        sizes = sorted({r["batch_size"] for r in o["padding"]})
        table = {(r["chunk_rows"], r["batch_size"]): r["padded_per_real"] for r in o["padding"]}
        lines += [
            "",
            "Padded positions per real position (all 4,800 UD sentences, 4 partitions), by chunkRows (rows) and batchSize (columns):",
            "",
            "| chunkRows | " + " | ".join(f"bs {b}" for b in sizes) + " |",
            "|--:|" + "--:|" * len(sizes),
        ]
        for c_ in chunks:
            lines.append(f"| {c_} | " + " | ".join(f"{table[(c_, b)]:.3f}" for b in sizes) + " |")
    c = report.get("ceiling")
    if c and "tokens_per_s" in c:
        lines += [
            "",
            f"Ceiling on the same sentences: {c['tokens_per_s']:,.0f} tokens/s, {fmt(c.get('tokens_per_cpu_s'))} tokens/CPU-s.",
        ]
    return "\n".join(lines) + "\n"
