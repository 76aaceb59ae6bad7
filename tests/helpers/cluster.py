"""A real Spark standalone cluster on 127.0.0.1: one master and N workers, for the cluster tests.

The master and the workers are started with the ``spark-class`` script inside the installed
pyspark package (``SPARK_HOME`` points there, ``PYSPARK_PYTHON`` to this interpreter), each in
the foreground with its log in ``<work_dir>/logs``. :func:`standalone_cluster` waits until
every worker has registered with the master (polling the master's ``/json/`` page) and, on
exit (also on failure), stops every process it started, by PID: the workers with SIGTERM
(a worker kills its executors), then the master, then SIGKILL for anything still alive,
executors and Python workers found under the workers included.

Processes of the cluster are found through ``/proc`` (Linux), so tests can kill an executor
JVM or a Python worker mid-job:

=================================  =====================================================
method                             finds
=================================  =====================================================
``executor_pids()``                ``CoarseGrainedExecutorBackend`` JVMs under the workers
``python_worker_pids()``           Python workers forked by a ``pyspark.daemon`` there
``busy_python_workers()``          those of them using CPU now (running a task)
=================================  =====================================================

:func:`kill_once` SIGKILLs one such process from a background thread once a condition holds
(for example, once the job's first output file appears).

Examples
--------
>>> free_port() > 0
True
>>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
>>> child.pid in descendants(os.getpid()), "time.sleep(30)" in cmdline(child.pid)
(True, True)
>>> child.kill(); _ = child.wait()
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark
from tests.helpers.jvm import fast_jvm_options

#: The pyspark package folder: a complete Spark distribution (bin/, jars/).
SPARK_HOME = Path(pyspark.__file__).resolve().parent
SPARK_CLASS = SPARK_HOME / "bin" / "spark-class"
SPARK_SUBMIT = SPARK_HOME / "bin" / "spark-submit"
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_env(**extra: str) -> dict[str, str]:
    """The environment for spark-class and spark-submit: pyspark's SPARK_HOME, this Python."""
    env = dict(os.environ)
    for name in ("SPARK_CONF_DIR", "PYSPARK_DRIVER_PYTHON", "SPARK_LOCAL_DIRS", "SPARK_WORKER_DIR"):
        env.pop(name, None)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_DAEMON_MEMORY="512m",
        SPARK_DAEMON_JAVA_OPTS=fast_jvm_options(),
        SPARK_NO_DAEMONIZE="1",
    )
    env.update(extra)
    return env


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may hold spaces: split after it
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Return the PIDs of every live descendant of ``pid`` (children first, then theirs)."""
    children = _children_map()
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def cmdline(pid: int) -> str:
    """Return the command line of ``pid`` with spaces between arguments ('' if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def parent_pid(pid: int) -> int:
    """Return the parent PID of ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def cpu_ticks(pid: int) -> int:
    """Return the CPU time ``pid`` has used so far, in clock ticks (-1 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return -1
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def alive(pid: int) -> bool:
    """Return True if ``pid`` runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


@dataclass
class StandaloneCluster:
    """A running standalone cluster: its URLs and the processes this helper started."""

    master_url: str
    webui_url: str
    work_dir: Path
    master: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """Return the master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as response:
            return dict(json.loads(response.read()))

    def alive_workers(self) -> int:
        """Return how many workers the master sees as ALIVE."""
        workers = self.state().get("workers", [])
        return sum(isinstance(w, dict) and w.get("state") == "ALIVE" for w in workers)

    def executor_pids(self) -> list[int]:
        """Return the PIDs of the executor JVMs the workers launched."""
        return [
            pid
            for worker in self.workers
            for pid in descendants(worker.pid)
            if EXECUTOR_CLASS in cmdline(pid) and alive(pid)
        ]

    def python_worker_pids(self) -> list[int]:
        """Return the PIDs of Python workers: children of a ``pyspark.daemon`` under an executor."""
        out = []
        for executor in self.executor_pids():
            for pid in descendants(executor):
                parent = parent_pid(pid)
                if "pyspark.daemon" in cmdline(parent) and "pyspark.daemon" in cmdline(pid) and alive(pid):
                    out.append(pid)
        return out

    def busy_python_workers(self, interval: float = 0.2) -> list[int]:
        """Return the Python workers that used CPU during the last ``interval`` seconds (running a task)."""
        before = {pid: cpu_ticks(pid) for pid in self.python_worker_pids()}
        time.sleep(interval)
        return [pid for pid, ticks in before.items() if alive(pid) and cpu_ticks(pid) > ticks]

    def logs(self) -> str:
        """Return the tail of every daemon log, for assertion messages."""
        parts = []
        for log in sorted((self.work_dir / "logs").glob("*.log")):
            parts.append(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process this helper started, and what they started, by PID."""
        started = [*self.workers, self.master]
        tree = [pid for p in started for pid in descendants(p.pid)]
        for proc in started:  # workers first: each stops its executors
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=timeout)
        for pid in tree:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def kill_once(
    find: Callable[[], list[int]], ready: Callable[[], bool], *, timeout: float = 600.0
) -> Iterator[list[tuple[int, str]]]:
    """While the block runs, SIGKILL the first process ``find()`` returns once ``ready()`` is true.

    Yields the list that receives ``(pid, command line)`` of the killed process (at most one).
    """
    killed: list[tuple[int, str]] = []
    done = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not done.is_set() and time.monotonic() < deadline:
            pids: list[int] = []
            with contextlib.suppress(OSError):
                pids = find() if ready() else []
            for pid in pids:
                command = cmdline(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, command))
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, name="kill-once", daemon=True)
    thread.start()
    try:
        yield killed
    finally:
        done.set()
        thread.join(timeout=10)


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(SPARK_CLASS), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C in the terminal reaches pytest, not the daemons
        )


@contextlib.contextmanager
def standalone_cluster(
    work_dir: Path,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    timeout: float = 120.0,
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers on 127.0.0.1; stop them all on exit.

    Parameters
    ----------
    work_dir : Path
        Logs go to ``work_dir/logs``, each worker's executors run in ``work_dir/worker-N``.
    workers, cores, memory
        Number of workers, and the cores and memory each offers.
    timeout : float
        Seconds to wait for every worker to register.
    """
    env = cluster_env()
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    port, webui = free_port(), free_port()
    master = _start(
        [
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--webui-port", str(webui),
        ],
        work_dir / "logs" / "master.log",
        env,
    )  # fmt: skip
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{webui}", work_dir, master)
    try:
        _wait(cluster, lambda: bool(cluster.state()), timeout, "the master to answer")
        for n in range(1, workers + 1):
            folder = work_dir / f"worker-{n}"
            folder.mkdir(exist_ok=True)
            cluster.workers.append(
                _start(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        cluster.master_url,
                        "--cores", str(cores),
                        "--memory", memory,
                        "--host", "127.0.0.1",
                        "--webui-port", str(free_port()),
                        "--work-dir", str(folder),
                    ],
                    work_dir / "logs" / f"worker-{n}.log",
                    env,
                )
            )  # fmt: skip
        _wait(cluster, lambda: cluster.alive_workers() == workers, timeout, f"{workers} workers to register")
        yield cluster
    finally:
        cluster.stop()


def _wait(cluster: StandaloneCluster, ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in [cluster.master, *cluster.workers]:
            if proc.poll() is not None:
                raise RuntimeError(f"a Spark daemon exited with {proc.returncode}:\n{cluster.logs()}")
        with contextlib.suppress(OSError, ValueError):
            if ready():
                return
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}:\n{cluster.logs()}")


__all__ = [
    "SPARK_HOME",
    "SPARK_SUBMIT",
    "StandaloneCluster",
    "cluster_env",
    "descendants",
    "free_port",
    "kill_once",
    "standalone_cluster",
]
