"""Small pieces of English for messages, so that none reads "after 1 cases" or "is a int"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SPELLED_WITH_A_VOWEL = {"ndarray", "MLP", "RNN", "LSTM", "xarray"}  # an ndarray, an MLP


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 case``, ``2 cases``, ``1,201 cases`` (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def article(word: str) -> str:
    """``an int``, ``a float``, ``an ndarray``, ``a list``."""
    vowel = word[:1].lower() in "aeio" or word in SPELLED_WITH_A_VOWEL
    return f"{'an' if vowel else 'a'} {word}"


def a_type(value: Any) -> str:
    """What a value is, as a person says it: ``an int``, ``a str``, ``None``."""
    return "None" if value is None else article(type(value).__name__)


def tuple_text(items: Iterable[Any]) -> str:
    """A tuple as Python writes one, numbers in their short form: ``(0,)``, ``(-3, 3)``."""
    parts = [f"{x:g}" if isinstance(x, float) else str(x) for x in items]
    return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
