"""Turning a ranked month into Markdown (jinja2) or JSON, and writing it safely.

Rendering is pure: the same digest data gives byte-identical text (no timestamps, a
fixed order everywhere).  Writing goes through a temp file and an atomic rename so
that a crash never leaves a half-written digest where the last good one was.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .models import Month, Paper

# Types only: writing a saved digest (an unchanged month) needs neither the ranker
# (numpy) nor jinja2, which are imported when a digest is really rendered.
if TYPE_CHECKING:
    import jinja2

    from .rank import RankedPaper, Ranking

TEMPLATE_NAME = "digest.md.j2"

# Characters that Markdown (CommonMark + GitHub) would interpret inside running text:
# emphasis, code, links, HTML, table cells, strike-through, math; "&" only where it
# would start an entity ("&amp;" must stay five characters, "R&D" needs nothing).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~$]|&(?=#?[A-Za-z0-9]+;))")
# What starts a block when it opens a line (headings, list items, setext underlines):
# the author line of a digest entry begins with the escaped text.
_MD_LINE_START = re.compile(r"^(?:([-+=#])|(\d{1,9})([.)])(?=\s|$))")
_WS = re.compile(r"\s+")


def md_escape(text: str) -> str:
    """Make arbitrary title/author text inert in Markdown.

    arXiv titles carry LaTeX ($\\alpha$), brackets, underscores and the odd ``<think>``
    or ``#hashtag``; unescaped they turn into links, emphasis, math, HTML or headings
    and can break the page.  Whitespace (including newlines that would end a list
    item) is collapsed, and a leading list marker ("- ", "1. ") is escaped too, since
    the text may open a line.  Every escape is a CommonMark backslash escape, so the
    rendered page shows the text exactly as written.
    """
    flat = _MD_SPECIAL.sub(r"\\\1", _WS.sub(" ", text).strip())
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", flat)


def short_authors(authors: list[str], limit: int = 3) -> str:
    """ "A, B, C et al." past ``limit`` authors, as the seed lists cite papers."""
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + " et al."


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading, so the overview table can link to sections."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


@dataclass
class Digest:
    """Everything a digest page shows; the template and the JSON read only this."""

    month: Month
    considered: int
    unmatched: int
    by: str
    arxiv_categories: list[str]
    sections: list[tuple[str, str, int, list[RankedPaper]]]  # name, description, total, top
    top_picks: list[RankedPaper] = field(default_factory=list)
    trends_markdown: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return self.considered - self.unmatched


def build_digest(
    month: Month,
    ranking: Ranking,
    descriptions: dict[str, str],
    *,
    top: int,
    by: str,
    arxiv_categories: list[str],
    top_picks: list[RankedPaper] | None = None,
    trends_markdown: str = "",
) -> Digest:
    sections = [
        (name, descriptions.get(name, ""), len(ranked), ranked[:top])
        for name, ranked in ranking.by_category.items()
    ]
    return Digest(
        month=month,
        considered=ranking.considered,
        unmatched=ranking.unmatched,
        by=by,
        arxiv_categories=list(arxiv_categories),
        sections=sections,
        top_picks=list(top_picks or []),
        trends_markdown=trends_markdown,
    )


def template_search_path(templates_dir: str | Path | None = None) -> tuple[str, ...]:
    """User templates (config ``templates_dir``, else ./templates/) shadow the packaged ones."""
    search: list[str] = []
    if templates_dir:
        search.append(str(Path(templates_dir).resolve()))
    elif Path("templates", TEMPLATE_NAME).is_file():
        search.append(str(Path("templates").resolve()))
    search.append(str(files("trenddigest.templates")))
    return tuple(search)


def template_environment(
    templates_dir: str | Path | None = None,
    setup: Callable[[jinja2.Environment], None] | None = None,
) -> jinja2.Environment:
    """The template environment, one per search path, ``setup`` (extra filters) and
    process: compiling the templates is a large part of a small month's run, and a
    process that renders several months (the scheduler catching up) need do it once.
    Jinja re-reads a template whose file changed, so an edit is still seen."""
    return _environment(template_search_path(templates_dir), setup)


@functools.lru_cache(maxsize=8)
def _environment(
    search: tuple[str, ...], setup: Callable[[jinja2.Environment], None] | None
) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search)),
        autoescape=False,  # Markdown, escaped explicitly with the md filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_escape
    env.filters["authors"] = short_authors
    env.filters["anchor"] = github_anchor
    env.filters["thousands"] = lambda n: f"{n:,}"
    if setup is not None:
        setup(env)
    return env


def render_markdown(digest: Digest, templates_dir: str | Path | None = None) -> str:
    template = template_environment(templates_dir).get_template(TEMPLATE_NAME)
    return template.render(d=digest)


def _paper_json(rp: RankedPaper) -> dict[str, Any]:
    p: Paper = rp.paper
    return {
        "id": p.id,
        "title": _WS.sub(" ", p.title).strip(),
        "authors": p.authors,
        "primary_category": p.primary_category,
        "category": rp.category,
        "score": rp.score,
        "why": rp.why,
        "abs_url": p.abs_url,
        "pdf_url": p.pdf_url,
    }


def digest_to_json(digest: Digest) -> dict[str, Any]:
    return {
        "month": str(digest.month),
        "by": digest.by,
        "considered": digest.considered,
        "matched": digest.matched,
        "unmatched": digest.unmatched,
        "top_picks": [_paper_json(rp) for rp in digest.top_picks],
        "categories": [
            {
                "name": name,
                "count": total,
                "papers": [_paper_json(rp) for rp in ranked],
            }
            for name, _desc, total, ranked in digest.sections
        ],
        **digest.extra,
    }


def render_json(digest: Digest) -> str:
    return json.dumps(digest_to_json(digest), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def output_path(pattern: str, month: Month, fmt: str = "markdown") -> Path:
    path = Path(pattern.format(year=f"{month.year:04d}", month=f"{month.month:02d}"))
    return path.with_suffix(".json") if fmt == "json" else path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename.

    A folder that cannot be made or written (a typo in ``--output``, a read-only
    mount) is the user's to fix: :class:`InputError`, and any earlier file stays.
    """
    try:
        _write_atomic(path, text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
            reason = f"{exc.filename} is a file, not a folder"
        raise InputError(
            f"cannot write {path}: {reason}; check the path and that its folder can be written"
        ) from exc


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
            # mkstemp makes the file 0600; keep a replaced file's mode, else the usual 0644.
            os.fchmod(fh.fileno(), path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
