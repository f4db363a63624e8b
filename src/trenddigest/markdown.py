"""Fenced code blocks found the way CommonMark (and so GitHub) finds them.

Three scans of Markdown skip code: the README index markers (:mod:`.deliver`), a
digest's headings for their anchors (:mod:`.render`) and a reading list's headings and
links (:mod:`.categories`).  They share this one reading of fences, so that a ``~~~``
line quoted inside a ```` ``` ```` block, or a shorter run of backticks, never ends it
in one scan and not in another.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_NESTED_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


class Fences:
    """Feed it a document's lines in order; it says which belong to a fenced block.

    A fence of N backticks (or tildes) ends only at a line of at least N of the same
    character with nothing after it but blanks; an opening run of backticks whose info
    string holds a backtick is no fence.  ``nested``: fences may be indented any amount,
    as inside the nested list items of a reading list (otherwise at most 3 spaces).
    """

    def __init__(self, *, nested: bool = False) -> None:
        self._pattern = _NESTED_FENCE if nested else _FENCE
        self._open = ""  # the open fence's run of backticks or tildes

    def inside(self, line: str) -> bool:
        """Whether ``line`` (without its line break) is in a fenced block, fences included."""
        fence = self._pattern.match(line)
        if self._open:
            closes = (
                fence is not None
                and fence[1][0] == self._open[0]
                and len(fence[1]) >= len(self._open)
                and not fence[2].strip(" \t")
            )
            if closes:
                self._open = ""
            return True
        if fence is not None and not (fence[1][0] == "`" and "`" in fence[2]):
            self._open = fence[1]
            return True
        return False
