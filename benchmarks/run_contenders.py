"""``python benchmarks/run.py`` (default mode): sparkbert against the other ways to embed text."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from benchmarks.common import machine, piece_counts, sentences
from benchmarks.runner import (
    base_spec,
    fmt,
    machine_line,
    mib,
    prepare,
    rates,
    run_contender,
    write_sentences,
)

logger = logging.getLogger("benchmarks")


#: Default size, the same for every contender (a rate rises with more rows, so contenders are
#: only compared on equal inputs), chosen so that the default command ends in about 15 minutes
#: on 2 cores (measured rates: docs/performance.md).
DEFAULT_SENTENCES = 1000
#: ``--slow-sentences`` default: None, the same rows as every other contender.
DEFAULT_SLOW_SENTENCES = None
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    model, out = prepare(args)
    n = args.sentences
    slow_n = n if args.slow_sentences is None else min(args.slow_sentences, n)
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
        spec["warm_passes"] = args.warm_passes or 0
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
        "warm_passes": args.warm_passes or 0,
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
        value = results.get(name, {}).get(key)
        return None if value is None else float(value)

    checks: list[dict[str, Any]] = []

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


def markdown(report: dict[str, Any]) -> str:
    r = report["results"]
    lines = [
        f"# sparkbert benchmark: contenders ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Model: {report['model']}; weights {report['weights_mib']['fp32']} MiB fp32"
        + (f", {report['weights_mib']['int8']} MiB int8" if report["weights_mib"]["int8"] else "")
        + ". Spark `local[*]`.",
        "",
        machine_line(report["machine"]),
        "",
        f"Tokens = {report['token_unit']}. {report['sentences']:,} sentences "
        f"({report['pieces']:,} tokens, {report['mean_pieces_per_sentence']} per sentence) from the 12 UD "
        + (
            f"languages; the slower contenders (*) ran on the first {report['slow_sentences']:,} of them "
            f"({report['pieces_slow']:,} tokens, --slow-sentences): compare their rates with care."
            if report["slow_sentences"] != report["sentences"]
            else "languages; every contender ran on all of them."
        )
        + (
            f" Each Spark contender made {report['warm_passes']} untimed pass(es) over all its rows before "
            "the timed one (`--warm-passes`): the JVM's JIT compiler settled, as in a long job."
            if report.get("warm_passes")
            else ""
        ),
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
            mem = f"{mib(res.get('process_rss_mib'))} / {mib(res.get('process_pss_mib'))} (the process)"
            total = "–"
        else:
            mem = f"{mib(res.get('peak_worker_rss_mib'))} / {mib(res.get('peak_worker_pss_mib'))}"
            total = f"{mib(res.get('peak_total_worker_pss_mib'))} ({res.get('peak_concurrent_python_workers')} workers)"
        lines.append(
            f"| {LABELS.get(name, name)}{star} | {res['n']:,} | {fmt(res['elapsed_s'], 1)} | {fmt(res['tokens_per_s'])} "
            f"| {fmt(res['sentences_per_s'], 2)} | {fmt(res.get('ratio_to_ceiling'), 2)} | {fmt(res.get('tokens_per_cpu_s'))} "
            f"| {fmt(res.get('cpu_ratio_to_ceiling'), 2)} | {fmt(res.get('spark_startup_s'), 1)} "
            f"| {fmt(res.get('model_load_s'), 1)} | {mem} | {total} | {fmt(res.get('others_share_of_busy'), 2)} |"
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
            f"| {t['target']} | {fmt(t.get('ratio'), 2)} | {fmt(t.get('cpu_ratio'), 2)} | {fmt(t.get('needed'), 2)} | {t['status']} |"
        )
    lines += [
        "",
        f"Total wall time of the run: {report['total_wall_s']:.0f} s. 'other load' is the share of the machine's busy "
        "CPU time during the measured window spent by processes outside the contender (other users).",
        "",
    ]
    return "\n".join(lines)
