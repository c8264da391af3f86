"""Control characters in text that came from the user (a spec name, a value, their code's
message), escaped for every output: they can neither drive a terminal nor break a format."""

from __future__ import annotations

import re

from rich.console import Console
from rich.segment import Segment

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def escape_controls(text: str) -> str:
    """ESC, NUL, CR, DEL, … as `\\x1b`, `\\x00`, `\\x0d`, `\\x7f`; tab and newline kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


class SafeConsole(Console):
    """A rich Console whose text is escaped segment by segment, after rich has laid it out
    and before it adds its own styling codes, so its colours still work."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if not segment.control and _CONTROL.search(segment.text):
                segment = Segment(escape_controls(segment.text), segment.style, segment.control)
            yield segment
