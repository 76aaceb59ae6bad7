"""Downloads from a Hub: only what is needed, checked against the Hub's own checksums.

Runs the real ``huggingface_hub`` against :class:`tests.helpers.hub_server.FakeHub`, a real
HTTP server on 127.0.0.1 that answers as the Hub does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.hub_server import FakeHub, git_blob_sha1

from sparkbert.errors import ModelIntegrityError, ModelNotFoundError, UnsafeModelError
from sparkbert.model import hub

REPO = "test-org/tiny-bert"
CONFIG = json.dumps({"model_type": "bert", "hidden_size": 8}).encode()
WEIGHTS = bytes(range(256)) * 64  # stands for a safetensors file: hub.py does not parse it
FILES = {
    "config.json": CONFIG,
    "model.safetensors": WEIGHTS,
    "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n",
    "tokenizer_config.json": b'{"do_lower_case": false}',
    "README.md": b"# tiny\n",
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
}


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def test_snapshot_resolves_branch_to_commit_with_lfs_sha256(fake_hub: FakeHub) -> None:
    commit = fake_hub.add_repo(REPO, FILES)
    snapshot = hub.fetch_snapshot(REPO, "main")
    assert snapshot.commit == commit
    assert snapshot.files["model.safetensors"].sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert snapshot.files["config.json"].sha256 is None  # small files live in git, not LFS
    assert snapshot.files["config.json"].blob_id == git_blob_sha1(CONFIG)
    assert [r.path for r in fake_hub.requests_for(REPO)] == [f"/api/models/{REPO}/revision/main"]


def test_download_fetches_only_the_needed_files_and_returns_published_sha256(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.add_repo(REPO, FILES, extra_files={"pytorch_model.bin": b"pickle", "tf_model.h5": b"h5"})
    snapshot = hub.fetch_snapshot(REPO)
    published = hub.download_checkpoint(snapshot, tmp_path / "ckpt")
    assert published == {"model.safetensors": hashlib.sha256(WEIGHTS).hexdigest()}
    assert fake_hub.requested_files(REPO) == [
        "config.json",
        "model.safetensors",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert fake_hub.cdn_downloads() == ["model.safetensors"]
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == WEIGHTS
    assert not list((tmp_path / "ckpt").glob("*.bin"))


def test_corrupted_weights_are_an_integrity_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo(REPO, FILES)
    fake_hub.corrupt(REPO, "model.safetensors")
    snapshot = hub.fetch_snapshot(REPO)
    with pytest.raises(ModelIntegrityError, match=r"model.safetensors .*sha256"):
        hub.download_checkpoint(snapshot, tmp_path / "ckpt")


def test_truncated_weights_are_an_integrity_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo(REPO, FILES)
    fake_hub.corrupt(REPO, "model.safetensors", WEIGHTS[:-10])
    with pytest.raises(ModelIntegrityError):
        hub.download_checkpoint(hub.fetch_snapshot(REPO), tmp_path / "ckpt")


def test_pickle_only_repo_is_refused_before_any_download(fake_hub: FakeHub, tmp_path: Path) -> None:
    files = {k: v for k, v in FILES.items() if k != "model.safetensors"}
    fake_hub.add_repo(REPO, files, extra_files={"pytorch_model.bin": WEIGHTS})
    with pytest.raises(UnsafeModelError, match=r"pytorch_model\.bin"):
        hub.download_checkpoint(hub.fetch_snapshot(REPO), tmp_path / "ckpt")
    assert fake_hub.requested_files(REPO) == []


def test_remote_code_is_refused_before_weights_are_fetched(fake_hub: FakeHub, tmp_path: Path) -> None:
    config = json.dumps({"model_type": "bert", "auto_map": {"AutoModel": "modeling.Evil"}}).encode()
    fake_hub.add_repo(REPO, {**FILES, "config.json": config})
    with pytest.raises(UnsafeModelError, match="remote code"):
        hub.download_checkpoint(hub.fetch_snapshot(REPO), tmp_path / "ckpt")
    assert "model.safetensors" not in fake_hub.requested_files(REPO)


def test_sharded_weights_follow_the_index(fake_hub: FakeHub, tmp_path: Path) -> None:
    shards = {
        "model-00001-of-00002.safetensors": WEIGHTS[:100],
        "model-00002-of-00002.safetensors": WEIGHTS[100:],
    }
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    files = {k: v for k, v in FILES.items() if k != "model.safetensors"}
    fake_hub.add_repo(REPO, {**files, **shards, "model.safetensors.index.json": json.dumps(index).encode()})
    published = hub.download_checkpoint(hub.fetch_snapshot(REPO), tmp_path / "ckpt")
    assert published == {name: hashlib.sha256(data).hexdigest() for name, data in shards.items()}


def test_shard_path_leaving_the_repo_is_refused(fake_hub: FakeHub, tmp_path: Path) -> None:
    index = {"weight_map": {"a": "../../etc/model.safetensors"}}
    files = {k: v for k, v in FILES.items() if k != "model.safetensors"}
    fake_hub.add_repo(REPO, {**files, "model.safetensors.index.json": json.dumps(index).encode()})
    with pytest.raises(UnsafeModelError, match="outside the repo"):
        hub.download_checkpoint(hub.fetch_snapshot(REPO), tmp_path / "ckpt")


def test_unknown_repo_and_revision_are_model_not_found(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(REPO, FILES)
    with pytest.raises(ModelNotFoundError, match="test-org/nope"):
        hub.fetch_snapshot("test-org/nope")
    with pytest.raises(ModelNotFoundError, match="no revision 'v9'"):
        hub.fetch_snapshot(REPO, "v9")


def test_offline_never_sends_a_request(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub.add_repo(REPO, FILES)
    monkeypatch.setenv("SPARKBERT_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"SPARKBERT_OFFLINE=1.*`sparkbert download test-org/"):
        hub.fetch_snapshot(REPO)
    assert fake_hub.requests == []


def test_unreachable_hub_is_model_not_found(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(REPO, FILES)
    fake_hub.stop()
    with pytest.raises(ModelNotFoundError, match="Could not get model"):
        hub.fetch_snapshot(REPO)


def test_fake_hub_serves_huggingface_hub_snapshot_download(fake_hub: FakeHub, tmp_path: Path) -> None:
    """The server is faithful enough for huggingface_hub's own tree listing and pattern filter."""
    from huggingface_hub import snapshot_download

    commit = fake_hub.add_repo(REPO, FILES, extra_files={"pytorch_model.bin": b"pickle"})
    folder = snapshot_download(
        REPO,
        allow_patterns=["*.json", "*.safetensors"],
        cache_dir=tmp_path / "hf",
        endpoint=fake_hub.endpoint,
    )
    assert Path(folder).name == commit
    assert sorted(p.name for p in Path(folder).iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer_config.json",
    ]
    assert "pytorch_model.bin" not in fake_hub.requested_files(REPO)
