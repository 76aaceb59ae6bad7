"""Shared pieces of the benchmark: the sentences, the token count, Spark, and the process sampler.

Token definition (one count for every contender): the **word pieces** of each row's text
under the model's own tokenizer (sparkbert's ``load_tokenizer``: no ``[CLS]``/``[SEP]``, no
padding), counted once on the driver. Rates are these pieces divided by a contender's time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UD = REPO / "tests" / "data" / "ud_pud"
UD_LANGS = ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "th", "tr", "zh")


# ---- data -------------------------------------------------------------------------------------
def ud_sentences() -> list[str]:
    """The 4,800 UD sentences, interleaved language by language (any prefix is balanced)."""
    per_lang = []
    for lang in UD_LANGS:
        name = f"{lang}_gsd.first400.jsonl" if lang == "ja" else f"{lang}_pud.first400.jsonl"
        with open(UD / name, encoding="utf-8") as f:
            per_lang.append([json.loads(line)["text"] for line in f])
    return [texts[i] for i in range(max(map(len, per_lang))) for texts in per_lang if i < len(texts)]


def sentences(n: int) -> list[str]:
    """``n`` sentences: the interleaved UD set repeated (or cut) to length ``n``."""
    base = ud_sentences()
    return [base[i % len(base)] for i in range(n)]


#: Languages written without spaces between sentences.
_NO_SPACE = ("ja", "zh")


def paragraphs(per_paragraph: int = 10) -> list[str]:
    """The UD sentences joined into paragraphs of ``per_paragraph`` sentences, one language each.

    Long rows: many of their sentences together exceed 128 pieces only as paragraphs, and
    the SentenceDetector, windows and batching see realistic multi-sentence documents.
    """
    out = []
    for lang in UD_LANGS:
        name = f"{lang}_gsd.first400.jsonl" if lang == "ja" else f"{lang}_pud.first400.jsonl"
        with open(UD / name, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f]
        joiner = "" if lang in _NO_SPACE else " "
        out += [joiner.join(texts[i : i + per_paragraph]) for i in range(0, len(texts), per_paragraph)]
    return out


def paragraph_rows(n: int, per_paragraph: int = 10) -> list[str]:
    """``n`` paragraphs, interleaved language by language (any prefix is balanced), repeated to ``n``."""
    base = paragraphs(per_paragraph)
    per_lang = len(base) // len(UD_LANGS)
    order = [lang * per_lang + i for i in range(per_lang) for lang in range(len(UD_LANGS))]
    return [base[order[i % len(order)]] for i in range(n)]


def sentence_rows(texts: Iterable[str]) -> tuple[list[Any], list[Any]]:
    """Each text one sentence annotation, and the library Tokenizer's tokens of each: ``Embedder`` input."""
    from sparkbert.annotation import DOCUMENT, Annotation
    from sparkbert.text.tokens import tokenize

    rows = [[Annotation(DOCUMENT, 0, len(t) - 1, t, {"sentence": "0"})] for t in texts]
    return rows, [tokenize(row) for row in rows]


def detected_sentences(texts: Iterable[str], model_dir: str | Path) -> list[list[str]]:
    """Per row, the sentences sparkbert embeds: its own DocumentAssembler and SentenceDetector, in-process.

    The two stages come from ``standard_stages`` (the pipeline's own settings) and run as their
    pure batch annotators (``stage._annotator(None, None)``), without Spark.
    """
    from sparkbert.stages.standard import standard_stages

    assemble, detect = (stage._annotator(None, None) for stage in standard_stages(str(model_dir))[:2])
    documents = assemble([list(texts)])
    return [[s.result for s in row] for row in detect([documents])]


