"""The words of case search: Vietnamese text folded so that "dau nguc" finds "Đau ngực".

Folding happens here, in Python, for the indexed text and for the query alike, so that
SQLite (FTS5) and PostgreSQL (tsvector) receive the same plain words and answer alike:
neither backend's own treatment of diacritics or punctuation is relied upon.
"""

from __future__ import annotations

import re
import unicodedata

# Đ/đ is a letter of its own in Unicode (no decomposition to D + a mark).
_LETTERS = str.maketrans({"đ": "d", "Đ": "d"})
# A word: letters and digits; everything else (spaces, punctuation, "_" and "-") separates.
_WORD = re.compile(r"[^\W_]+")
# A query longer than this says something other than a search.
MAX_QUERY_WORDS = 10


def fold(text: str) -> str:
    """Lowercase, without diacritics: NFD, combining marks removed, đ → d."""
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", plain).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


def document(patient_code: str, title: str, summary: str) -> str:
    """What the index holds for a case: its searchable words, separated by spaces."""
    return " ".join(words(f"{patient_code} {title} {summary}"))
