"""Several ONNX Runtime processes on one machine: what running more sessions than cores costs.

    python benchmarks/processes.py                    # 2 and 4 processes, 1 thread each, 8 x 128
    python benchmarks/processes.py --layout 2x1 4x1 4x1t 1x2 --seq 40

Each process (forked, ``PxT``: P processes with T intra-op threads each) creates its own
session of the model with the library's session options and runs the same padded batch
(random ids, ``--batch`` × ``--seq``) ``--batches`` ÷ P times after a barrier, so every layout
does the same total work; the wall time of the slowest process is the layout's time. This
is what Spark's Python workers do when a machine runs more tasks than it has cores
(``local[4]`` on two cores: four sessions of one thread). A ``t`` suffix (``4x1t``) makes the
runs take turns as the embedder's do (``sparkbert.runtime.cpu_turns``: at most one
single-thread run per core at a time). No Spark.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import REPO, machine
from benchmarks.runner import publish, report_header


def _work(args: tuple[str, int, int, int, int, bool, Any]) -> float:
    path, threads, batches, batch, seq, turns, barrier = args
    import contextlib

    from sparkbert.runtime.cpu_turns import cpu_turn
    from sparkbert.runtime.session import SessionOptions, create_session, run_session

    session = create_session(path, SessionOptions(intra_op_threads=threads))
    ids = np.random.default_rng(0).integers(1000, 5000, (batch, seq)).astype(np.int64)
    mask, types = np.ones_like(ids), np.zeros_like(ids)
    run_session(session, ids, mask, types)
    barrier.wait()
    t = time.perf_counter()
    for _ in range(batches):
        with cpu_turn() if turns else contextlib.nullcontext():
            run_session(session, ids, mask, types)
    return time.perf_counter() - t


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time every layout on the same total work; return the report."""
    from benchmarks.model import random_mbert

    path = str(
        (args.model or random_mbert(Path(args.out) / "model-cache", with_int8=False).fp32_dir) / "model.onnx"
    )
    layouts = []
    for rounds in range(args.rounds):
        for layout in args.layout:
            p, t = (int(x) for x in layout.rstrip("t").split("x"))
            with mp.Manager() as manager:
                barrier = manager.Barrier(p)
                with mp.get_context("fork").Pool(p) as pool:
                    times = pool.map(
                        _work,
                        [(path, t, args.batches // p, args.batch, args.seq, layout.endswith("t"), barrier)]
                        * p,
                    )
            layouts.append({"layout": layout, "round": rounds, "wall_s": round(max(times), 2)})
            print(f"{layout}: {max(times):.2f} s", flush=True)
    return {
        "mode": "processes",
        "model": path,
        "batch": args.batch,
        "seq": args.seq,
        "batches": args.batches,
        "layouts": layouts,
        "machine": machine(),
    }


def markdown(report: dict[str, Any]) -> str:
    """One row per layout and round: the time of the same total work."""
    base = min(
        (r["wall_s"] for r in report["layouts"] if r["layout"] == report["layouts"][0]["layout"]), default=1
    )
    lines = [
        *report_header("processes per machine", report["machine"]),
        f"{report['batches']} batches of {report['batch']} × {report['seq']} in all, per layout.",
        "",
        "| layout (processes × threads; t: taking turns) | round | time (s) | × first layout's best |",
        "|---|--:|--:|--:|",
    ]
    lines += [
        f"| {r['layout']} | {r['round']} | {r['wall_s']:.2f} | {r['wall_s'] / base:.3f} |"
        for r in report["layouts"]
    ]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", type=Path, help="an fp32 model directory (default: the random mBERT-shaped one)"
    )
    p.add_argument(
        "--layout",
        nargs="*",
        default=["2x1", "4x1", "4x1t"],
        help="PxT: P processes, T threads each; t: taking turns",
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument(
        "--batches", type=int, default=24, help="total batches per layout (split over its processes)"
    )
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    publish(p.parse_args(argv), "processes", run, markdown)


if __name__ == "__main__":
    main()
