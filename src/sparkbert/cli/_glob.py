"""Hadoop glob patterns, matched against local files as Spark matches them.

Spark reads ``--input 'logs/2026-*/part-*.jsonl'`` through Hadoop's ``globStatus``. For a
local input ``sparkbert embed`` matches the pattern itself, before Spark starts, so that it
can check the files and then hand Spark exactly those files.

| pattern | matches |
| --- | --- |
| ``?`` | one character |
| ``*`` | any characters within one path component (a leading ``.`` too) |
| ``[abc]``, ``[a-z]``; ``[!a]`` or ``[^a]`` | one character of the set; not of it |
| ``{a,b/c}`` | either alternative (alternatives may hold ``/`` and nest) |
| ``\\c`` | the character ``c`` itself |

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> for name in ("2025-12/a.txt", "2026-01/b.txt", "2026-02/c.jsonl", "notes[1].txt"):
...     (root / name).parent.mkdir(exist_ok=True)
...     _ = (root / name).write_text("Hi.")
>>> [p.relative_to(root).as_posix() for p in match(f"{root}/2026-*/*.{{txt,jsonl}}")]
['2026-01/b.txt', '2026-02/c.jsonl']
>>> [p.name for p in match(f"{root}/notes\\\\[1\\\\].txt")], escape(str(root / "notes[1].txt")).endswith(r"notes\\[1\\].txt")
(['notes[1].txt'], True)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sparkbert.cli._errors import UsageError

#: Characters that make a path a pattern (unescaped) and that ``escape`` protects.
SPECIAL = frozenset("\\*?[]{}")
#: Alternatives one pattern may expand to, at most.
MAX_ALTERNATIVES = 1024


def has_glob(path: str) -> bool:
    """Return whether ``path`` holds an unescaped ``*``, ``?``, ``[`` or ``{``.

    Examples
    --------
    >>> has_glob("in/*.txt"), has_glob("in/a.txt"), has_glob(r"in/\\*.txt")
    (True, False, False)
    """
    escaped = False
    for c in path:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in "*?[{":
            return True
    return False


def escape(path: str) -> str:
    """Return ``path`` with Hadoop's glob characters escaped, so Spark reads it as it is named.

    Examples
    --------
    >>> escape("/data/notes[1] {draft}.txt")
    '/data/notes\\\\[1\\\\] \\\\{draft\\\\}.txt'
    """
    return "".join("\\" + c if c in SPECIAL else c for c in path)


def _closing(pattern: str, start: int) -> tuple[int, list[str]]:
    """Return the index of the ``}`` closing the ``{`` at ``start``, and its top-level alternatives."""
    depth, escaped, begin = 0, False, start + 1
    alternatives: list[str] = []
    for i in range(start + 1, len(pattern)):
        c = pattern[i]
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "{":
            depth += 1
        elif c == "}" and depth:
            depth -= 1
        elif c == "}":
            return i, [*alternatives, pattern[begin:i]]
        elif c == "," and not depth:
            alternatives.append(pattern[begin:i])
            begin = i + 1
    raise UsageError(f"The input pattern {pattern} has a '{{' without its '}}'.")


def expand_braces(pattern: str) -> list[str]:
    """Return the patterns ``pattern`` stands for, each ``{a,b}`` expanded (nested ones too).

    Examples
    --------
    >>> expand_braces("in/{2025/12,2026/0{1,2}}/*.txt")
    ['in/2025/12/*.txt', 'in/2026/01/*.txt', 'in/2026/02/*.txt']
    """
    done: list[str] = []
    todo = [pattern]
    while todo:
        current = todo.pop(0)
        escaped, start = False, -1
        for i, c in enumerate(current):
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == "{":
                start = i
                break
        if start < 0:
            done.append(current)
            continue
        end, alternatives = _closing(current, start)
        todo[:0] = [current[:start] + alt + current[end + 1 :] for alt in alternatives]
        if len(done) + len(todo) > MAX_ALTERNATIVES:
            raise UsageError(
                f"The input pattern {pattern} stands for more than {MAX_ALTERNATIVES:,} patterns."
            )
    return done


def _component(part: str, pattern: str) -> re.Pattern[str] | str:
    """The regular expression of one path component, or its literal name when it has no wildcard."""
    out: list[str] = []
    literal, wild = [], False
    i = 0
    while i < len(part):
        c = part[i]
        if c == "\\":
            i += 1
            if i == len(part):
                raise UsageError(f"The input pattern {pattern} ends a component with a lone '\\'.")
            out.append(re.escape(part[i]))
            literal.append(part[i])
        elif c == "[":
            end = part.find("]", i + 2 if part[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                raise UsageError(f"The input pattern {pattern} has a '[' without its ']'.")
            body = part[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append(
                "[" + ("^" if negate else "") + "".join(c if c == "-" else re.escape(c) for c in body) + "]"
            )
            wild, i = True, end
        elif c in "*?":
            out.append(".*" if c == "*" else ".")
            wild = True
        else:
            out.append(re.escape(c))
            literal.append(c)
        i += 1
    if not wild:
        return "".join(literal)
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as err:
        raise UsageError(f"The input pattern {pattern} is not a valid pattern: {err}.") from None


def match(pattern: str) -> list[Path]:
    """Return the local files and folders ``pattern`` matches, as absolute paths, sorted.

    A relative pattern is matched from the current folder, as Spark does.

    Examples
    --------
    >>> match("/no/such/folder/*.txt")
    []
    """
    found: set[Path] = set()
    for alternative in expand_braces(pattern):
        current = [Path("/") if alternative.startswith("/") else Path.cwd()]
        for part in (p for p in alternative.split("/") if p):
            step = _component(part, pattern)
            following: list[Path] = []
            for base in current:
                if isinstance(step, str):
                    if (base / step).exists():
                        following.append(base / step)
                    continue
                try:
                    with os.scandir(base) as entries:
                        following += [base / e.name for e in entries if step.fullmatch(e.name)]
                except OSError:  # not a folder, or not readable: matches nothing, as in Hadoop
                    continue
            current = following
        found.update(current)
    return sorted(found)


__all__ = ["MAX_ALTERNATIVES", "SPECIAL", "escape", "expand_braces", "has_glob", "match"]
