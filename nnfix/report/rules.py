"""The rule catalog for a person: `nnfix rules` (a table) and `nnfix explain` (one rule)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.padding import Padding
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from nnfix.diagnose import rules
from nnfix.report.diagnose_rich import STYLE


def render_table(console: Console) -> None:
    table = Table(box=None, padding=(0, 2))
    for name in ("code", "name", "severity"):
        table.add_column(name, no_wrap=True)
    table.add_column("summary")
    for rule in rules.RULES.values():
        table.add_row(
            rule.code,
            rule.name,
            Text(rule.severity.value, style=STYLE[rule.severity.value]),
            rule.summary,
        )
    console.print(table)


def render_rule(rule: rules.Rule, console: Console) -> None:
    title = Text()
    title.append(f"{rule.code} {rule.name}", style="bold")
    title.append(f"  [{rule.severity.value}]", style=STYLE[rule.severity.value])
    console.print(title)
    console.print(Text(rule.summary, style="italic"))
    sections = [
        ("What it detects", rule.detects),
        ("Why it breaks training", rule.why),
        ("How to fix it", rule.fix),
    ]
    if rule.thresholds:
        sections.append(("Thresholds", rule.thresholds))
    for heading, body in sections:
        console.print()
        console.print(Text(heading, style="bold underline"))
        console.print(Padding(Text(body), (0, 0, 0, 2)))
    for heading, yaml_text in (("Before", rule.before), ("After", rule.after)):
        console.print()
        console.print(Text(heading, style="bold underline"))
        console.print(
            Padding(
                Group(
                    Syntax(
                        yaml_text.rstrip(), "yaml", theme="ansi_dark", background_color="default"
                    )
                ),
                (0, 0, 0, 2),
            )
        )
