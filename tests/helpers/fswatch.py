"""Which files any process opens, reads or writes in some folders: Linux inotify through ctypes.

inotify reports every open, read, write, create and delete of the files in a watched folder
(and opening the folder itself, to list it), whatever process does it: the test itself, the
Spark JVM and its Python workers, ONNX Runtime's native code. ``stat``, ``lstat``,
``readlink`` and ``realpath`` are not reported (they neither open nor change a file), so
checking a path does not count as touching it. Pages read through an existing ``mmap`` are
not reported either, but the ``open`` that any mapping needs first is.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> with FolderWatch(folder) as watch:
...     _ = (folder / "x").write_text("hi")
...     _ = (folder / "x").read_text()
>>> sorted({name for _, name, _ in watch.events()})
['x']
>>> [sorted(flags) for _, _, flags in watch.events()][:2]
[['IN_CREATE'], ['IN_OPEN']]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from pathlib import Path
from types import TracebackType

_FLAGS = {
    0x001: "IN_ACCESS",
    0x002: "IN_MODIFY",
    0x004: "IN_ATTRIB",
    0x008: "IN_CLOSE_WRITE",
    0x010: "IN_CLOSE_NOWRITE",
    0x020: "IN_OPEN",
    0x040: "IN_MOVED_FROM",
    0x080: "IN_MOVED_TO",
    0x100: "IN_CREATE",
    0x200: "IN_DELETE",
    0x40000000: "IN_ISDIR",
}
_WATCHED = 0x3FF  # every event above but IN_ISDIR, for the folder's entries and the folder
_NONBLOCK, _CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class FolderWatch:
    """Record every event in ``folders`` (not their subfolders) between ``with`` and :meth:`events`.

    Examples
    --------
    >>> FolderWatch.__name__
    'FolderWatch'
    """

    def __init__(self, *folders: Path) -> None:
        self.folders = [Path(f) for f in folders]
        self._fd = -1
        self._wd: dict[int, Path] = {}
        self._seen: list[tuple[Path, str, frozenset[str]]] = []

    def __enter__(self) -> FolderWatch:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = libc.inotify_init1(_NONBLOCK | _CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        for folder in self.folders:
            wd = libc.inotify_add_watch(self._fd, os.fsencode(folder), _WATCHED)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch failed for {folder}")
            self._wd[wd] = folder
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._drain()
        os.close(self._fd)
        self._fd = -1

    def _drain(self) -> None:
        if self._fd < 0:
            return
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    return
                raise
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = data[offset : offset + size].rstrip(b"\0").decode(errors="replace")
                offset += size
                flags = frozenset(label for bit, label in _FLAGS.items() if mask & bit)
                if wd in self._wd and flags:
                    self._seen.append((self._wd[wd], name, flags))

    def events(self) -> list[tuple[Path, str, frozenset[str]]]:
        """Return ``(folder, entry name or "" for the folder, flags)`` for every event so far.

        Examples
        --------
        >>> FolderWatch().events()
        []
        """
        self._drain()
        return list(self._seen)
