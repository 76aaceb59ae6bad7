"""sparkbert's performance benchmark: one command per mode, a JSON file and a Markdown table.

Usage (from the repository root; see docs/performance.md)::

    python benchmarks/run.py                      # the contenders, 1,000 sentences each (~15 min on 2 cores)
    python benchmarks/run.py --sentences 4000
    python benchmarks/run.py --model /path/to/model_dir_or_checkpoint
    python benchmarks/run.py --scaling            # sparkbert fp32 alone at several N
    python benchmarks/run.py --memory             # PSS of 1, 2 and 4 Python workers, shared/private weights
    python benchmarks/run.py --levers             # threads, spinning, batch sizes, Arrow batches, fusion
    python benchmarks/run.py --host               # the host path: tiny model, text stages, encode_batch
    python benchmarks/run.py --fp32               # full pipeline vs raw ORT at its best batch size (~17 min)
    python benchmarks/int8.py                     # int8 recipes: speed and fidelity (no Spark)

Each contender runs in its own process (its own Spark application where it uses Spark), one
after the other, so that one's workers, threads and memory never overlap another's. Every
report names the CPU and its flags (AVX-512 VNNI, AMX, ...): the kernels depend on them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_contenders, run_fp32, run_host, run_levers, run_memory, run_scaling
from benchmarks.common import REPO
from benchmarks.run_contenders import BEST_BATCH_SIZE, DEFAULT_SENTENCES, DEFAULT_SLOW_SENTENCES
from benchmarks.run_memory import DEFAULT_MEMORY_VARIANTS, MEMORY_VARIANTS
from benchmarks.runner import publish

logger = logging.getLogger("benchmarks")
#: mode flag -> (module with ``run(args)`` and ``markdown(report)``, report stem)
MODES = {
    "scaling": run_scaling,
    "memory": run_memory,
    "levers": run_levers,
    "host": run_host,
    "fp32": run_fp32,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES, help="sentences for every contender")
    p.add_argument(
        "--slow-sentences",
        type=int,
        default=DEFAULT_SLOW_SENTENCES,
        help="a smaller sample for predict_batch_udf and transformers (default: --sentences)",
    )
    p.add_argument(
        "--model", help="a sparkbert model directory or a Hugging Face checkpoint (default: random mBERT)"
    )
    p.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results"), help="results and model cache folder"
    )
    p.add_argument(
        "--paragraphs",
        type=int,
        help="long rows instead: this many paragraphs of ten UD sentences of one language (default mode)",
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
    mode.add_argument(
        "--host", action="store_true", help="host path: 1-layer hidden-32 model, text stages, encode_batch"
    )
    mode.add_argument(
        "--fp32",
        action="store_true",
        help="full fp32 pipeline on local[2]/local[4] against raw ORT at its best batch size, short and long text",
    )
    p.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000, 20000, 50000])
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument(
        "--variants", nargs="*", default=list(DEFAULT_MEMORY_VARIANTS), choices=list(MEMORY_VARIANTS)
    )
    p.add_argument("--memory-sentences", type=int, default=400)
    p.add_argument("--lever-sentences", type=int, default=400)
    p.add_argument("--ort-sentences", type=int, default=120)
    p.add_argument("--host-copies", type=int, default=2, help="copies of the paragraph text (--host)")
    p.add_argument("--host-short", type=int, default=4800, help="short UD sentences (--host)")
    p.add_argument(
        "--host-rounds",
        type=int,
        default=3,
        help="runs of each contender, round-robin; the least-CPU run is kept (--host)",
    )
    p.add_argument(
        "--host-baseline",
        metavar="SRC",
        help="also the full pipeline with sparkbert imported from SRC, another checkout's src (--host)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="every contender this many times, round-robin; targets judged on the median ratio (default mode)",
    )
    p.add_argument(
        "--warm-passes",
        type=int,
        default=None,
        help="untimed passes of each Spark contender over all its rows before the timed one, so the "
        "JVM's JIT compiler has settled as in a long job (default: 1 with --host, else 0)",
    )
    p.add_argument(
        "--fp32-short",
        type=int,
        default=run_fp32.DEFAULT_SHORT,
        help="short UD sentences, one per row (--fp32)",
    )
    p.add_argument(
        "--fp32-long",
        type=int,
        default=run_fp32.DEFAULT_LONG,
        help="paragraph rows of ten UD sentences (--fp32)",
    )
    p.add_argument(
        "--fp32-batch-sizes",
        type=int,
        nargs="*",
        default=list(run_fp32.DEFAULT_BATCH_SIZES),
        help="raw ONNX Runtime batch sizes (--fp32)",
    )
    p.add_argument(
        "--fp32-masters",
        nargs="*",
        default=list(run_fp32.DEFAULT_MASTERS),
        help="Spark masters of the pipeline (--fp32)",
    )
    p.add_argument(
        "--fp32-rounds",
        type=int,
        default=1,
        help="interleaved rounds of raw and pipeline per text; the targets use the median ratio (--fp32)",
    )
    # the 1-layer hidden-32 model: checks that --fp32 runs end to end in seconds (no claim)
    p.add_argument("--fp32-tiny", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warm_passes is not None and args.warm_passes < 0:
        p.error(f"--warm-passes must be 0 or more, got {args.warm_passes}")
    if args.rounds < 1:
        p.error(f"--rounds must be 1 or more (1: a single run), got {args.rounds}")
    if args.host_rounds < 1:
        p.error(f"--host-rounds must be 1 or more (1: a single run), got {args.host_rounds}")
    if args.fp32_rounds < 1:
        p.error(f"--fp32-rounds must be 1 or more (1: a single run), got {args.fp32_rounds}")
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("benchmarks").setLevel(logging.INFO)
    args = parse_args(argv)
    stem = next((name for name in MODES if getattr(args, name)), "contenders")
    module = MODES.get(stem, run_contenders)
    out = publish(args, stem, module.run, module.markdown)
    logger.info("wrote %s and %s", out / f"{stem}.json", out / f"{stem}.md")


if __name__ == "__main__":
    main()
