"""The rule catalog: one module per family of rules (D, Y, A, G, M, T, U), each holding its
rules' documentation, thresholds and checks together, registered once in FAMILIES below.
`nnfix rules`, `nnfix explain` and the pipeline all read what is built here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from nnfix.diagnose.rules import (
    data,
    derivatives,
    gradients,
    init,
    magnitudes,
    training,
    usercode,
)
from nnfix.diagnose.rules.rule import STAGES, Check, Rule

FAMILIES = (data, init, derivatives, gradients, magnitudes, training, usercode)

_ORDER = [family.FAMILY[0] for family in FAMILIES]
RULES: dict[str, Rule] = dict(
    sorted(
        ((r.code, r) for family in FAMILIES for r in vars(family).values() if isinstance(r, Rule)),
        key=lambda item: (_ORDER.index(item[0][0]), item[0]),
    )
)
CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (c for family in FAMILIES for c in vars(family).values() if isinstance(c, Check)),
        key=lambda c: STAGES.index(c.stage),
    )
)
CATEGORIES: Mapping[str, str] = MappingProxyType(dict(family.FAMILY for family in FAMILIES))
_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES.values()}


def find(key: str) -> Rule | None:
    """A rule by code (any case) or by name."""
    key = key.strip()
    return RULES.get(key.upper()) or _BY_NAME.get(key.lower())


def matching(selector: str) -> list[Rule]:
    """The rules a selector names — a code, a code prefix (G, T1) or a rule name — in table
    order; [] when it names none."""
    rule = find(selector)
    if rule is not None:
        return [rule]
    prefix = selector.strip().upper()
    if not prefix or len(prefix) >= 4 or prefix[0] not in CATEGORIES:
        return []
    return [rule for rule in RULES.values() if rule.code.startswith(prefix)]


def unknown(selector: str) -> str | None:
    """Why `selector` names no rule (with a 'did you mean' where one is close), or None."""
    if matching(selector):
        return None
    from nnfix.errors import did_you_mean

    names = [*RULES, *(r.name for r in RULES.values())]
    hint = did_you_mean(selector, names)
    return f"unknown rule or prefix {selector!r}" + (f" ({hint})" if hint else "")