def read_jsonl(path: str | Path) -> list[str]:
    """The JSON strings of ``path``, one per line (what :func:`write_jsonl` wrote)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path: Path, texts: Iterable[str]) -> Path:
    """Write one JSON string per line (the contenders' input format); return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path


def piece_counts(texts: Iterable[str], tokenizer_json: Path) -> list[int]:
    """Word pieces per text under the model's tokenizer (the benchmark's token unit)."""
    from sparkbert.runtime.tokenization import encode, load_tokenizer

    tok = load_tokenizer(tokenizer_json)
    return [len(e) for e in encode(tok, list(texts))]


def whole_sequences(encodings: Iterable[Any], limit: int, cls: int, sep: int) -> list[Any]:
    """``[CLS] pieces [SEP]`` per sentence; one over ``limit`` positions runs as consecutive chunks.

    The raw contenders' unit: no window overlap, every piece runs exactly once.
    """
    import numpy as np

    step = limit - 2
    return [
        np.array([cls, *e.ids[start : start + step], sep], dtype=np.int64)
        for e in encodings
        for start in range(0, len(e), step)
    ]


# ---- environment ------------------------------------------------------------------------------
def worker_env() -> None:
    """Make ``benchmarks`` importable in Spark's Python workers (they inherit PYTHONPATH)."""
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable


def start_spark(master: str, conf: dict[str, str] | None = None) -> Any:
    """A local SparkSession for one contender (UI off, quiet logs)."""
    worker_env()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("sparkbert-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.python.worker.reuse", "true")
    )
    for k, v in (conf or {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


#: CPU flags that decide which GEMM kernels ONNX Runtime uses (int8 above all).
KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_int8",
    "amx_bf16",
)


def cpu_flags() -> list[str]:
    """The :data:`KERNEL_FLAGS` this CPU has (from ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in KERNEL_FLAGS if flag in have]
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    """What the numbers were measured on, CPU flags included."""
    import platform

    import psutil

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu_flags"] = cpu_flags()
    for mod in ("pyspark", "onnxruntime", "tokenizers", "torch", "transformers", "numpy", "pyarrow"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info


# ---- sampling ---------------------------------------------------------------------------------
def _kind(proc: Any, root_pid: int, worker: bool) -> str:
    if worker:
        return "worker"
    if proc.pid == root_pid:
        return "driver"
    try:
        return "jvm" if "java" in proc.name() else "other"
    except Exception:
        return "other"


def _is_python_worker(proc: Any) -> bool:
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:
        return False
    return "pyspark.daemon" in cmd or "pyspark.worker" in cmd


@dataclass
class ProcStats:
    kind: str = "other"
    peak_rss: int = 0
    peak_pss: int = 0
    peak_uss: int = 0
    cpu_first: float | None = None
    cpu_last: float = 0.0


@dataclass
class Sampler:
    """Samples memory (RSS/PSS/USS via ``memory_full_info``) and CPU time of a process tree.

    ``root`` is the driver process; the JVM is its child and Spark's Python workers
    (``pyspark.daemon`` and its forks) are the JVM's descendants. Python-worker memory is
    reported per process and summed per sample; CPU time is summed over the whole tree
    (driver, JVM, workers) so that a rate per CPU-second can be computed next to the wall
    rate: on a shared machine it is the steadier of the two.

    CPU times are read every ``interval`` seconds (cheap: ``/proc/<pid>/stat``); memory every
    ``memory_interval`` seconds and at start and stop (each read walks the process's page
    tables: with four model workers of 680 MiB mapped, 2 s cost 2.5 CPU-s on the contender's
    cores per minute-long run).
    """

    root_pid: int = field(default_factory=os.getpid)
    interval: float = 2.0
    memory_interval: float = 2.0
    workers: dict[int, ProcStats] = field(default_factory=dict)
    others: dict[int, ProcStats] = field(default_factory=dict)
    peak_total_pss: int = 0
    peak_total_rss: int = 0
    peak_workers: int = 0
    peak_model_workers_pss: int = 0
    model_worker_threshold: int = 200 * 2**20
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _sys0: Any = None
    _t0: float = 0.0
    _own_cpu: float = 0.0
    _kinds: dict[int, bool] = field(default_factory=dict)
    _memory_at: float = float("-inf")

    def start(self) -> Sampler:
        import psutil

        self._sys0 = psutil.cpu_times()
        self._t0 = time.perf_counter()
        self.sample(memory=True)
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self, *, memory: bool = False) -> None:
        t = time.thread_time()
        if memory or time.perf_counter() - self._memory_at >= self.memory_interval - 0.01:
            memory, self._memory_at = True, time.perf_counter()
        try:
            self._sample(memory)
        finally:
            self._own_cpu += time.thread_time() - t

    def _sample(self, memory: bool) -> None:
        import psutil

        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total_pss = total_rss = n = model_pss = 0
        for p in procs:
            try:
                with p.oneshot():
                    cpu = sum(p.cpu_times()[:2])
                    worker = self._kinds.get(p.pid)
                    if worker is None:
                        worker = self._kinds[p.pid] = _is_python_worker(p)
                    mem = p.memory_full_info() if memory and (worker or p.pid == self.root_pid) else None
            except psutil.Error:
                continue
            table = self.workers if worker else self.others
            st = table.get(p.pid)
            if st is None:
                st = table[p.pid] = ProcStats(kind=_kind(p, self.root_pid, worker))
            if st.cpu_first is None:  # a process born after the first sample counts from zero
                st.cpu_first = cpu if self.samples == 0 else 0.0
            st.cpu_last = cpu
            if mem is not None:
                st.peak_rss = max(st.peak_rss, mem.rss)
                st.peak_pss = max(st.peak_pss, mem.pss)
                st.peak_uss = max(st.peak_uss, mem.uss)
            if worker and mem is not None:
                n += 1
                total_pss += mem.pss
                total_rss += mem.rss
                if mem.pss >= self.model_worker_threshold:
                    model_pss += mem.pss
        self.peak_total_pss = max(self.peak_total_pss, total_pss)
        self.peak_total_rss = max(self.peak_total_rss, total_rss)
        self.peak_model_workers_pss = max(self.peak_model_workers_pss, model_pss)
        self.peak_workers = max(self.peak_workers, n)
        self.samples += 1

    def stop(self) -> dict[str, Any]:
        import psutil

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample(memory=True)
        wall = time.perf_counter() - self._t0
        sys1 = psutil.cpu_times()
        busy = sum(
            getattr(sys1, k) - getattr(self._sys0, k) for k in ("user", "nice", "system", "irq", "softirq")
        )
        # the sampler's own CPU time (in the driver process) is not the contender's
        ours = (
            sum(st.cpu_last - (st.cpu_first or 0.0) for st in [*self.workers.values(), *self.others.values()])
            - self._own_cpu
        )
        mib = 2**20
        cpu_by_kind: dict[str, float] = {}
        for st in [*self.workers.values(), *self.others.values()]:
            kind = st.kind
            if kind == "worker":
                kind = "model_workers" if st.peak_pss >= self.model_worker_threshold else "other_workers"
            cpu_by_kind[kind] = round(cpu_by_kind.get(kind, 0.0) + st.cpu_last - (st.cpu_first or 0.0), 2)
        if "driver" in cpu_by_kind:
            cpu_by_kind["driver"] = round(cpu_by_kind["driver"] - self._own_cpu, 2)
        cpu_by_kind["sampler"] = round(self._own_cpu, 2)
        worker_stats = sorted(self.workers.values(), key=lambda s: -s.peak_pss)
        return {
            "cpu_s": round(ours, 2),
            "cpu_by_process_s": cpu_by_kind,
            "machine_busy_cpu_s": round(busy, 2),
            "others_cpu_s": round(max(0.0, busy - ours), 2),
            "wall_s": round(wall, 2),
            "python_workers": len(self.workers),
            "peak_concurrent_python_workers": self.peak_workers,
            "peak_worker_rss_mib": round(max((s.peak_rss for s in worker_stats), default=0) / mib),
            "peak_worker_pss_mib": round(max((s.peak_pss for s in worker_stats), default=0) / mib),
            "peak_worker_uss_mib": round(max((s.peak_uss for s in worker_stats), default=0) / mib),
            "peak_total_worker_pss_mib": round(self.peak_total_pss / mib),
            "peak_total_worker_rss_mib": round(self.peak_total_rss / mib),
            "peak_model_workers_pss_mib": round(self.peak_model_workers_pss / mib),
            "driver_peak_rss_mib": round(self.others.get(self.root_pid, ProcStats()).peak_rss / mib),
            "driver_peak_pss_mib": round(self.others.get(self.root_pid, ProcStats()).peak_pss / mib),
            "per_worker_peak_pss_mib": [round(s.peak_pss / mib) for s in worker_stats],
            "samples": self.samples,
        }


def now() -> float:
    return time.perf_counter()
