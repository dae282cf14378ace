"""Peer text made safe for a terminal (issue 6: "peer text is untrusted").

Everything a peer chooses (message text, pseudonyms, room names and topics) may
hold terminal escape sequences, C0/C1 control characters, bidi overrides or
Textual/Rich markup. The engine's envelopes already refuse most of these
(:mod:`hearth_core.room_state`), but the terminal client does not rely on a peer
running an honest client: it strips again here, and renders what is left as a
:class:`rich.text.Text` built from plain strings, never parsed as markup.

- C0 controls (U+0000..U+001F) except newline, DEL (U+007F), and C1 controls
  (U+0080..U+009F) are removed; ESC (U+001B) is among them, so no CSI/OSC
  sequence survives. A tab becomes a space.
- Bidi embedding, override and isolate controls (U+202A..U+202E, U+2066..U+2069)
  and the line/paragraph separators (U+2028, U+2029) are removed, so a name
  cannot reorder the rest of its line.
- ``one_line`` also turns newlines into spaces (pseudonyms, room names, plain mode).
"""

from __future__ import annotations

import re

from rich.text import Text

_STRIP = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
#: Longest peer text shown (characters); the engine's frame limits are far above a screen.
MAX_SHOWN = 8000


def clean(text: str) -> str:
    """``text`` with every control character a terminal would act on removed (module doc)."""
    text = text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = _STRIP.sub("", text)
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + "…"
    return text


def one_line(text: str) -> str:
    """:func:`clean`, on one line."""
    return " ".join(clean(text).split("\n"))


def plain_text(text: str, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``text`` literally: cleaned, never parsed as markup."""
    return Text(clean(text), style=style)


__all__ = ["MAX_SHOWN", "clean", "one_line", "plain_text"]
