"""Control characters in text that came from the user (a spec name, a value, their code's
message), escaped for every output: they can neither drive a terminal nor break a format."""

from __future__ import annotations

import re

from rich.console import Console
from rich.segment import Segment

# all C0/C1 controls but tab and newline, and the invisible characters that reorder or hide
# text (bidi overrides and isolates, zero-width spaces and joiners, the BOM)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def escape_controls(text: str) -> str:
    """ESC, NUL, CR, DEL, … as `\\x1b`, `\\x00`, `\\x0d`, `\\x7f`, and a right-to-left
    override as `\\u202e`; tab and newline kept, everything else as written."""
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


class SafeConsole(Console):
    """A rich Console whose text is escaped segment by segment, after rich has laid it out
    and before it adds its own styling codes, so its colours still work."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if not segment.control and _CONTROL.search(segment.text):
                segment = Segment(escape_controls(segment.text), segment.style, segment.control)
            yield segment
