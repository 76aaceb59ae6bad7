"""Plumbing shared by the modes of ``benchmarks/run.py``: contender processes, rates, reports."""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, sentences, worker_env

logger = logging.getLogger("benchmarks")


def run_contender(spec: dict[str, Any], workdir: Path, timeout: float) -> dict[str, Any]:
    """Run one contender in a fresh process; return its result (or an ``error``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tag = spec.get("tag", spec["contender"])
    spec_file, out_file = workdir / f"{tag}.spec.json", workdir / f"{tag}.result.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    out_file.unlink(missing_ok=True)
    worker_env()
    logger.info("running %s on %d sentences ...", tag, spec["n"])
    t = time.perf_counter()
    load0 = os.getloadavg()[0]
    env = dict(os.environ)
    if spec.get("library_src"):  # another checkout's sparkbert, in the driver and (inherited) the workers
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (spec["library_src"], str(REPO), env.get("PYTHONPATH")) if p
        )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.contenders", str(spec_file), str(out_file)],
            cwd=REPO,
            timeout=timeout,
            capture_output=True,
            text=True,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s", "n": spec["n"]}
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not out_file.is_file():
        tail = (proc.stderr or "")[-3000:]
        logger.error("%s failed:\n%s", tag, tail)
        return {
            "error": tail.strip().splitlines()[-1] if tail.strip() else f"exit {proc.returncode}",
            "n": spec["n"],
        }
    result: dict[str, Any] = json.loads(out_file.read_text())
    result.update({"n": spec["n"], "total_wall_s": round(wall, 1), "loadavg_before": round(load0, 2)})
    result["loadavg_after"] = round(os.getloadavg()[0], 2)
    logger.info("%s: %.1fs measured, %.1fs in all", tag, result.get("elapsed_s", float("nan")), wall)
    return result


def rates(result: dict[str, Any], pieces: int, n: int) -> None:
    """Add tokens/s, sentences/s and tokens per CPU-second to ``result``."""
    if "elapsed_s" not in result:
        return
    result["pieces"] = pieces
    result["tokens_per_s"] = round(pieces / result["elapsed_s"], 1)
    result["sentences_per_s"] = round(n / result["elapsed_s"], 2)
    if result.get("cpu_s"):
        result["tokens_per_cpu_s"] = round(pieces / result["cpu_s"], 1)
    busy, other = result.get("machine_busy_cpu_s"), result.get("others_cpu_s")
    if busy:
        result["others_share_of_busy"] = round(other / busy, 2)


def prepare(args: argparse.Namespace) -> tuple[Any, Path]:
    from benchmarks.model import random_mbert, user_model

    out = Path(args.out)
    cache = out / "model-cache"
    cache.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    model = user_model(Path(args.model), cache) if args.model else random_mbert(cache)
    logger.info("model ready in %.1fs: %s", time.perf_counter() - t, model.fp32_dir)
    return model, out


def write_sentences(out: Path, n: int) -> Path:
    path = out / "work" / f"sentences-{n}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        path.write_text(
            "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in sentences(n)), encoding="utf-8"
        )
    return path


def median(values: list[float], digits: int) -> float | None:
    """The median of ``values`` rounded to ``digits`` (None for none): what every mode with rounds reports."""
    return round(float(statistics.median(values)), digits) if values else None


def base_spec(model: Any, sentences_file: Path, n: int) -> dict[str, Any]:
    return {
        "model_dir": str(model.fp32_dir.resolve()),
        "checkpoint": str(model.checkpoint.resolve()) if model.checkpoint else None,
        "sentences_file": str(sentences_file.resolve()),
        "n": n,
        "master": "local[*]",
    }


def fmt(v: Any, digits: int = 0) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def mib(v: Any) -> str:
    return "–" if not v else f"{v:,}"


def write_report(out: Path, stem: str, report: dict[str, Any], text: str) -> None:
    """Write ``<stem>.json``/``.md`` (latest) and time-stamped copies under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"{stem}.json", f"{stem}-{stamp}.json"):
        (out / name).write_text(json.dumps(report, indent=2) + "\n")
    for name in (f"{stem}.md", f"{stem}-{stamp}.md"):
        (out / name).write_text(text)


def publish(args: argparse.Namespace, stem: str, run: Any, markdown: Any) -> Path:
    """Run a mode (``run(args)`` → report, ``markdown(report)`` → text), write both under
    ``args.out`` (``write_report``) and print the text; return the folder."""
    report = run(args)
    text = markdown(report)
    out = Path(args.out)
    write_report(out, stem, report, text)
    print(text)
    return out


def report_header(mode: str, info: dict[str, Any]) -> list[str]:
    """The first lines of every Markdown report: mode, date, then the machine and its CPU flags."""
    return [f"# sparkbert benchmark: {mode} ({time.strftime('%Y-%m-%d %H:%M')})", "", machine_line(info), ""]


def machine_line(info: dict[str, Any]) -> str:
    """One Markdown line naming the CPU, its cores and the flags that matter for the kernels."""
    return (
        f"Machine: {info.get('cpu', '?')}, {info['affinity']} cores, {info['memory_gib']} GiB; "
        f"CPU flags: {' '.join(info.get('cpu_flags', [])) or 'none of note'}; "
        f"onnxruntime {info.get('onnxruntime')}."
    )
