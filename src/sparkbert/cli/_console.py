"""What the command prints besides its result: status lines and library logging, on stderr.

Examples
--------
>>> import argparse
>>> status(argparse.Namespace(quiet=True), "model loaded")  # -q: nothing is printed
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

#: The command's name, the prefix of every line it writes to stderr.
PROG = "sparkbert"


def status(args: argparse.Namespace, message: str) -> None:
    """Print ``sparkbert: MESSAGE`` on stderr, unless ``--quiet`` was given.

    Examples
    --------
    >>> import argparse
    >>> status(argparse.Namespace(quiet=False), "embedding in.txt (txt)")  # on stderr
    """
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def configure_logging(verbose: bool, quiet: bool) -> None:
    """Send the ``sparkbert`` logger to stderr: INFO with ``--verbose``, ERROR with ``--quiet``.

    Examples
    --------
    >>> import logging
    >>> log = logging.getLogger("sparkbert")
    >>> before = (log.handlers[:], log.propagate, log.level)
    >>> configure_logging(verbose=True, quiet=False)
    >>> logging.getLevelName(log.level), log.propagate
    ('INFO', False)
    >>> log.handlers[:], log.propagate, log.level = before  # as it was
    """
    log = logging.getLogger("sparkbert")
    if not any(getattr(h, "_sparkbert_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        handler._sparkbert_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    if quiet:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
