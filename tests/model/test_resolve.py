"""resolve_model end to end: a real HTTP Hub, the real huggingface_hub, the real converter.

Every test gets its own ``SPARKBERT_HOME`` and ``huggingface_hub`` cache under ``tmp_path``.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.checkpoints import as_older_sparkbert_wrote_it
from tests.helpers.hub_server import FakeHub

from sparkbert import BertEmbeddings
from sparkbert.cli._args import make_parser
from sparkbert.cli._job import load_model
from sparkbert.errors import (
    InvalidParamError,
    ModelIntegrityError,
    ModelNotFoundError,
    UnsafeModelError,
)
from sparkbert.model import registry
from sparkbert.model.directory import ModelDirectory
from sparkbert.model.format import GRAPH_VERSIONS, outdated
from sparkbert.model.resolve import parse_repo_id, resolve_model, resolve_once

REPO = "test-org/tiny-bert"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tests.helpers.checkpoints import make_random_checkpoint

    folder, _ = make_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-bert", num_hidden_layers=1)
    return folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "home"


@pytest.fixture
def fake_hub(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


@pytest.fixture
def commit(fake_hub: FakeHub, tiny_checkpoint: Path) -> str:
    """Serve the tiny checkpoint as REPO (with a pickle beside it that must never be fetched)."""
    return fake_hub.add_repo(REPO, tiny_checkpoint, extra_files={"pytorch_model.bin": b"\x80\x04pickle"})


def _refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make every socket connect fail; return the list of attempts (errors may be caught upstream)."""
    attempts: list[object] = []

    def refuse(self: socket.socket, *args: object) -> None:
        attempts.append(args)
        raise AssertionError(f"a socket was opened: connect{args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# -- the Hub path -------------------------------------------------------------------------------


def test_first_resolve_downloads_converts_and_records_provenance(
    fake_hub: FakeHub, commit: str, home: Path
) -> None:
    model = resolve_model(REPO)
    assert model.path == home / "models" / "test-org--tiny-bert" / commit / "fp32"
    assert model.precision == "fp32"
    assert model.manifest["source"] == REPO
    assert model.manifest["revision"] == commit
    served = fake_hub.file(REPO, "model.safetensors")
    assert served.lfs and model.manifest["source_files"]["model.safetensors"]["sha256"] == served.sha256
    paths = [(r.method, r.path) for r in fake_hub.requests_for(REPO)]
    assert paths[0] == ("GET", f"/api/models/{REPO}/revision/main")
    assert fake_hub.requested_files(REPO) == [
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert not any(p.endswith(".bin") for _, p in paths)
    assert fake_hub.cdn_downloads() == ["model.safetensors"]
    assert (home / "models" / "test-org--tiny-bert" / "refs" / "main").read_text() == commit
    assert _leftovers(model.path.parent) == []  # no download or partial folder left


def test_second_resolve_loads_from_cache_with_hub_stopped_and_offline(
    fake_hub: FakeHub, commit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = resolve_model(REPO)
    fake_hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    second = resolve_model(REPO)
    assert second.path == first.path and second.identity == first.identity


def test_offline_cached_load_opens_no_socket(
    fake_hub: FakeHub, commit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = resolve_model(f"{REPO}@main")
    fake_hub.stop()
    attempts = _refuse_sockets(monkeypatch)
    monkeypatch.setenv("SPARKBERT_OFFLINE", "1")
    assert resolve_model(f"{REPO}@main").identity == first.identity
    monkeypatch.delenv("SPARKBERT_OFFLINE")
    assert resolve_model(REPO, local_files_only=True).identity == first.identity
    # a commit never changes: online, a cached commit is used without asking the Hub
    assert resolve_model(REPO, revision=commit).identity == first.identity
    assert attempts == []


def test_registry_name_downloads_its_pinned_commit_once(fake_hub: FakeHub, tiny_checkpoint: Path) -> None:
    entry = registry.lookup("bert_base_multilingual_cased", "xx")
    fake_hub.add_repo(entry.repo_id, tiny_checkpoint, commit=entry.revision)
    model = resolve_model("bert_base_multilingual_cased", "xx")
    assert model.manifest["revision"] == entry.revision
    assert model.path.parts[-3:] == ("google-bert--bert-base-multilingual-cased", entry.revision, "fp32")
    assert all("/main" not in r.path for r in fake_hub.requests_for(entry.repo_id))
    fake_hub.clear_requests()
    assert resolve_model("bert_multi_cased").identity == model.identity  # Spark NLP's name
    assert fake_hub.requests_for(entry.repo_id) == []


def test_corrupted_download_is_detected_and_caches_nothing(
    fake_hub: FakeHub, commit: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hub.corrupt(REPO, "model.safetensors")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        resolve_model(REPO)
    commit_dir = home / "models" / "test-org--tiny-bert" / commit
    assert not (commit_dir / "fp32").exists()
    assert _leftovers(commit_dir) == []
    with pytest.raises(ModelNotFoundError):
        resolve_model(REPO, local_files_only=True)
    fake_hub.heal()
    assert resolve_model(REPO).manifest["revision"] == commit


def test_offline_and_not_cached_fails_at_once_with_a_way_out(fake_hub: FakeHub, commit: str) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(REPO, local_files_only=True)
    message = str(info.value)
    assert f"{REPO} (revision main)" in message and "local_files_only=True" in message
    assert "HF_HUB_OFFLINE" in message and f"`sparkbert download {REPO}`" in message
    assert "checkpoint folder" in message
    assert fake_hub.requests_for(REPO) == []


def test_offline_registry_name_not_cached_names_it_and_the_download_command(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pinned registry name used to fail with "No model directory at .../fp32"."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = registry.lookup("bert_base_multilingual_cased")
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("bert_base_multilingual_cased", precision="int8")
    message = str(info.value)
    assert "No model directory" not in message
    assert f"'bert_base_multilingual_cased' ({entry.repo_id} at revision {entry.revision}, int8)" in message
    assert "HF_HUB_OFFLINE=1" in message and str(home) in message
    assert "`sparkbert download bert_base_multilingual_cased --precision int8`" in message


def test_offline_flag_from_environment(
    fake_hub: FakeHub, commit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="tiny-bert"):
        resolve_model(REPO)
    assert fake_hub.requests_for(REPO) == []


def test_pickle_only_repo_is_unsafe_and_nothing_is_fetched(
    fake_hub: FakeHub, tiny_checkpoint: Path, home: Path
) -> None:
    files = {p.name: p.read_bytes() for p in tiny_checkpoint.iterdir() if p.name != "model.safetensors"}
    fake_hub.add_repo("test-org/old-bert", files, extra_files={"pytorch_model.bin": b"\x80\x04pickle"})
    with pytest.raises(UnsafeModelError, match="pickle"):
        resolve_model("test-org/old-bert")
    assert fake_hub.requested_files("test-org/old-bert") == []
    assert not (home / "models" / "test-org--old-bert").exists()


def test_revision_after_at_sign_and_as_keyword(fake_hub: FakeHub, tiny_checkpoint: Path, home: Path) -> None:
    commit = fake_hub.add_repo(REPO, tiny_checkpoint, refs=("main", "v1.0"))
    model = resolve_model(f"{REPO}@v1.0")
    assert model.manifest["revision"] == commit
    assert (home / "models" / "test-org--tiny-bert" / "refs" / "v1.0").read_text() == commit
    assert resolve_model(REPO, revision="v1.0").path == model.path
    with pytest.raises(InvalidParamError, match="Two revisions"):
        resolve_model(f"{REPO}@v1.0", revision="main")
    with pytest.raises(ModelNotFoundError, match="no revision 'v2'"):
        resolve_model(f"{REPO}@v2")


def test_unknown_repo_is_model_not_found(fake_hub: FakeHub) -> None:
    with pytest.raises(ModelNotFoundError, match="test-org/missing"):
        resolve_model("test-org/missing")


def test_int8_is_quantized_from_the_cached_fp32_without_downloading(fake_hub: FakeHub, commit: str) -> None:
    fp32 = resolve_model(REPO)
    fake_hub.clear_requests()
    int8 = resolve_model(REPO, precision="int8")
    assert int8.precision == "int8" and int8.path == fp32.path.parent / "int8"
    assert int8.manifest["revision"] == commit and int8.manifest["source"] == REPO
    assert fake_hub.requested_files(REPO) == []  # only the snapshot call that resolves "main"
    assert _leftovers(int8.path.parent) == []


@pytest.mark.slow
def test_int8_straight_from_the_hub(fake_hub: FakeHub, commit: str) -> None:
    int8 = resolve_model(REPO, precision="int8")
    assert int8.precision == "int8" and int8.path.name == "int8"
    assert not (int8.path.parent / "fp32").exists()
    assert fake_hub.cdn_downloads() == ["model.safetensors"]
    assert _leftovers(int8.path.parent) == []


# -- the cache ----------------------------------------------------------------------------------


def test_killed_conversion_leftovers_are_ignored_and_cleaned(
    fake_hub: FakeHub, commit: str, home: Path
) -> None:
    commit_dir = home / "models" / "test-org--tiny-bert" / commit
    partial = commit_dir / ".fp32.partial-4242-deadbeef"
    download = commit_dir / ".fp32.download-4242-deadbeef"
    for folder in (partial, download):
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"half written")
    half = commit_dir / "fp32"  # a target that a non-atomic tool left half written
    half.mkdir()
    (half / "model.onnx.data").write_bytes(b"\0" * 100)
    model = resolve_model(REPO)
    assert model.path == half
    assert ModelDirectory.load(half).identity == model.identity
    assert _leftovers(commit_dir) == []


def test_damaged_cached_model_is_rebuilt_online_and_refused_offline(fake_hub: FakeHub, commit: str) -> None:
    model = resolve_model(REPO)
    data = model.path / "model.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match=r"model\.onnx\.data fails its sha256"):
        resolve_model(REPO, local_files_only=True)
    fake_hub.clear_requests()
    rebuilt = resolve_model(REPO)
    assert rebuilt.identity == model.identity  # same conversion, checked file by file
    assert fake_hub.cdn_downloads() == ["model.safetensors"]


def test_cached_model_of_an_older_sparkbert_is_converted_again_online_and_used_offline(
    fake_hub: FakeHub, commit: str, caplog: pytest.LogCaptureFixture
) -> None:
    model = resolve_model(REPO)
    as_older_sparkbert_wrote_it(model.path)
    fake_hub.clear_requests()
    with caplog.at_level(logging.WARNING, logger="sparkbert.model.resolve"):
        offline = resolve_model(REPO, local_files_only=True)
    assert offline.path == model.path and "graph_version" not in offline.manifest
    assert "as it is (graph version 1; this sparkbert writes version" in caplog.text
    assert fake_hub.requests_for(REPO) == []
    again = resolve_model(REPO, revision=commit)  # a cached commit, but not today's conversion
    assert again.path == model.path and outdated(again) is None
    assert again.manifest["graph_version"] == GRAPH_VERSIONS["fp32"]
    assert fake_hub.cdn_downloads() == ["model.safetensors"]
    assert _leftovers(model.path.parent) == []
    fake_hub.clear_requests()
    assert resolve_model(REPO, revision=commit).identity == again.identity  # once, not every time
    assert fake_hub.requests_for(REPO) == []


def test_outdated_cached_model_is_used_when_the_hub_cannot_be_reached(
    fake_hub: FakeHub, commit: str, caplog: pytest.LogCaptureFixture
) -> None:
    model = resolve_model(REPO)
    as_older_sparkbert_wrote_it(model.path)
    fake_hub.stop()  # not offline by any switch: the Hub is simply gone
    with caplog.at_level(logging.WARNING, logger="sparkbert.model.resolve"):
        again = resolve_model(REPO, revision=commit)
    assert again.path == model.path and "graph_version" not in again.manifest
    assert "Using the cached test-org/tiny-bert" in caplog.text


def test_outdated_cached_model_survives_a_failed_rebuild(fake_hub: FakeHub, commit: str) -> None:
    model = resolve_model(REPO)
    as_older_sparkbert_wrote_it(model.path)
    fake_hub.corrupt(REPO, "model.safetensors")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        resolve_model(REPO)
    kept = ModelDirectory.load(model.path)  # put back, intact, still usable offline
    assert "graph_version" not in kept.manifest
    assert resolve_model(REPO, local_files_only=True).identity == kept.identity
    assert _leftovers(model.path.parent) == []
    fake_hub.heal()
    assert outdated(resolve_model(REPO)) is None


def test_cached_int8_of_an_older_recipe_is_quantized_again_from_the_current_fp32(
    fake_hub: FakeHub, commit: str
) -> None:
    fp32 = resolve_model(REPO)
    int8 = resolve_model(REPO, precision="int8")
    as_older_sparkbert_wrote_it(int8.path, quantization={"gelu": "erf"})
    assert outdated(ModelDirectory.load(int8.path)) == "int8 recipe differs from today's default in gelu"
    fake_hub.clear_requests()
    again = resolve_model(REPO, precision="int8")
    assert again.path == int8.path and again.manifest["quantization"]["gelu"] == "tanh"
    assert fake_hub.requested_files(REPO) == []  # quantized from the cached fp32
    # an outdated fp32 is not quantized: the checkpoint is fetched again
    as_older_sparkbert_wrote_it(int8.path, quantization={"gelu": "erf"})
    as_older_sparkbert_wrote_it(fp32.path)
    fake_hub.clear_requests()
    third = resolve_model(REPO, precision="int8")
    assert outdated(third) is None and third.manifest["graph_version"] == GRAPH_VERSIONS["fp32"]
    assert fake_hub.cdn_downloads() == ["model.safetensors"]
    assert _leftovers(int8.path.parent) == []


# -- local folders ------------------------------------------------------------------------------


def test_local_checkpoint_is_converted_into_the_cache_keyed_by_content(
    tiny_checkpoint: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "my bert")
    attempts = _refuse_sockets(monkeypatch)
    model = resolve_model(folder)
    assert model.path.parts[-3] == "local--my_bert"
    assert len(model.path.parts[-2]) == 64
    assert model.manifest["source"] == str(folder.resolve())
    assert resolve_model(str(folder)).path == model.path
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "note": "edited"}))
    assert resolve_model(folder).path != model.path  # new content, new cache entry
    assert attempts == []  # a local folder never touches the network


def test_local_model_directory_is_loaded_as_is(tiny_checkpoint: Path, home: Path) -> None:
    converted = resolve_model(tiny_checkpoint)
    again = resolve_model(converted.path)
    assert again.path == converted.path and again.identity == converted.identity


def test_local_checkpoint_cached_by_an_older_sparkbert_is_converted_again(
    tiny_checkpoint: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = resolve_model(tiny_checkpoint)
    as_older_sparkbert_wrote_it(model.path)
    attempts = _refuse_sockets(monkeypatch)
    again = resolve_model(tiny_checkpoint)
    assert again.path == model.path and outdated(again) is None
    # a model directory of the user's own is theirs: used as it is, its int8 made once
    mine = shutil.copytree(model.path, tmp_path / "mine")
    as_older_sparkbert_wrote_it(mine)
    assert "graph_version" not in resolve_model(mine).manifest
    int8 = resolve_model(mine, precision="int8")
    stamp = (int8.path / "model.onnx").stat().st_mtime_ns
    assert resolve_model(mine, precision="int8").identity == int8.identity
    assert (int8.path / "model.onnx").stat().st_mtime_ns == stamp  # not quantized again
    assert attempts == []


def test_local_fp32_model_directory_is_quantized_into_the_cache(tiny_checkpoint: Path, home: Path) -> None:
    fp32 = resolve_model(tiny_checkpoint)
    int8 = resolve_model(fp32.path, precision="int8")
    assert int8.precision == "int8"
    assert int8.path.parts[-3:] == (f"local--{fp32.path.name}", fp32.identity, "int8")
    assert resolve_model(fp32.path, precision="int8").path == int8.path
    assert ModelDirectory.load(fp32.path).identity == fp32.identity  # the source is untouched
    with pytest.raises(InvalidParamError, match="fp16"):
        resolve_model(fp32.path, precision="fp16")
    # a model directory of another precision is used as it is unless a precision is asked for
    assert resolve_model(int8.path).path == int8.path
    assert resolve_once(str(int8.path)) == str(int8.path)  # sparkbert.embed and encode
    assert BertEmbeddings.pretrained(str(int8.path)).getModelPath() == str(int8.path)
    assert (
        load_model(
            str(int8.path), make_parser().parse_args(["embed", "--input", "in", "--output", "out"]).precision
        ).path
        == int8.path
    )
    with pytest.raises(InvalidParamError, match=r"is an int8 model directory.*precision='int8' or None"):
        resolve_model(int8.path, precision="fp32")


def test_local_pickle_only_folder_is_unsafe(tmp_path: Path, home: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text("{}")
    (tmp_path / "old" / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(UnsafeModelError, match="pickle"):
        resolve_model(tmp_path / "old")


def test_missing_local_path_is_model_not_found(home: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="No such folder"):
        resolve_model("./no/such/folder")


# -- arguments ----------------------------------------------------------------------------------


def test_invalid_precision_lists_valid_ones(home: Path) -> None:
    with pytest.raises(InvalidParamError) as info:
        resolve_model(REPO, precision="int4")
    assert "'precision'" in str(info.value) and "'fp32', 'int8', 'fp16'" in str(info.value)


def test_unknown_registry_name_lists_the_registry(home: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("bert_huge_cased", "xx")
    for entry in registry.entries():
        assert repr(entry.name) in str(info.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("org/name", ("org/name", None)),
        ("org/name@main", ("org/name", "main")),
        ("org/name@refs/pr/3", ("org/name", "refs/pr/3")),
        ("Org-1/name.v2_x@" + "a" * 40, ("Org-1/name.v2_x", "a" * 40)),
    ],
)
def test_parse_repo_id(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_repo_id(spec) == expected


@pytest.mark.parametrize(
    "spec", ["org/na me", "org--x/name", "org/name@", "org/.name", "/name", "org/name@a b"]
)
def test_parse_repo_id_refuses_malformed(spec: str) -> None:
    with pytest.raises(InvalidParamError):
        parse_repo_id(spec)
