"""Multilingual abbreviation lists shared by the sentence detector and the tokenizer.

Every entry is written without its final period and in the case it is normally
written in. Entries in lower case also match with a capital first letter (at the
start of a sentence: ``Vgl.``, ``Bzw.``); capitalised entries match only as written,
so the Turkish pronoun ``sen`` is not taken for ``Sen.`` (senator).

Three lists:

- ``NON_FINAL`` never end a sentence: titles before a name (``Dr.``, ``Mme.``),
  and words that are followed by a capitalised noun in German (``z.B.``, ``Mrd.``).
- ``BEFORE_NUMBER`` end no sentence when a digit follows (``No. 5``, ``Jan. 3``),
  but are ordinary words otherwise (``He said no.``).
- ``OTHER`` are abbreviations that may also end a sentence (``etc.``, ``usw.``):
  the tokenizer keeps their period, the sentence detector splits after them only
  when the next word starts with a capital letter.

Examples
--------
>>> is_abbreviation("Dr", NON_FINAL), is_abbreviation("dr", NON_FINAL)
(True, False)
>>> is_abbreviation("Bzw", NON_FINAL)
True
"""

from __future__ import annotations

from collections.abc import Iterable


def _entries(words: str) -> frozenset[str]:
    return frozenset(words.split())


NON_FINAL: frozenset[str] = _entries(
    """
    Mr Mrs Ms Mx Messrs Dr Drs Prof Profs Sr Sra Srta Sres Srs Jr St Ste Sta Mt Ft
    Gen Gov Sen Rep Rev Hon Pres Capt Col Lt Sgt Cmdr Adm Maj Brig Cpl Pvt Supt Insp
    Mme Mlle Mmes Mlles MM Mgr Pr Dra Dña Ud Uds Vd Vds Lic Ing Arq Dott Avv Sig Geom
    डॉ श्री Hr Fr Frl Dipl Doç Yrd Av Sn Bkz Öğr Gör
    e.g i.e cf vs viz approx ca resp
    z.B z.b d.h u.a o.ä u.ä z.T z.Zt u.U i.d.R v.a bzw vgl ggf evtl inkl exkl sog bspw
    zzgl abzgl lt Mio Mrd Tsd Nr Abs Ziff Bd Jh Jhd Str
    p.ex c.-à-d env av
    t.e т.е т.к т.н г-н г-жа им ул пер просп акад проф доц тов
    """
)

BEFORE_NUMBER: frozenset[str] = _entries(
    """
    No Nos no nos Nr nr Nº núm Núm art Art fig Fig figs vol Vol vols p pp S Bd Kap
    ch Ch sec Sec op Op tel Tel Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
    janv févr avr juil sept oct nov déc ene feb abr ago dic Jän Okt Dez
    """
)

OTHER: frozenset[str] = _entries(
    """
    etc usw u.s.w Inc Ltd Co Corp Bros Cie Esq PhD Ph.D a.m p.m
    vb bkz vd Chr v.Chr n.Chr ff Hrsg hrsg Aufl ebd
    г гг др пр тыс млн млрд руб коп см стр т.д т.п н.э
    aprox pág págs dcha izq EE.UU J.-C
    """
)

#: Words after which a number followed by a period is an ordinal (German ``am 3. Mai``).
ORDINAL_BEFORE: frozenset[str] = _entries(
    """
    am im vom zum zur bis ab seit der die das den dem des ihr ihre sein seine jeden jedes jeder
    dieses diesem dieser ins ans beim um nach vor zwischen ca
    """
)

#: Words after which a number followed by a period is an ordinal (``3. Mai``, ``21. Jahrhundert``).
ORDINAL_AFTER: frozenset[str] = _entries(
    """
    januar jänner februar märz april mai juni juli august september oktober november dezember
    jahrhundert jahrhunderts jh jahrestag lebensjahr mal platz stock klasse runde etage
    """
)


def is_abbreviation(word: str, entries: Iterable[str]) -> bool:
    """Return whether ``word`` (without its final period) is one of ``entries``.

    A lower-case entry also matches with its first letter in upper case.

    Parameters
    ----------
    word : str
        The word before a period, without the period.
    entries : Iterable[str]
        One of the lists of this module (a frozenset, for speed).

    Returns
    -------
    bool

    Examples
    --------
    >>> is_abbreviation("Etc", OTHER), is_abbreviation("ETC", OTHER)
    (True, False)
    """
    if not word:
        return False
    if word in entries:
        return True
    lowered = word[0].lower() + word[1:]
    return lowered != word and word[0].isupper() and lowered in entries


def all_abbreviations() -> list[str]:
    """Return every abbreviation (with capitalised variants), longest first.

    Examples
    --------
    >>> "z.B" in all_abbreviations() and "Vgl" in all_abbreviations()
    True
    """
    words: set[str] = set()
    for entry in NON_FINAL | BEFORE_NUMBER | OTHER:
        words.add(entry)
        if entry[0].islower():
            words.add(entry[0].upper() + entry[1:])
    return sorted(words, key=lambda w: (-len(w), w))


__all__ = [
    "BEFORE_NUMBER",
    "NON_FINAL",
    "ORDINAL_AFTER",
    "ORDINAL_BEFORE",
    "OTHER",
    "all_abbreviations",
    "is_abbreviation",
]
