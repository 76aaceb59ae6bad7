"""``sparkbert download``: fill the model cache on a machine with network, for machines without.

Examples
--------
>>> from sparkbert.cli import make_parser
>>> args = make_parser().parse_args(["download", "google-bert/bert-base-cased", "--precision", "int8"])
>>> args.run is cmd_download, args.model, args.revision, args.precision
(True, 'google-bert/bert-base-cased', None, 'int8')
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkbert.cli._console import status
from sparkbert.cli._errors import CommandError, UsageError
from sparkbert.cli.convert_info import model_facts, print_facts
from sparkbert.settings import offline, sparkbert_home


def cmd_download(args: argparse.Namespace) -> int:
    """``sparkbert download``: fetch, verify and convert a registry or Hub model into the cache.

    The model lands in ``SPARKBERT_HOME`` (or ``--cache-dir``) exactly where
    ``BertEmbeddings.pretrained``, ``sparkbert embed --model`` and the other entry points look
    for it. Copy that folder to machines without network and set ``HF_HUB_OFFLINE=1`` there:
    the same name resolves to what was downloaded (a repo id without a revision to the commit
    that ``main`` was, as huggingface_hub's refs do). Prints what ``sparkbert info`` prints.

    Examples
    --------
    >>> from sparkbert.cli import make_parser
    >>> cmd_download(make_parser().parse_args(["download", "./my-checkpoint"]))
    Traceback (most recent call last):
    ...
    sparkbert.cli.UsageError: sparkbert download takes a registry name or a Hub repo id ...
    """
    from sparkbert.model.resolve import resolve_model

    if Path(args.model).expanduser().exists() or args.model.startswith((".", "/", "~")):
        raise UsageError(
            f"sparkbert download takes a registry name or a Hub repo id 'org/name', got the path {args.model!r}; "
            f"convert a local checkpoint with 'sparkbert convert {args.model} OUT' instead."
        )
    home = Path(args.cache_dir).expanduser() if args.cache_dir else sparkbert_home()
    if offline():
        raise CommandError(
            "sparkbert download needs the network, and HF_HUB_OFFLINE or SPARKBERT_OFFLINE is set; "
            "unset it for this command (machines that only read the cache keep it set)."
        )
    directory = resolve_model(
        args.model,
        revision=args.revision,
        precision=args.precision,
        cache_dir=home,
        local_files_only=False,
    )
    print_facts(model_facts(directory), args.json)
    status(
        args,
        f"cached in {home}; copy that folder to machines without network, set SPARKBERT_HOME to the copy "
        f"(or keep the same path) and HF_HUB_OFFLINE=1 there, and use --model {args.model}",
    )
    return 0
