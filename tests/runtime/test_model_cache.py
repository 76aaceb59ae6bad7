"""The per-worker model cache is bounded and builds each key once under concurrent first calls;
device and task slots are decided in the worker, not on the driver."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import onnxruntime as ort
import pytest

from sparkbert import BertEmbeddings
from sparkbert.runtime.session import ModelCache, SessionOptions, resolve_device, task_slots
from sparkbert.stages.distribute import configured_task_slots


def test_concurrent_first_calls_build_once() -> None:
    cache = ModelCache(size=2)
    builds: list[int] = []
    start = threading.Barrier(8)

    def slow_build() -> object:
        builds.append(1)
        time.sleep(0.2)
        return object()

    results: list[object] = []

    def worker() -> None:
        start.wait()
        results.append(cache.get("model-a", slow_build))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_other_keys_are_not_blocked_by_a_build() -> None:
    cache = ModelCache(size=4)
    release = threading.Event()
    threading.Thread(target=lambda: cache.get("slow", lambda: release.wait(5))).start()
    time.sleep(0.05)
    began = time.perf_counter()
    assert cache.get("fast", lambda: "ok") == "ok"
    assert time.perf_counter() - began < 1.0
    release.set()


def test_least_recently_used_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKBERT_MODEL_CACHE_SIZE", "2")
    cache = ModelCache()
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: 0)  # a is now the most recent
    cache.get("c", lambda: 3)
    assert cache.keys() == ["a", "c"]
    monkeypatch.setenv("SPARKBERT_MODEL_CACHE_SIZE", "1")
    cache.get("d", lambda: 4)
    assert cache.keys() == ["d"]
    assert ModelCache().size == 1 and ModelCache(size=3).size == 3


def test_auto_device_is_resolved_in_the_worker(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    # The driver here has no CUDA provider: the stage must not decide "cpu" for its executors.
    assert "CUDAExecutionProvider" not in ort.get_available_providers()
    config = BertEmbeddings(modelPath=str(tiny_model_dir))._config(None)
    assert config.session.device == "auto"
    assert resolve_device(config.session).device == "cpu"
    # An executor whose onnxruntime has CUDA resolves the same config to its GPU.
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    resolved = resolve_device(config.session)
    assert (resolved.device, resolved.device_id) == ("cuda", 0)
    assert resolve_device(SessionOptions(device="cpu")).device == "cpu"


class _Conf:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


class _Session:
    def __init__(self, **values: str) -> None:
        self.conf = _Conf({k.replace("_", "."): v for k, v in values.items()})


def test_task_slots_come_from_conf_or_are_left_to_the_executor() -> None:
    assert configured_task_slots(_Session(spark_master="local[4]")) == 4
    assert configured_task_slots(_Session(spark_master="local[4]", spark_task_cpus="2")) == 2
    assert configured_task_slots(_Session(spark_master="spark://h:7077", spark_executor_cores="8")) == 8
    # a cluster master without spark.executor.cores: not the driver's cores, the executor decides
    assert configured_task_slots(_Session(spark_master="spark://h:7077")) == 0
    assert task_slots() == 1  # outside a Spark task the process is alone
