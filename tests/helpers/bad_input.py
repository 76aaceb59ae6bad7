"""The strange strings that must never lose a row: shared by the pipeline and CLI matrices.

Examples
--------
>>> cases = bad_texts()
>>> cases["null"] is None and cases["empty"] == ""
True
>>> len(cases["20k_tokens_no_punctuation"].split())
20000
"""

from __future__ import annotations

from tests.conftest import UD_LANGS, load_ud


def every_ud_script() -> str:
    """The first UD sentence of each of the 12 languages in the test data, space-separated.

    Examples
    --------
    >>> "東京" in every_ud_script() or len(every_ud_script()) > 500
    True
    """
    return " ".join(str(load_ud(lang)[0]["text"]) for lang in UD_LANGS)


def bad_texts(*, one_mb: bool = True) -> dict[str, str | None]:
    """Name → text for every kind of bad input (``one_mb=False`` leaves out the 1 MB document).

    Examples
    --------
    >>> "one_mb_document" in bad_texts(one_mb=False)
    False
    """
    ud = every_ud_script()
    cases: dict[str, str | None] = {
        "null": None,
        "empty": "",
        "blank": " \t\r\n\u3000\u00a0",
        "one_mb_document": (ud + " ") * (1_000_000 // (len(ud) + 1) + 1),
        "20k_tokens_no_punctuation": " ".join(f"wort{i % 97}" for i in range(20_000)),
        "nul_and_controls": "a\x00b \x01\x02\x07 c\x1b[31m red\x7f d\x85e",
        "bidi_and_zero_width": "\u202eabc\u202c \u200bzero\u200dwidth\ufeff \u2066iso\u2069 \u200f",
        "emoji": "👨‍👩‍👧‍👦 👍🏽 🇩🇪🇫🇷 1️⃣ 🏳️‍🌈 ❤️‍🔥",
        "combining_stacks": "Z̤̈ͅa̐l̸g̵o̴ ̷t̶e̵x̴t̸ " + "e" + "\u0301" * 50,
        "crlf": "line one\r\nline two\r\n\r\nline three\r",
        "every_ud_script": ud,
        "only_unk_chars": "\ue000\ue001 \U000f0000 \u2603\ufe0f",
        "special_token_lookalikes": "[CLS] [SEP] [MASK] [PAD] [UNK] [CLS][SEP]",
        "astral_plane": "𝒜𝒷𝒸 𠀀𠀁 🀄 𓀀",
        "lone_surrogate_free": "text \ufffd replacement",
    }
    if not one_mb:
        del cases["one_mb_document"]
    return cases
