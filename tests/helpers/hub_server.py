"""A real HTTP server on 127.0.0.1 that serves model repos the way the Hugging Face Hub does.

It answers the endpoints that ``huggingface_hub`` 2.4 calls for a download, so the real
client code runs against it unchanged (point ``HF_ENDPOINT`` or ``endpoint=`` at
:attr:`FakeHub.endpoint`):

==========================================================  ==========================================
request                                                     answer
==========================================================  ==========================================
``GET /api/models/{repo}[/revision/{rev}]`` (``?blobs=1``)  model info: ``sha``, ``siblings`` (+ sizes,
                                                            ``blobId``, ``lfs.sha256`` with blobs)
``GET /api/models/{repo}/tree/{rev}[/{path}]``              file listing (``oid``, ``size``, ``lfs.oid``)
``HEAD|GET /{repo}/resolve/{rev}/{file}``                   small file: 200, ``ETag`` = git blob sha1;
                                                            LFS file: 302 to the CDN origin with
                                                            ``X-Linked-Etag`` = sha256, ``X-Linked-Size``
``HEAD|GET /lfs/{sha256}`` (on the CDN origin)              the LFS body (``Range: bytes=N-`` honoured)
==========================================================  ==========================================

Every answer about a repo carries ``X-Repo-Commit``. Errors carry ``X-Error-Code`` as the Hub
does: ``RepoNotFound`` (401), ``RevisionNotFound`` (404) and ``EntryNotFound`` (404).

The CDN is a second listening socket (another port, so another origin): as with the real
Hub, ``huggingface_hub`` reads the LFS metadata from the 302 itself and downloads from the
CDN without following the redirect during its ``HEAD``. Both origins record every request in
one log, and answer with ``Connection: close`` so nothing can reach a stopped server through
a pooled keep-alive connection.

Examples
--------
>>> import urllib.request
>>> with FakeHub() as hub:
...     commit = hub.add_repo("org/tiny", {"config.json": b"{}"})
...     url = f"{hub.endpoint}/org/tiny/resolve/main/config.json"
...     with urllib.request.urlopen(url) as response:
...         (response.read(), response.headers["X-Repo-Commit"] == commit)
(b'{}', True)
>>> hub.requested_files("org/tiny")
['config.json']
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

#: Files stored in git-lfs by default, as ``.gitattributes`` of a new Hub repo says.
DEFAULT_LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.onnx", "*.ckpt")


def git_blob_sha1(data: bytes) -> str:
    """Return the git object id of ``data`` stored as a blob (what the Hub calls ``blobId``).

    Examples
    --------
    >>> git_blob_sha1(b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    """Return the git-lfs pointer file that stands for ``data`` in git.

    Examples
    --------
    >>> lfs_pointer(b"abc").splitlines()[2]
    b'size 3'
    """
    digest = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{digest}\nsize {len(data)}\n".encode()


@dataclass(frozen=True)
class RepoFile:
    """One file of a served repo, with the identifiers the Hub reports for it."""

    path: str
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        """The sha256 of the true content (the LFS oid)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def blob_id(self) -> str:
        """The git blob id: of the content for a small file, of the pointer for an LFS file."""
        return git_blob_sha1(lfs_pointer(self.data) if self.lfs else self.data)

    def listing(self, *, tree: bool) -> dict[str, object]:
        """The JSON entry of this file in ``/tree`` (``tree=True``) or in model info ``siblings``."""
        if tree:
            entry: dict[str, object] = {
                "type": "file",
                "oid": self.blob_id,
                "size": len(self.data),
                "path": self.path,
            }
            if self.lfs:
                entry["lfs"] = {
                    "oid": self.sha256,
                    "size": len(self.data),
                    "pointerSize": len(lfs_pointer(self.data)),
                }
            return entry
        entry = {"rfilename": self.path, "size": len(self.data), "blobId": self.blob_id}
        if self.lfs:
            entry["lfs"] = {
                "sha256": self.sha256,
                "size": len(self.data),
                "pointerSize": len(lfs_pointer(self.data)),
            }
        return entry


@dataclass
class Repo:
    """A served model repo: one commit, and the refs (branches, tags) that point at it."""

    repo_id: str
    commit: str
    files: dict[str, RepoFile]
    refs: dict[str, str]

    def resolve(self, revision: str) -> str | None:
        """Return the commit a revision names, or None."""
        if revision == self.commit:
            return self.commit
        return self.refs.get(revision)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    origin: str  # "hub" or "cdn"
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    received: float = 0.0  # time.monotonic() on arrival


@dataclass
class _State:
    repos: dict[str, Repo] = field(default_factory=dict)
    corrupt: dict[str, bytes] = field(default_factory=dict)  # sha256 -> body served instead
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cdn_origin: str = ""
    cdn_delay: float = 0.0
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeHub/1.0"
    protocol_version = "HTTP/1.0"
    state: _State
    origin: str

    def log_message(self, format: str, *args: object) -> None:  # silence stderr
        return

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- plumbing -------------------------------------------------------------------------------
    def _dispatch(self, *, head: bool) -> None:
        parts = urlsplit(self.path)
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    origin=self.origin,
                    method=self.command,
                    path=unquote(parts.path),
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    received=time.monotonic(),
                )
            )
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if self.origin == "cdn":
            self._cdn(segments, head=head)
        elif segments[:2] == ["api", "models"]:
            self._api(segments[2:], parse_qs(parts.query), head=head)
        else:
            self._resolve(segments, head=head)

    def _send(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None, *, head: bool = False
    ) -> None:
        self.send_response(status)
        all_headers = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        for key, value in all_headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, *, commit: str | None = None, head: bool) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        if commit is not None:
            headers["X-Repo-Commit"] = commit
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _split_repo(self, segments: list[str], marker: str) -> tuple[Repo | None, list[str]]:
        """Find the repo id before ``marker`` (``org/name`` or a legacy ``name``)."""
        for width in (2, 1):
            if len(segments) > width and segments[width] == marker:
                repo = self.state.repos.get("/".join(segments[:width]))
                return repo, segments[width + 1 :]
        return None, []

    # -- endpoints ------------------------------------------------------------------------------
    def _api(self, segments: list[str], query: Mapping[str, list[str]], *, head: bool) -> None:
        kind, repo_id, rest = "info", "/".join(segments), ["main"]
        for width in (2, 1):
            if len(segments) > width and segments[width] in ("revision", "tree"):
                kind, repo_id, rest = segments[width], "/".join(segments[:width]), segments[width + 1 :]
                break
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found", head=head)
            return
        if not rest:
            self._send(404, b"Not found", head=head)
            return
        commit = repo.resolve(rest[0])
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rest[0]}", head=head)
            return
        blobs = query.get("blobs", [""])[0].lower() in {"1", "true"}
        if kind == "tree":
            prefix = "/".join(rest[1:])
            entries = [
                f.listing(tree=True)
                for f in sorted(repo.files.values(), key=lambda f: f.path)
                if not prefix or f.path.startswith(prefix + "/")
            ]
            body = json.dumps(entries).encode()
        else:
            info = {
                "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": commit,
                "private": False,
                "disabled": False,
                "gated": False,
                "tags": ["transformers", "safetensors", "bert"],
                "library_name": "transformers",
                "lastModified": "2024-02-19T11:06:12.000Z",
                "siblings": [
                    f.listing(tree=False) if blobs else {"rfilename": f.path}
                    for f in sorted(repo.files.values(), key=lambda f: f.path)
                ],
            }
            body = json.dumps(info).encode()
        self._send(200, body, {"Content-Type": "application/json", "X-Repo-Commit": commit}, head=head)

    def _resolve(self, segments: list[str], *, head: bool) -> None:
        repo, rest = self._split_repo(segments, "resolve")
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found", head=head)
            return
        if len(rest) < 2:
            self._send(404, b"Not found", head=head)
            return
        commit = repo.resolve(rest[0])
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rest[0]}", head=head)
            return
        filename = "/".join(rest[1:])
        entry = repo.files.get(filename)
        if entry is None:
            self._error(404, "EntryNotFound", f"{filename} does not exist", commit=commit, head=head)
            return
        common = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
        if entry.lfs:
            location = f"{self.state.cdn_origin}/lfs/{entry.sha256}?filename={quote(entry.path)}"
            headers = {
                **common,
                "Location": location,
                "ETag": f'"{entry.blob_id}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(len(entry.data)),
            }
            self._send(302, b"", headers, head=head)
            return
        headers = {**common, "ETag": f'"{entry.blob_id}"', "Content-Type": "text/plain; charset=utf-8"}
        self._send(200, entry.data, headers, head=head)

    def _cdn(self, segments: list[str], *, head: bool) -> None:
        if len(segments) != 2 or segments[0] != "lfs":
            self._send(404, b"Not found", head=head)
            return
        sha = segments[1]
        with self.state.lock:
            data = next(
                (
                    f.data
                    for r in self.state.repos.values()
                    for f in r.files.values()
                    if f.lfs and f.sha256 == sha
                ),
                None,
            )
            body = self.state.corrupt.get(sha, data)
        if body is None:
            self._send(404, b"NoSuchKey", head=head)
            return
        if not head and self.state.cdn_delay and self.state.stopping.wait(self.state.cdn_delay):
            return  # the server is stopping: drop the connection without an answer
        start = 0
        range_header = self.headers.get("Range", "")
        if range_header.startswith("bytes=") and range_header[6:].split("-")[0].isdigit():
            start = int(range_header[6:].split("-")[0])
        headers = {"ETag": f'"{sha}"', "Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            self._send(206, body[start:], headers, head=head)
        else:
            self._send(200, body, headers, head=head)


class FakeHub:
    """Serve model repos from 127.0.0.1 the way the Hugging Face Hub does, and log each request.

    Parameters
    ----------
    lfs_patterns : iterable of str
        Glob patterns of the files stored in git-lfs (served through the CDN, with sha256 ETags).

    Examples
    --------
    >>> hub = FakeHub().start()
    >>> hub.endpoint.startswith("http://127.0.0.1:")
    True
    >>> hub.stop()
    """

    def __init__(self, lfs_patterns: Iterable[str] = DEFAULT_LFS_PATTERNS) -> None:
        self.lfs_patterns = tuple(lfs_patterns)
        self._state = _State()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.endpoint = ""
        self.cdn_endpoint = ""

    @property
    def cdn_delay(self) -> float:
        """Seconds the CDN waits before sending a body (to widen race windows in tests)."""
        return self._state.cdn_delay

    @cdn_delay.setter
    def cdn_delay(self, seconds: float) -> None:
        self._state.cdn_delay = seconds

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        """Start the Hub and the CDN origins, each on a free port, in daemon threads."""
        self._state.stopping.clear()
        for origin in ("hub", "cdn"):
            handler = type(f"_{origin.title()}Handler", (_Handler,), {"state": self._state, "origin": origin})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fakehub-{origin}",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
            url = f"http://127.0.0.1:{server.server_address[1]}"
            if origin == "hub":
                self.endpoint = url
            else:
                self.cdn_endpoint = self._state.cdn_origin = url
        return self

    def stop(self) -> None:
        """Stop serving and close the listening sockets: later connections are refused."""
        self._state.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content --------------------------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes] | str | Path,
        *,
        extra_files: Mapping[str, bytes] | None = None,
        refs: Iterable[str] = ("main",),
        commit: str | None = None,
    ) -> str:
        """Serve a repo made of ``files`` (a mapping, or a folder read recursively); return its commit.

        ``refs`` (branches, tags) all point at the commit. Unless given, the commit is a sha1 of
        the file listing, so the same content always gets the same commit.
        """
        contents = dict(_read_folder(Path(files)) if isinstance(files, (str, Path)) else files)
        contents.update(extra_files or {})
        entries = {
            path: RepoFile(path, data, any(fnmatch.fnmatch(path, p) for p in self.lfs_patterns))
            for path, data in contents.items()
        }
        listing = "\n".join(f"{e.path} {e.blob_id}" for e in sorted(entries.values(), key=lambda e: e.path))
        commit = commit or hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()
        with self._state.lock:
            self._state.repos[repo_id] = Repo(repo_id, commit, entries, dict.fromkeys(refs, commit))
        return commit

    def file(self, repo_id: str, path: str) -> RepoFile:
        """Return a served file (its true content and the sha256 the Hub advertises)."""
        return self._state.repos[repo_id].files[path]

    def corrupt(self, repo_id: str, path: str, body: bytes | None = None) -> None:
        """Serve ``body`` (default: the true bytes with one byte flipped) for an LFS file.

        The Hub keeps advertising the true sha256 and size, as a bad CDN node or a
        tampering proxy would.
        """
        entry = self.file(repo_id, path)
        if not entry.lfs:
            raise ValueError(f"{path} is not an LFS file: only LFS bodies come from the CDN")
        if body is None:
            middle = len(entry.data) // 2
            body = entry.data[:middle] + bytes([entry.data[middle] ^ 0xFF]) + entry.data[middle + 1 :]
        with self._state.lock:
            self._state.corrupt[entry.sha256] = body

    def heal(self) -> None:
        """Serve true bodies again."""
        with self._state.lock:
            self._state.corrupt.clear()

    # -- request log ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in order."""
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._state.lock:
            self._state.requests.clear()

    def requests_for(self, repo_id: str) -> list[RecordedRequest]:
        """The requests about ``repo_id`` (API, resolve, and the CDN bodies of its LFS files).

        ``huggingface_hub`` also asks ``/api/agent-harnesses`` once per process (telemetry);
        that request is about no repo and is left out here.
        """
        repo = self._state.repos.get(repo_id)
        lfs = {f.sha256 for f in repo.files.values() if f.lfs} if repo is not None else set()
        return [
            r
            for r in self.requests
            if r.path.startswith((f"/{repo_id}/", f"/api/models/{repo_id}"))
            or (r.origin == "cdn" and r.path.removeprefix("/lfs/") in lfs)
        ]

    def requested_files(self, repo_id: str, *, methods: Iterable[str] = ("HEAD", "GET")) -> list[str]:
        """Sorted distinct file names asked for through ``/{repo}/resolve/`` with ``methods``."""
        prefix = f"/{repo_id}/resolve/"
        wanted = set(methods)
        names = {
            r.path[len(prefix) :].split("/", 1)[1]
            for r in self.requests
            if r.origin == "hub"
            and r.method in wanted
            and r.path.startswith(prefix)
            and "/" in r.path[len(prefix) :]
        }
        return sorted(names)

    def cdn_downloads(self) -> list[str]:
        """File names (from the redirect's ``filename`` query) whose body was fetched from the CDN."""
        return [
            r.query.get("filename", ["?"])[0]
            for r in self.requests
            if r.origin == "cdn" and r.method == "GET"
        ]


def _read_folder(folder: Path) -> Iterable[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix(), path.read_bytes()


__all__ = ["DEFAULT_LFS_PATTERNS", "FakeHub", "RecordedRequest", "RepoFile", "git_blob_sha1", "lfs_pointer"]
