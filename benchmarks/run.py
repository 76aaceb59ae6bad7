"""sparkbert's performance benchmark: one command, a JSON file and a Markdown table.

Usage (from the repository root; see docs/performance.md)::

    python benchmarks/run.py                      # the contenders, default sizes (< 15 min on 2 cores)
    python benchmarks/run.py --sentences 4000 --slow-sentences 600
    python benchmarks/run.py --model /path/to/model_dir_or_checkpoint
    python benchmarks/run.py --scaling            # sparkbert fp32 alone at several N
    python benchmarks/run.py --memory             # PSS of 1, 2 and 4 Python workers, ORT memory options
    python benchmarks/run.py --levers             # threads, spinning, batch sizes, Arrow batches, fusion

Each contender runs in its own process (its own Spark application where it uses Spark), one
after the other, so that one's workers, threads and memory never overlap another's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, machine, piece_counts, sentences, worker_env

logger = logging.getLogger("benchmarks")

#: Default sizes, chosen so that the default command ends in under 15 minutes on 2 cores
#: (measured rates: docs/performance.md).
DEFAULT_SENTENCES = 2000
DEFAULT_SLOW_SENTENCES = 400
#: The batch size the levers found best on CPU (docs/performance.md); the ceiling uses it, and
#: while the library's default differs, sparkbert fp32 also runs with it ("sparkbert-fp32-bs8").
BEST_BATCH_SIZE = 8
CONTENDERS = (
    "ceiling",
    "sparkbert-fp32",
    "sparkbert-fp32-bs8",
    "sparkbert-int8",
    "predict_batch_udf",
    "transformers",
)
SLOW = ("predict_batch_udf", "transformers")
LABELS = {
    "ceiling": "ceiling: raw ONNX Runtime, 1 process, all cores (fp32)",
    "sparkbert-fp32": "sparkbert BertEmbeddings fp32 (full pipeline, library defaults)",
    "sparkbert-fp32-bs8": f"sparkbert BertEmbeddings fp32, batchSize {BEST_BATCH_SIZE} (proposed default)",
    "sparkbert-int8": "sparkbert BertEmbeddings int8 (full pipeline)",
    "predict_batch_udf": "predict_batch_udf + HF tokenizer (max_length=128) + ORT fp32",
    "transformers": "transformers BertModel (PyTorch CPU) in a pandas UDF",
}


# ---- plumbing ---------------------------------------------------------------------------------
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
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.contenders", str(spec_file), str(out_file)],
            cwd=REPO,
            timeout=timeout,
            capture_output=True,
            text=True,
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
    result = json.loads(out_file.read_text())
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


def base_spec(model: Any, sentences_file: Path, n: int) -> dict[str, Any]:
    return {
        "model_dir": str(model.fp32_dir.resolve()),
        "checkpoint": str(model.checkpoint.resolve()) if model.checkpoint else None,
        "sentences_file": str(sentences_file.resolve()),
        "n": n,
        "master": "local[*]",
    }


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _mib(v: Any) -> str:
    return "–" if not v else f"{v:,}"


# ---- default mode: the contenders -------------------------------------------------------------
def contenders_mode(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    model, out = prepare(args)
    n, slow_n = args.sentences, min(args.slow_sentences, args.sentences)
    big = write_sentences(out, n)
    texts = sentences(n)
    counts = piece_counts(texts, model.fp32_dir / "tokenizer.json")
    pieces_n, pieces_slow = sum(counts), sum(counts[:slow_n])
    from sparkbert.settings import DEFAULT_BATCH_SIZE

    chosen = [c for c in CONTENDERS if not args.only or c in args.only]
    if DEFAULT_BATCH_SIZE == BEST_BATCH_SIZE and "sparkbert-fp32-bs8" in chosen:
        chosen.remove("sparkbert-fp32-bs8")  # the library default already is the proposed one
    if model.checkpoint is None and "transformers" in chosen:
        logger.warning(
            "no Hugging Face checkpoint for %s: skipping the transformers contender", model.fp32_dir
        )
        chosen.remove("transformers")
    results: dict[str, Any] = {}
    workdir = out / "work"
    for name in chosen:
        size = slow_n if name in SLOW else n
        spec = base_spec(model, big, size)
        spec["tag"] = name
        if name == "sparkbert-int8":
            spec["model_dir"] = str(model.int8_dir.resolve())
        spec["contender"] = "sparkbert" if name.startswith("sparkbert") else name
        spec["warmup_rows"] = args.warmup_rows
        if name == "sparkbert-fp32-bs8":
            spec |= {"batch_size": BEST_BATCH_SIZE, "first_embedding": False}
        elif name == "sparkbert-int8":
            spec["first_embedding"] = False
        elif name == "ceiling":
            spec["batch_size"] = args.ceiling_batch_size
        res = run_contender(spec, workdir, args.timeout)
        rates(res, pieces_slow if name in SLOW else pieces_n, size)
        results[name] = res
    ceiling = results.get("ceiling", {})
    for res in results.values():
        if ceiling.get("tokens_per_s") and res.get("tokens_per_s"):
            res["ratio_to_ceiling"] = round(res["tokens_per_s"] / ceiling["tokens_per_s"], 3)
        if ceiling.get("tokens_per_cpu_s") and res.get("tokens_per_cpu_s"):
            res["cpu_ratio_to_ceiling"] = round(res["tokens_per_cpu_s"] / ceiling["tokens_per_cpu_s"], 3)
    report = {
        "mode": "contenders",
        "model": model.name,
        "model_dir": str(model.fp32_dir),
        "weights_mib": {
            "fp32": round((model.fp32_dir / "model.onnx.data").stat().st_size / 2**20),
            "int8": round((model.int8_dir / "model.onnx.data").stat().st_size / 2**20)
            if model.int8_dir
            else None,
        },
        "token_unit": "word pieces of each row's text under the model's tokenizer, without [CLS]/[SEP]/padding",
        "sentences": n,
        "slow_sentences": slow_n,
        "pieces": pieces_n,
        "pieces_slow": pieces_slow,
        "mean_pieces_per_sentence": round(pieces_n / n, 1),
        "machine": machine(),
        "results": results,
        "targets": targets(results),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    return report


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    def rate(name: str, key: str = "tokens_per_s") -> float | None:
        return results.get(name, {}).get(key)

    checks = []

    def add(what: str, num: str, den: str, factor: float) -> None:
        a, b = rate(num), rate(den)
        ac, bc = rate(num, "tokens_per_cpu_s"), rate(den, "tokens_per_cpu_s")
        if a is None or b is None:
            checks.append({"target": what, "status": "not measured"})
            return
        ratio = a / b
        checks.append(
            {
                "target": what,
                "ratio": round(ratio, 2),
                "cpu_ratio": round(ac / bc, 2) if ac and bc else None,
                "needed": factor,
                "status": "pass" if ratio >= factor else "FAIL",
            }
        )

    add("sparkbert fp32 >= 0.90 x ceiling", "sparkbert-fp32", "ceiling", 0.90)
    add("sparkbert fp32 >= 2 x predict_batch_udf", "sparkbert-fp32", "predict_batch_udf", 2.0)
    add("sparkbert fp32 >= 2 x transformers", "sparkbert-fp32", "transformers", 2.0)
    add("sparkbert int8 >= 2.5 x sparkbert fp32", "sparkbert-int8", "sparkbert-fp32", 2.5)
    if "sparkbert-fp32-bs8" in results:
        add(
            f"[batchSize {BEST_BATCH_SIZE}] sparkbert fp32 >= 0.90 x ceiling",
            "sparkbert-fp32-bs8",
            "ceiling",
            0.90,
        )
        add(
            f"[batchSize {BEST_BATCH_SIZE}] sparkbert fp32 >= 2 x predict_batch_udf",
            "sparkbert-fp32-bs8",
            "predict_batch_udf",
            2.0,
        )
        add(
            f"[batchSize {BEST_BATCH_SIZE}] sparkbert fp32 >= 2 x transformers",
            "sparkbert-fp32-bs8",
            "transformers",
            2.0,
        )
    return checks


def contenders_markdown(report: dict[str, Any]) -> str:
    r = report["results"]
    lines = [
        f"# sparkbert benchmark: contenders ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Model: {report['model']}; weights {report['weights_mib']['fp32']} MiB fp32"
        + (f", {report['weights_mib']['int8']} MiB int8" if report["weights_mib"]["int8"] else "")
        + f". Machine: {report['machine'].get('cpu', '?')}, {report['machine']['affinity']} cores, "
        f"{report['machine']['memory_gib']} GiB. Spark `local[*]`.",
        "",
        f"Tokens = {report['token_unit']}. {report['sentences']:,} sentences "
        f"({report['pieces']:,} tokens, {report['mean_pieces_per_sentence']} per sentence) from the 12 UD "
        f"languages; the slower contenders (*) ran on the first {report['slow_sentences']:,} of them "
        f"({report['pieces_slow']:,} tokens): throughput is a rate.",
        "",
        "| contender | sentences | time (s) | tokens/s | sentences/s | × ceiling | tokens/CPU-s | × ceiling (CPU) "
        "| Spark start (s) | model load + warm-up (s) | peak worker RSS / PSS (MiB) | peak Σ worker PSS (MiB) "
        "| other load (share of busy CPU) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, res in r.items():
        star = " *" if name in SLOW else ""
        if "error" in res:
            lines.append(
                f"| {LABELS.get(name, name)}{star} | {res['n']:,} | error: {res['error'][:80]} |" + " |" * 10
            )
            continue
        if name == "ceiling":
            mem = f"{_mib(res.get('process_rss_mib'))} / {_mib(res.get('process_pss_mib'))} (the process)"
            total = "–"
        else:
            mem = f"{_mib(res.get('peak_worker_rss_mib'))} / {_mib(res.get('peak_worker_pss_mib'))}"
            total = f"{_mib(res.get('peak_total_worker_pss_mib'))} ({res.get('peak_concurrent_python_workers')} workers)"
        lines.append(
            f"| {LABELS.get(name, name)}{star} | {res['n']:,} | {_fmt(res['elapsed_s'], 1)} | {_fmt(res['tokens_per_s'])} "
            f"| {_fmt(res['sentences_per_s'], 2)} | {_fmt(res.get('ratio_to_ceiling'), 2)} | {_fmt(res.get('tokens_per_cpu_s'))} "
            f"| {_fmt(res.get('cpu_ratio_to_ceiling'), 2)} | {_fmt(res.get('spark_startup_s'), 1)} "
            f"| {_fmt(res.get('model_load_s'), 1)} | {mem} | {total} | {_fmt(res.get('others_share_of_busy'), 2)} |"
        )
    fp = r.get("sparkbert-fp32", {})
    if "first_embedding_s" in fp:
        lines += [
            "",
            f"Time from `BertEmbeddings(modelPath=cached dir)` to the first embedding of one sentence in a warm "
            f"Spark session: **{fp['first_embedding_s']:.1f} s** (model loaded in a fresh Python worker); "
            f"the same call again: {fp['first_embedding_again_s']:.1f} s.",
        ]
    lines += ["", "| target | ratio (wall) | ratio (CPU-s) | needed | status |", "|---|--:|--:|--:|---|"]
    for t in report["targets"]:
        lines.append(
            f"| {t['target']} | {_fmt(t.get('ratio'), 2)} | {_fmt(t.get('cpu_ratio'), 2)} | {_fmt(t.get('needed'), 2)} | {t['status']} |"
        )
    lines += [
        "",
        f"Total wall time of the run: {report['total_wall_s']:.0f} s. 'other load' is the share of the machine's busy "
        "CPU time during the measured window spent by processes outside the contender (other users).",
        "",
    ]
    return "\n".join(lines)


# ---- scaling ----------------------------------------------------------------------------------
def scaling_mode(args: argparse.Namespace) -> dict[str, Any]:
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


def scaling_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# sparkbert benchmark: scaling ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
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
            f"| {_fmt(r.get('tokens_per_cpu_s'))} | {_mib(r.get('peak_total_worker_pss_mib'))} | {_fmt(r.get('others_share_of_busy'), 2)} |"
        )
    s = report["summary"]
    if s:
        lines += [
            "",
            f"Largest deviation from the median rate: {s['max_deviation']:.1%} (wall), "
            f"{s.get('max_deviation_cpu', float('nan')):.1%} (per CPU-second); target ±10%: **{s['status']}**.",
        ]
    return "\n".join(lines) + "\n"


# ---- memory -----------------------------------------------------------------------------------
MEMORY_VARIANTS = {
    # the library's defaults: stages fused into one mapInArrow, prepacked weights mapped per machine
    "shared": {},
    # a private prepacked heap copy of the weights in every worker (shareWeights=False)
    "private": {"spec": {"share_weights": False}},
    # one mapInArrow (one Python worker) per stage, weights shared
    "stage_by_stage": {"spec": {"stage_by_stage": True}},
}
DEFAULT_MEMORY_VARIANTS = ("shared", "private")


def memory_mode(args: argparse.Namespace) -> dict[str, Any]:
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
    from sparkbert.runtime.embedder import model_identity
    from sparkbert.runtime.prepack import machine_key, prepack_root

    data = prepack_root() / machine_key(model_identity(str(model_dir))) / "model.onnx.data"
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


def memory_markdown(report: dict[str, Any]) -> str:
    w = report["weights_mib"]
    act = report["activations"].get("activations_mib", 0)
    lines = [
        f"# sparkbert benchmark: memory ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
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
            f"| {'pass' if ok else 'FAIL'} ({1.3 * w + k * a:,.0f}) | {_fmt(r.get('tokens_per_s'))} | {_fmt(r.get('tokens_per_cpu_s'))} |"
        )
    return "\n".join(lines) + "\n"


# ---- levers -----------------------------------------------------------------------------------
def lever_specs(model: Any, out: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(lever, setting, spec overrides) measured end to end in Spark; the first of each lever is the default.

    Fusion, prepacking, spinning and batch size are also measured without Spark by
    :mod:`benchmarks.ort_levers` (steadier numbers); here they are checked end to end.
    """
    return [
        ("threads", "auto (1 per task, 2 tasks)", {}),
        ("threads", "2 per task, 2 tasks (oversubscribed)", {"intra_op_threads": 2}),
        ("spinning", "off", {}),
        ("spinning", "on", {"allow_spinning": True}),
        ("batch", "library default", {}),
        ("batch", "batchSize 32", {"batch_size": 32}),
        ("batch", "batchSize 4", {"batch_size": 4}),
        ("chunkRows", "library default", {}),
        ("chunkRows", "256", {"chunk_rows": 256}),
        ("arrow", "maxRecordsPerBatch 10000", {}),
        ("arrow", "maxRecordsPerBatch 1000", {"arrow_records": 1000}),
        ("weights", "shared: prepacked copy mapped per machine (default)", {}),
        ("weights", "private heap copy per worker (shareWeights=False)", {"share_weights": False}),
        ("stage fusion", "1 fused mapInArrow (default)", {}),
        ("stage fusion", "4 mapInArrow stages", {"stage_by_stage": True}),
    ]


