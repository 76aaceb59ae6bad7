"""Machine-wide turns for single-thread ONNX Runtime runs: real processes, real file locks."""

from __future__ import annotations

import fcntl
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sparkbert.runtime.cpu_turns import cpu_turn, takes_turns
from sparkbert.runtime.embedder import EmbedderConfig, load_resources
from sparkbert.runtime.session import SessionOptions, clear_cache, create_session


def _worker(folder: str, slots: int, rounds: int, out: str, start: Any) -> None:
    start.wait()  # all four begin together, however long each took to start
    spans = []
    for _ in range(rounds):
        with cpu_turn(slots=slots, folder=Path(folder)):
            start = time.monotonic()
            time.sleep(0.02)
            spans.append((start, time.monotonic()))
    Path(out).write_text(json.dumps(spans))


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_no_more_runs_at_once_than_slots_and_every_slot_used(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [
        ctx.Process(target=_worker, args=(str(tmp_path / "turns"), 2, 12, str(tmp_path / f"{i}.json"), start))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    spans = [tuple(s) for i in range(4) for s in json.loads((tmp_path / f"{i}.json").read_text())]
    assert len(spans) == 48
    assert _most_at_once(spans) == 2  # never three, and both slots were used together


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    folder = tmp_path / "turns"
    code = (
        "import sys, time; from pathlib import Path; from sparkbert.runtime.cpu_turns import cpu_turn\n"
        f"with cpu_turn(slots=1, folder=Path({str(folder)!r})):\n"
        "    print('holding', flush=True); time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        fd = os.open(folder / "slot-0", os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("the slot was free while the child held it")
            except BlockingIOError:
                pass
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the holder died
        finally:
            os.close(fd)
    finally:
        if child.poll() is None:
            child.kill()


def test_only_single_thread_cpu_sessions_take_turns(tiny_model_dir: Path) -> None:
    onnx_path = str(tiny_model_dir / "model.onnx")
    assert takes_turns(create_session(onnx_path, SessionOptions(intra_op_threads=1)))
    assert not takes_turns(create_session(onnx_path, SessionOptions(intra_op_threads=2)))


def test_vectors_are_the_same_when_runs_take_turns(tiny_model_dir: Path) -> None:
    from sparkbert.runtime.embedder import hidden_states

    clear_cache()
    config = EmbedderConfig.for_model(tiny_model_dir, session=SessionOptions(intra_op_threads=1))
    res = load_resources(config)
    assert res.takes_turns
    ids = np.array([[101, 1000, 2000, 102]], dtype=np.int64)
    mask, types = np.ones_like(ids), np.zeros_like(ids)
    turned = hidden_states(res, config, ids, mask, types)
    alone = create_session(str(tiny_model_dir / "model.onnx"), SessionOptions(intra_op_threads=2))
    (expected,) = alone.run(
        ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )
    np.testing.assert_allclose(turned, expected, atol=1e-5)
    clear_cache()


def test_processes_on_other_cores_use_other_slots() -> None:
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return  # one core: nothing to split
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from sparkbert.runtime.cpu_turns import turns_folder; print(turns_folder())"
    )
    pinned = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    from sparkbert.runtime.cpu_turns import turns_folder

    assert pinned and pinned != str(turns_folder())
