"""A number of things, in the form its language gives that number."""

from __future__ import annotations


def counted(n: int, forms: str) -> str:
    """``n`` things in the form the language gives that number: ``forms`` are one|many
    ("{n} chunk|{n} chunks"), or one|two|three to ten|the rest (Arabic)."""
    choices = forms.split("|")
    if len(choices) == 2:
        form = choices[0] if n == 1 else choices[1]
    else:
        form = choices[0 if n == 1 else 1 if n == 2 else 2 if 3 <= n % 100 <= 10 else 3]
    return form.format(n=n)