def prepacked(model: Any, out: Path) -> Path:
    from benchmarks.patches import prepacked_model

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


def levers_mode(args: argparse.Namespace) -> dict[str, Any]:
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
    results = []
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


def levers_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# sparkbert benchmark: levers ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
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
            f"| {_fmt(r.get('tokens_per_cpu_s'))} | {'–' if gain_c is None else f'{gain_c:+.1%}'} "
            f"| {_mib(r.get('peak_total_worker_pss_mib'))} | {_fmt(r.get('others_share_of_busy'), 2)} |"
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
                f"| {name} | {r['tokens_per_s']:,.0f} | {r['tokens_per_cpu_s']:,.0f} | {_fmt(r.get('padded_per_cpu_s'))} "
                f"| {_fmt(r.get('padded_per_real'), 3)} | {r['load_s']:.1f} |"
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
            f"Ceiling on the same sentences: {c['tokens_per_s']:,.0f} tokens/s, {_fmt(c.get('tokens_per_cpu_s'))} tokens/CPU-s.",
        ]
    return "\n".join(lines) + "\n"


# ---- main -------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sentences", type=int, default=DEFAULT_SENTENCES, help="sentences for sparkbert and the ceiling"
    )
    p.add_argument(
        "--slow-sentences",
        type=int,
        default=DEFAULT_SLOW_SENTENCES,
        help="subsample for predict_batch_udf and transformers",
    )
    p.add_argument(
        "--model", help="a sparkbert model directory or a Hugging Face checkpoint (default: random mBERT)"
    )
    p.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results"), help="results and model cache folder"
    )
    p.add_argument("--only", nargs="*", help="contenders (or levers) to run, by name")
    p.add_argument("--warmup-rows", type=int, default=16)
    p.add_argument(
        "--ceiling-batch-size",
        type=int,
        default=BEST_BATCH_SIZE,
        help="rows per ONNX Runtime call of the ceiling",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds per contender")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--scaling", action="store_true", help="sparkbert fp32 alone at --sizes")
    mode.add_argument(
        "--memory", action="store_true", help="PSS for --workers Python workers and ORT memory variants"
    )
    mode.add_argument("--levers", action="store_true", help="measure the tuning levers")
    p.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000, 20000, 50000])
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument(
        "--variants", nargs="*", default=list(DEFAULT_MEMORY_VARIANTS), choices=list(MEMORY_VARIANTS)
    )
    p.add_argument("--memory-sentences", type=int, default=400)
    p.add_argument("--lever-sentences", type=int, default=400)
    p.add_argument("--ort-sentences", type=int, default=120)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("benchmarks").setLevel(logging.INFO)
    args = parse_args(argv)
    if args.scaling:
        report, md, stem = scaling_mode(args), scaling_markdown, "scaling"
    elif args.memory:
        report, md, stem = memory_mode(args), memory_markdown, "memory"
    elif args.levers:
        report, md, stem = levers_mode(args), levers_markdown, "levers"
    else:
        report, md, stem = contenders_mode(args), contenders_markdown, "contenders"
    out = Path(args.out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = md(report)
    for name in (f"{stem}.json", f"{stem}-{stamp}.json"):
        (out / name).write_text(json.dumps(report, indent=2) + "\n")
    for name in (f"{stem}.md", f"{stem}-{stamp}.md"):
        (out / name).write_text(text)
    print(text)
    logger.info("wrote %s and %s", out / f"{stem}.json", out / f"{stem}.md")


if __name__ == "__main__":
    main()
