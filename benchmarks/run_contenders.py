"""``python benchmarks/run.py`` (default mode): sparkbert against the other ways to embed text."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from benchmarks.common import machine, paragraph_rows, piece_counts, sentences, write_jsonl
from benchmarks.runner import (
    base_spec,
    fmt,
    machine_line,
    median,
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
    if args.paragraphs:  # long rows: paragraphs of ten UD sentences of one language
        n = args.paragraphs
        texts = paragraph_rows(n)
        big = write_jsonl(out / "work" / f"paragraphs-{n}.jsonl", texts)
    else:
        n = args.sentences
        texts = sentences(n)
        big = write_sentences(out, n)
    slow_n = n if args.slow_sentences is None else min(args.slow_sentences, n)
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
    rounds = int(args.rounds)
    for number in range(1, rounds + 1):
        # later rounds alternate the order, so that a drift of the machine's speed weighs on all alike
        for name in chosen if number % 2 else chosen[::-1]:
            res = _run_one(name, number, args, model, big, n, slow_n, workdir)
            rates(res, pieces_slow if name in SLOW else pieces_n, slow_n if name in SLOW else n)
            if number == 1:
                results[name] = res | {"rounds": []}
            results[name]["rounds"].append({k: res.get(k) for k in ROUND_KEYS})
    _ceiling_ratios(results)
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
        "rows": "paragraphs" if args.paragraphs else "sentences",
        "warm_passes": args.warm_passes or 0,
        "rounds": rounds,
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


#: What each round keeps of a contender's result (the rates the targets are judged on).
ROUND_KEYS = ("elapsed_s", "cpu_s", "tokens_per_s", "tokens_per_cpu_s", "others_share_of_busy")


def _run_one(
    name: str, number: int, args: argparse.Namespace, model: Any, big: Any, n: int, slow_n: int, workdir: Any
) -> dict[str, Any]:
    """One contender's run in its own process (round ``number``; the first embedding in round 1 only)."""
    size = slow_n if name in SLOW else n
    spec = base_spec(model, big, size)
    spec["tag"] = name if number == 1 else f"{name}-{number}"
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
    if number > 1:
        spec["first_embedding"] = False
    return run_contender(spec, workdir, args.timeout)


def _ceiling_ratios(results: dict[str, Any]) -> None:
    """Each contender's round-1 rates against the ceiling's (wall and CPU)."""
    ceiling = results.get("ceiling", {})
    for res in results.values():
        if ceiling.get("tokens_per_s") and res.get("tokens_per_s"):
            res["ratio_to_ceiling"] = round(res["tokens_per_s"] / ceiling["tokens_per_s"], 3)
        if ceiling.get("tokens_per_cpu_s") and res.get("tokens_per_cpu_s"):
            res["cpu_ratio_to_ceiling"] = round(res["tokens_per_cpu_s"] / ceiling["tokens_per_cpu_s"], 3)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target's ratio: the median over rounds of the ratio within a round (one round: that ratio)."""

    def per_round(name: str, key: str) -> list[float | None]:
        res = results.get(name, {})
        return [r.get(key) for r in res.get("rounds", [])] or [res.get(key)]

    def median_ratio(num: str, den: str, key: str) -> tuple[float | None, list[float]]:
        ratios = [a / b for a, b in zip(per_round(num, key), per_round(den, key)) if a and b]
        return median(ratios, 2), [round(r, 3) for r in ratios]

    checks: list[dict[str, Any]] = []

    def add(what: str, num: str, den: str, factor: float) -> None:
        ratio, walls = median_ratio(num, den, "tokens_per_s")
        cpu_ratio, cpus = median_ratio(num, den, "tokens_per_cpu_s")
        if ratio is None:
            checks.append({"target": what, "status": "not measured"})
            return
        checks.append(
            {
                "target": what,
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
                "round_ratios": walls,
                "round_cpu_ratios": cpus,
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
    unit = report.get("rows", "sentences")
    rows = "paragraphs of ten sentences" if unit == "paragraphs" else unit
    lines = [
        f"# sparkbert benchmark: contenders ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Model: {report['model']}; weights {report['weights_mib']['fp32']} MiB fp32"
        + (f", {report['weights_mib']['int8']} MiB int8" if report["weights_mib"]["int8"] else "")
        + ". Spark `local[*]`.",
        "",
        machine_line(report["machine"]),
        "",
        f"Tokens = {report['token_unit']}. {report['sentences']:,} {rows} "
        f"({report['pieces']:,} tokens, {report['mean_pieces_per_sentence']} per row) from the 12 UD "
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
        f"| contender | {unit} | time (s) | tokens/s | {unit}/s | × ceiling | tokens/CPU-s | × ceiling (CPU) "
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
    rounds = report.get("rounds", 1)
    of = f", median of {rounds} rounds" if rounds > 1 else ""
    lines += [
        "",
        f"| target | ratio (wall{of}) | ratio (CPU-s{of}) | needed | status |",
        "|---|--:|--:|--:|---|",
    ]
    for t in report["targets"]:
        lines.append(
            f"| {t['target']} | {fmt(t.get('ratio'), 2)} | {fmt(t.get('cpu_ratio'), 2)} | {fmt(t.get('needed'), 2)} | {t['status']} |"
        )
    if rounds > 1:
        lines += _rounds_table(report)
    lines += [
        "",
        f"Total wall time of the run: {report['total_wall_s']:.0f} s. 'other load' is the share of the machine's busy "
        "CPU time during the measured window spent by processes outside the contender (other users).",
        "",
    ]
    return "\n".join(lines)


def _rounds_table(report: dict[str, Any]) -> list[str]:
    """Every round's rate per CPU-second (and wall) of each contender, and each measured target's ratios."""
    names = list(report["results"])
    measured = [t for t in report["targets"] if t.get("round_ratios")]
    lines = [
        "",
        f"Rounds (`--rounds {report['rounds']}`): every contender once per round, the order reversed in even "
        "rounds; tokens per CPU-second (tokens/s), and each target's ratio within the round, wall (CPU-s):",
        "",
        "| round | "
        + " | ".join(LABELS.get(n, n) for n in names)
        + "".join(f" | {t['target']}" for t in measured)
        + " |",
        "|--:|" + "--:|" * (len(names) + len(measured)),
    ]
    for i in range(report["rounds"]):
        cells = []
        for n in names:
            rs = report["results"][n].get("rounds", [])
            r = rs[i] if i < len(rs) else {}
            cells.append(f"{fmt(r.get('tokens_per_cpu_s'))} ({fmt(r.get('tokens_per_s'))})")
        for t in measured:
            w, c = t["round_ratios"], t["round_cpu_ratios"]
            cells.append(f"{fmt(w[i] if i < len(w) else None, 2)} ({fmt(c[i] if i < len(c) else None, 2)})")
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines
