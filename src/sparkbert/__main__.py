"""``python -m sparkbert``: the ``sparkbert`` command."""

from __future__ import annotations

import sys

from sparkbert.cli import main

if __name__ == "__main__":
    sys.exit(main())
