"""Calls in a YAML flow list re-joined (SPEC §3.2): `layers: [Dense(2, 3), tanh()]` unquoted is
read by YAML as "Dense(2", 3) and "tanh()" — it splits at every comma, inside parentheses too.
The pieces of one call are joined again (with the note that says so), so that a list of calls
means what its writer saw."""

from __future__ import annotations

from typing import Any

KEYS = ("layers", "model", "loss", "step")  # the implementation: keys that hold lists of calls


def _depth(text: str) -> int:
    """How many brackets `text` leaves open (outside quotes)."""
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
    return depth


def rejoin(items: list[Any]) -> list[Any] | None:
    """The list with each call split at its commas joined again; None where nothing was split
    (or the pieces do not close: then the list is left as it was, for validation to judge)."""
    out: list[Any] = []
    open_text: str | None = None
    joined = False
    for item in items:
        if open_text is not None:
            if isinstance(item, dict | list):  # `f(a, {b: 1})`: YAML took a mapping: not ours
                return None
            piece = _scalar(item)
            open_text = f"{open_text}, {piece}"
            joined = True
            if _depth(open_text) <= 0:
                out.append(open_text)
                open_text = None
            continue
        if isinstance(item, str) and _depth(item) > 0:
            open_text = item
            continue
        out.append(item)
    if open_text is not None or not joined:
        return None
    return out


def _scalar(value: Any) -> str:
    """A piece YAML read as another type, as it was written (`3)` stays a string; `3` an int)."""
    if value is True or value is False:
        return "True" if value else "False"
    if value is None:
        return "None"
    return str(value)


def rejoin_spec(data: Any) -> list[str]:
    """Re-join the calls of `implementation:`'s lists in place; the notes that say so."""
    impl = data.get("implementation") if isinstance(data, dict) else None
    if not isinstance(impl, dict):
        return []
    notes = []
    for key in KEYS:
        items = impl.get(key)
        if not isinstance(items, list):
            continue
        joined = rejoin(items)
        if joined is not None:
            impl[key] = joined
            notes.append(
                f"implementation.{key}: YAML split your unquoted calls at their commas; nnfix "
                f"joined them again ({len(items)} pieces → {len(joined)} calls). Quote each call "
                "to say so yourself"
            )
    return notes
