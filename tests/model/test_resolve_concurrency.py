"""Two processes resolving the same model at once end with one good copy, built once."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.hub_server import FakeHub

from sparkbert.model.directory import ModelDirectory

REPO = "test-org/tiny-bert"
CDN_DELAY = 1.0


def _resolve_in_child(name: str, barrier: Any) -> tuple[str, str]:
    """Run in a spawned process: resolve with the environment inherited from the test."""
    from sparkbert.model.resolve import resolve_model

    barrier.wait(timeout=120)  # both processes start resolving together
    model = resolve_model(name)
    return str(model.path), model.identity


@pytest.mark.slow
def test_two_processes_resolving_at_once_build_one_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    from tests.helpers.checkpoints import make_random_checkpoint

    checkpoint, _ = make_random_checkpoint(tmp_path / "tiny-bert", num_hidden_layers=1)
    home = tmp_path / "home"
    monkeypatch.setenv("SPARKBERT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    context = multiprocessing.get_context("spawn")
    with FakeHub() as hub:
        commit = hub.add_repo(REPO, checkpoint)
        hub.cdn_delay = CDN_DELAY  # the weights take a while to arrive: the race window is wide open
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)  # before the workers start: they copy os.environ
        with context.Manager() as manager, context.Pool(2) as pool:
            barrier = manager.Barrier(2)
            results = pool.starmap(_resolve_in_child, [(REPO, barrier), (REPO, barrier)], chunksize=1)
        requests = hub.requests_for(REPO)

    snapshot_calls = [r for r in requests if r.path.startswith("/api/models/")]
    body = next(r for r in requests if r.origin == "cdn" and r.method == "GET")
    assert len(snapshot_calls) == 2  # both processes asked the Hub ...
    assert (
        max(r.received for r in snapshot_calls) < body.received + CDN_DELAY
    )  # ... while the first downloaded
    assert [r for r in requests if r.origin == "cdn"] == [body]  # the other waited, then loaded the winner's

    (path_a, identity_a), (path_b, identity_b) = results
    target = home / "models" / "test-org--tiny-bert" / commit / "fp32"
    assert path_a == path_b == str(target)
    assert identity_a == identity_b == ModelDirectory.load(target).identity
    assert sorted(os.listdir(target.parent)) == ["fp32", "fp32.lock"]  # no partial or download folder left


@pytest.mark.slow
def test_process_killed_mid_download_leaves_nothing_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    from tests.helpers.checkpoints import make_random_checkpoint

    from sparkbert.model.resolve import resolve_model

    checkpoint, _ = make_random_checkpoint(tmp_path / "tiny-bert", num_hidden_layers=1)
    home = tmp_path / "home"
    monkeypatch.setenv("SPARKBERT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    context = multiprocessing.get_context("spawn")
    with FakeHub() as hub:
        commit = hub.add_repo(REPO, checkpoint)
        hub.cdn_delay = 60.0  # the weights never arrive before the kill
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        child = context.Process(target=resolve_model, args=(REPO,))
        child.start()
        deadline = time.monotonic() + 120
        while not hub.cdn_downloads() and time.monotonic() < deadline and child.is_alive():
            time.sleep(0.1)
        assert hub.cdn_downloads() == ["model.safetensors"], "the child never reached the weights"
        child.kill()
        child.join()
        commit_dir = home / "models" / "test-org--tiny-bert" / commit
        assert [
            p.name for p in commit_dir.iterdir() if p.name.startswith(".fp32.download-")
        ]  # killed mid-way
        assert not (commit_dir / "fp32").exists()

        hub.cdn_delay = 0.0
        model = resolve_model(REPO)  # the dead process's lock is gone with it; its leftovers are cleaned
    assert model.path == commit_dir / "fp32"
    assert sorted(os.listdir(commit_dir)) == ["fp32", "fp32.lock"]
