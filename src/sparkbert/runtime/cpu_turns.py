"""At most one single-thread ONNX Runtime run per core at a time, across the processes of a machine.

When a machine runs more Spark tasks than it has cores (``local[4]`` on two cores, or several
executors sharing a host), every task's session has one intra-op thread
(``session.default_intra_op_threads``) and more sessions compute than there are cores: the
kernel switches between them every few milliseconds and each evicts the others' activations
from the caches (``benchmarks/processes.py``: four single-thread processes did the work of two
in 1.03–1.09 × the time on two cores). ``cpu_turn`` makes such runs take turns a whole batch at
a time: a run holds one of ``cores`` slot files (an exclusive ``flock``) while ONNX Runtime
computes. A free slot is taken at once; when every slot is held the run waits, in the kernel,
on the slot its process held last, so the waiting processes spread over the slots and each
release wakes one of them. Nothing polls; a lock dies with its process, so a killed worker
never keeps a slot; a machine with at most one task per core never waits.

Examples
--------
>>> with cpu_turn(slots=2):
...     pass  # the batch runs here
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sparkbert.runtime.session import machine_cores

_LOCAL = threading.local()


def turns_folder() -> Path:
    """Return the folder of slot files shared by this user's processes on the same cores.

    Spark's workers on a machine share a user; processes pinned to different cores (containers
    with their own CPU sets) get different folders, so they never wait for each other.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [machine_cores()]
    mask = hashlib.sha256(",".join(map(str, cores)).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"sparkbert-cpu-turns-{uid}-{mask}"


def takes_turns(session: Any) -> bool:
    """Whether runs of ``session`` take turns: a CPU session with one intra-op thread.

    Examples
    --------
    >>> takes_turns(None)
    False
    """
    try:
        cpu = session.get_providers()[0] == "CPUExecutionProvider"
        return bool(cpu and session.get_session_options().intra_op_num_threads == 1)
    except AttributeError:
        return False


class _Slots:
    """This thread's open slot files (``flock`` locks belong to an open file description, so one
    set per thread and process: a forked child opens its own)."""

    def __init__(self, folder: Path, count: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.fds = [os.open(folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600) for i in range(count)]
        self.last = os.getpid() % count

    def take(self) -> int:
        """Hold a slot: a free one at once, else wait on the one this process held last."""
        order = [self.last, *(i for i in range(len(self.fds)) if i != self.last)]
        for i in order:
            try:
                fcntl.flock(self.fds[i], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            self.last = i
            return i
        fcntl.flock(self.fds[self.last], fcntl.LOCK_EX)
        return self.last

    def give(self, slot: int) -> None:
        fcntl.flock(self.fds[slot], fcntl.LOCK_UN)


def _slots(folder: Path | None, count: int) -> _Slots:
    """This thread's slots; ``folder``/``count`` unset: this process's own, worked out once."""
    cache: dict[tuple[int, Path | None, int], _Slots] = _LOCAL.__dict__.setdefault("slots", {})
    key = (os.getpid(), folder, count)
    if key not in cache:
        cache[key] = _Slots(folder or turns_folder(), count or machine_cores())
    return cache[key]


@contextlib.contextmanager
def cpu_turn(*, slots: int = 0, folder: Path | None = None) -> Iterator[None]:
    """Hold one of ``slots`` (default: this machine's cores) machine-wide slots for the block.

    Examples
    --------
    >>> import tempfile
    >>> with cpu_turn(slots=1, folder=Path(tempfile.mkdtemp())):
    ...     print("one run at a time")
    one run at a time
    """
    held = _slots(folder, slots)
    slot = held.take()
    try:
        yield
    finally:
        held.give(slot)
