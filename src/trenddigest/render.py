"""Turning a ranked month into Markdown (jinja2) or JSON, and writing it safely.

Rendering is pure: the same digest data gives byte-identical text (no timestamps, a
fixed order everywhere).  Writing goes through temp files and atomic renames so that
a crash never leaves a half-written digest where the last good one was, and a digest
and its twins (JSON, chart) are replaced together or not at all, except that a process
killed between the renames (microseconds) leaves the new digest beside the old twin
until the next run rewrites both.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import os
import posixpath
import re
import secrets
import string
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import InputError, TrendDigestError
from .markdown import Fences
from .models import Month, Paper, papers_of

log = logging.getLogger(__name__)

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
# A "#" run ending the text after a space is an ATX heading's closing sequence: GitHub
# drops it from a category's "## Name #" heading.
_MD_TRAILING_HASHES = re.compile(r"(^|\s)(#+)$")
# Web addresses GitHub turns into links in running text (the author line, a category's
# heading): escaping the "." of "www." or the ":" of "http://" keeps the text as it is.
_MD_AUTOLINK = re.compile(r"(?i)(https?|ftp)://|(www)\.")
_WS = re.compile(r"\s+")
# C0/C1 control characters: no text, and an ESC or CSI in a digest printed with
# --dry-run would drive the reader's terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _flat(text: str) -> str:
    """``text`` on one line: control characters and runs of whitespace become one space."""
    return _WS.sub(" ", _CONTROL.sub(" ", text)).strip()


def md_escape(text: str) -> str:
    """Make arbitrary title/author text inert in Markdown.

    arXiv titles carry LaTeX ($\\alpha$), brackets, underscores and the odd ``<think>``
    or ``#hashtag``; unescaped they turn into links, emphasis, math, HTML or headings
    and can break the page.  Whitespace (including newlines that would end a list
    item) is collapsed, and a leading list marker ("- ", "1. ") is escaped too, since
    the text may open a line, and so is a trailing " #" (a heading's closing sequence)
    and the "www." or "http://" that GitHub would turn into a link.  Every escape is a
    CommonMark backslash escape, so the rendered page shows the text exactly as written
    (an e-mail address is still linked: no escape stops GitHub's email autolinks).
    """
    flat = _MD_SPECIAL.sub(r"\\\1", _flat(text))
    flat = _MD_AUTOLINK.sub(lambda m: f"{m[1]}\\://" if m[1] else f"{m[2]}\\.", flat)
    flat = _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", flat)
    return _MD_TRAILING_HASHES.sub(r"\1\\\2", flat)


def code_span(text: str) -> str:
    """``text`` as an inline code span that nothing in it can end or spread out of.

    Backslash escapes do not work inside code spans, so a backtick (which would close
    the span and let the rest be read as links or images), a control character or a
    line break is dropped instead; the digest's code spans hold arXiv categories,
    where none of these belongs.
    """
    inner = _flat(text.replace("`", " "))
    return f"`{inner}`" if inner else ""


def link_destination(target: str) -> str:
    """``target`` (a file name or a ``cid:`` URL) percent-encoded for a Markdown link.

    A space or an unbalanced parenthesis ends a CommonMark link destination, so
    ``![chart](my trends (v2).png)`` would show as text instead of the image.
    """
    return quote(target, safe="/:@-._~")


def short_authors(authors: list[str], limit: int = 3) -> str:
    """ "A, B, C et al." past ``limit`` authors, as the seed lists cite papers."""
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + " et al."


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading, so the overview table can link to sections.

    This is the first such heading's; a repeat is numbered (see :class:`HeadingSlugger`).
    """
    slug = "".join(c for c in heading.strip().lower() if c in "- " or _in_word(c))
    return slug.replace(" ", "-")


def _in_word(char: str) -> bool:
    """Whether GitHub keeps ``char`` in an anchor: Ruby's ``\\p{Word}`` (letters,
    letter numbers, marks, decimal digits, connectors).  Python's ``\\w`` differs: it
    drops the marks (the vowel signs of Devanagari or Thai, a decomposed accent) and
    keeps "²", so such a heading's link missed it."""
    category = unicodedata.category(char)
    return category[0] in "LM" or category in ("Nd", "Nl", "Pc")


class HeadingSlugger:
    """GitHub's anchors for a page's headings, given in page order.

    A category named "Overview", or two names that differ only in punctuation, give a
    heading whose plain anchor an earlier heading already took; GitHub then appends
    ``-1``, ``-2`` (as github-slugger does), and a link made from the name alone would
    jump to the wrong section.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, heading: str) -> str:
        base = slug = github_anchor(heading)
        while slug in self._seen:
            self._seen[base] += 1
            slug = f"{base}-{self._seen[base]}"
        self._seen[slug] = 0
        return slug


def heading_slugs(headings: Iterable[str]) -> list[str]:
    """The anchors of ``headings`` on one page, in order (repeats numbered)."""
    slugger = HeadingSlugger()
    return [slugger(heading) for heading in headings]


# The ``anchor`` filter leaves a mark (the name in hex, so nothing in a name can end
# it) that :func:`resolve_anchors` replaces once the whole page, with every heading
# before the category's, is known.
_ANCHOR_MARK = re.compile("\ue000([0-9a-f]*)\ue001")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HEADING_LINK = re.compile(r"(?<!\\)\[([^\]]*)\]\([^)]*\)")
_HEADING_MARKUP = re.compile(r"\\(.)|[*_`]")


def _anchor_mark(name: str) -> str:
    return f"\ue000{name.encode('utf-8').hex()}\ue001"


def _heading_text(markdown_heading: str) -> str:
    """A heading's text as GitHub shows it: links reduced to their text, emphasis and
    code marks dropped, backslash escapes undone (what ``md`` escaped reads as itself)."""
    text = _HEADING_LINK.sub(r"\1", markdown_heading)
    return _HEADING_MARKUP.sub(lambda m: m[1] or "", text).strip()


def page_headings(markdown_text: str) -> list[str]:
    """The text of every ATX heading outside code fences, in page order."""
    headings, fences = [], Fences()
    for line in markdown_text.splitlines():
        if not fences.inside(line) and (match := _HEADING.match(line)):
            headings.append(_heading_text(match[1] or ""))
    return headings


def resolve_anchors(markdown_text: str) -> str:
    """Replace the ``anchor`` filter's marks with the anchor GitHub gives the name's
    heading: the last heading reading as the name (the category sections come after
    the digest's fixed headings and the trends section's).  A name with no heading of
    its own keeps its plain anchor."""
    if "\ue000" not in markdown_text:
        return markdown_text
    headings = page_headings(markdown_text)
    anchors = dict(zip(headings, heading_slugs(headings), strict=True))  # the last wins

    def anchor(match: re.Match[str]) -> str:
        name = bytes.fromhex(match[1]).decode("utf-8")
        shown = _flat(name)
        return anchors.get(shown, github_anchor(name))

    return _ANCHOR_MARK.sub(anchor, markdown_text)


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 paper``, ``2 papers``, ``1,234 papers``: a count whose noun agrees with it.

    Any count on a page can be 1 (a small month, a narrow category), and "1 papers"
    reads like a bug.  ``plural`` for nouns that do not just take an "s".
    """
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


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
    # What the reader must know about the month's completeness (announce days no poll read).
    notes: list[str] = field(default_factory=list)

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
        loader=_loader_class()(list(search)),
        autoescape=False,  # Markdown, escaped explicitly with the md filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_escape
    env.filters["code"] = code_span
    env.filters["authors"] = short_authors
    env.filters["anchor"] = _anchor_mark
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["counted"] = counted
    env.filters["url"] = link_destination
    env.globals["papers_of"] = papers_of
    if setup is not None:
        setup(env)
    return env


def render_markdown(digest: Digest, templates_dir: str | Path | None = None) -> str:
    with template_errors(templates_dir):
        template = template_environment(templates_dir).get_template(TEMPLATE_NAME)
        return resolve_anchors(template.render(d=digest))


class _BrokenTemplateFile(Exception):
    """A user template file that cannot be read, decoded or compiled (no line to name)."""

    def __init__(self, filename: str, cause: Exception) -> None:
        super().__init__(filename, cause)
        self.filename = filename
        self.cause = cause


@functools.cache
def _loader_class() -> type[jinja2.FileSystemLoader]:
    """The template loader: jinja's own, except that a user file it cannot load is
    reported as that file's fault (:class:`_BrokenTemplateFile`).

    Reading a file that is not UTF-8, or compiling one nested too deeply for jinja's
    parser, fails in jinja's code with no template frame to blame; only the loader
    knows which file it was.  Built on first use so that importing this module does
    not import jinja2.
    """
    import jinja2
    from jinja2.loaders import split_template_path

    class UserFileLoader(jinja2.FileSystemLoader):
        # ``load`` is meant to be left alone by loaders that other loaders wrap
        # (they call ``get_source``); this one is always the environment's own loader.
        def load(
            self,
            environment: jinja2.Environment,
            name: str,
            globals: MutableMapping[str, Any] | None = None,
        ) -> jinja2.Template:
            try:
                return super().load(environment, name, globals)
            except jinja2.TemplateError:  # syntax errors name their file and line
                raise
            except Exception as exc:
                filename = self._source_file(name)
                if filename is None or _is_packaged(filename):
                    raise
                raise _BrokenTemplateFile(filename, exc) from exc

        def _source_file(self, name: str) -> str | None:
            """The file ``get_source`` reads for ``name`` (the first on the search path)."""
            try:
                pieces = split_template_path(name)
            except jinja2.TemplateNotFound:
                return None
            for base in self.searchpath:
                candidate = posixpath.join(base, *pieces)
                if os.path.isfile(candidate):
                    return os.path.normpath(candidate)
            return None

    return UserFileLoader


@contextlib.contextmanager
def template_errors(templates_dir: str | Path | None = None) -> Iterator[None]:
    """Turn a broken user template into an :class:`InputError` naming its file and line.

    A template in ``templates_dir`` (or ./templates/) is the user's own code: a syntax
    error, an undefined name, a division by zero, endless self-inclusion, a file that
    is not UTF-8 text, any exception raised while one of its lines runs is theirs to
    fix, not a trenddigest bug.  Wrap every compile and render (a ``get_template``,
    ``render`` or macro call) in this.  An exception whose every template frame is in
    the packaged templates is ours and is re-raised as it is; so are trenddigest's own
    errors (already one clear line each) and KeyboardInterrupt and SystemExit.
    """
    import jinja2

    try:
        yield
    except TrendDigestError:
        raise
    except _BrokenTemplateFile as exc:
        raise InputError(
            f"template {_shown_path(exc.filename)} {_file_problem(exc.cause)}; "
            f"fix the template or {_fix(templates_dir, exc.filename)} to use the packaged one"
        ) from exc.cause
    except Exception as exc:
        location = _user_template_location(exc)
        if location is None:
            raise
        filename, line = location
        if isinstance(exc, jinja2.TemplateError):
            message = _first_line(exc.message) or type(exc).__name__
        elif isinstance(exc, RecursionError):
            message = "it includes or calls itself without end (RecursionError)"
        else:
            text = _first_line(str(exc))
            message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        raise InputError(
            f"template {_shown_path(filename)} line {line}: {message}; "
            f"fix the template or {_fix(templates_dir, filename)} to use the packaged one"
        ) from exc


def _file_problem(cause: Exception) -> str:
    """What is wrong with a template file as a whole (after "template FILE")."""
    if isinstance(cause, UnicodeDecodeError):
        return f"is not UTF-8 text: {cause}"
    if isinstance(cause, OSError):
        return f"cannot be read: {cause.strerror or cause}"
    if isinstance(cause, RecursionError):
        return "nests too deeply to be compiled (RecursionError)"
    text = _first_line(str(cause))
    return f"cannot be compiled: {type(cause).__name__}" + (f": {text}" if text else "")


def _fix(templates_dir: str | Path | None, filename: str) -> str:
    """How to fall back to the packaged template: the setting, or the folder it came from."""
    if templates_dir:
        return "remove [digest] templates_dir"
    return f"move {_shown_path(filename)} away"


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _is_packaged(filename: str) -> bool:
    return _resolved(filename).is_relative_to(_packaged_templates())


@functools.cache
def _packaged_templates() -> Path:
    return Path(str(files("trenddigest.templates"))).resolve()


@functools.lru_cache(maxsize=256)
def _resolved(filename: str) -> Path:
    return Path(filename).resolve()


def _user_template_location(exc: BaseException) -> tuple[str, int] | None:
    """The innermost place in a user template (file, line) that ``exc`` came from.

    A syntax error carries it; a runtime error is found in the traceback, in frames of
    compiled template code (``__jinja_template__``) or in the frames jinja substitutes
    for them once it has rewritten the traceback (``__jinja_exception__``).
    """
    import jinja2

    found: list[tuple[str, int]] = []
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        found.append((exc.filename, exc.lineno))
    else:
        tb = exc.__traceback__
        while tb is not None:
            frame_globals = tb.tb_frame.f_globals
            template = frame_globals.get("__jinja_template__")
            if template is not None and template.filename:
                found.append((template.filename, template.get_corresponding_lineno(tb.tb_lineno)))
            elif "__jinja_exception__" in frame_globals:
                found.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
    # Innermost first; an endless recursion leaves a thousand frames of one file.
    return next(((f, n) for f, n in reversed(found) if not _is_packaged(f)), None)


def _shown_path(filename: str | Path) -> str:
    """A path as the user would type it: relative below the working folder, else as is."""
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    return str(path)


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
        **({"notes": list(digest.notes)} if digest.notes else {}),
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


OUTPUT_FIELDS = ("year", "month")
_SEPARATORS = "".join(sorted({os.sep, os.altsep or os.sep}))


def check_output_pattern(pattern: str) -> set[str]:
    """Refuse an output pattern (``--output``, ``[digest] output``) that cannot be used;
    return the fields it has (a subset of :data:`OUTPUT_FIELDS`).

    The pattern goes through :meth:`str.format`, so any field but a plain ``{year}``
    or ``{month}`` (``{foo}``, ``{}``, ``{year.real}``) or a lone brace would end in a
    KeyError deep in a run; and a pattern ending in a folder would write the digest
    as a file named like the folder.  Config validation can call it to refuse a bad
    pattern when the config is loaded.
    """
    try:
        fields = list(string.Formatter().parse(pattern))
    except ValueError:
        raise InputError(
            f"output pattern {pattern!r} has a stray brace: write {{{{ or }}}} for a "
            "literal { or }, and use only {year} and {month} as fields"
        ) from None
    for _text, name, spec, conversion in fields:
        if name is None or (name in OUTPUT_FIELDS and not spec and not conversion):
            continue
        shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        raise InputError(
            f"output pattern {pattern!r} has an unknown field {{{shown}}}: "
            "use only {year} and {month}"
        )
    if _names_folder(pattern):
        raise InputError(
            f"output pattern {pattern!r} names a folder; give a file name such as "
            f"{_file_in(pattern, 'digest.md')}"
        )
    # The JSON twin is the digest's name with its extension replaced by .json: without
    # a fixed extension of its own ("{year}.{month}") twins of every month would share
    # one name, and a digest named .json would be overwritten by its twin.
    suffix = PurePath(pattern).suffix
    if not suffix or "{" in suffix or "}" in suffix:
        raise InputError(
            f"output pattern {pattern!r} needs a file extension after its fields, such as "
            ".md (the JSON twin takes the same name with .json)"
        )
    if suffix.lower() == ".json":
        raise InputError(
            f"output pattern {pattern!r} ends in .json, the name of the digest's JSON twin; "
            "end it in .md (--format json writes the twin only)"
        )
    return {name for _text, name, _spec, _conversion in fields if name is not None}


def output_path(pattern: str, month: Month, fmt: str = "markdown") -> Path:
    """Where ``month``'s digest (``fmt`` markdown) or its JSON twin goes.

    Refuses a pattern that :func:`check_output_pattern` refuses, and a path that is an
    existing folder, before anything is written.
    """
    check_output_pattern(pattern)
    path = Path(pattern.format(year=f"{month.year:04d}", month=f"{month.month:02d}"))
    if fmt == "json":
        path = path.with_suffix(".json")
    if path.is_dir():
        if fmt == "json":
            raise InputError(
                f"cannot write the JSON twin {path} of the {month} digest: it is a folder; "
                "rename or remove it, or choose another output pattern"
            )
        raise InputError(
            f"output pattern {pattern!r} names the folder {path} for {month}; rename or "
            "remove that folder, or choose another output pattern"
        )
    return path


def check_output_file(text: str | Path, example: str) -> Path:
    """A file name given on the command line (``trends --output``), as a :class:`Path`.

    Pass the text as typed: a :class:`Path` has already dropped a trailing separator,
    the only sign that ``newdir/`` was meant as a folder.  ``example`` is the file
    name the message suggests inside it.  Refuses, one line each, a folder, a name
    without an extension, and one ending in .png or .json (in any case).
    """
    raw = str(text)
    if _names_folder(raw) or Path(raw).is_dir():
        raise InputError(
            f"--output {raw} names a folder; give a file name such as {_file_in(raw, example)}"
        )
    # As for a digest's output pattern: the chart is written beside the report under
    # its name with the extension replaced by .png, so the report needs an extension
    # of its own and not .png in any case (x.PNG and x.png are one file on a
    # case-insensitive filesystem); .json would hold Markdown under a JSON name.
    path = Path(raw)
    suffix = path.suffix.lower()
    if not suffix:
        raise InputError(
            f"--output {raw} needs a file extension, such as {raw}.md "
            "(the PNG chart takes the same name with .png)"
        )
    if suffix == ".png":
        raise InputError(
            f"--output {raw} is where the report's PNG chart goes; give the report a .md name"
        )
    if suffix == ".json":
        raise InputError(
            f"--output {raw} ends in .json, but the report is Markdown; give it a .md name "
            f"such as {path.with_suffix('.md')}"
        )
    return path


def _names_folder(text: str) -> bool:
    """Whether a path's text ends in a separator, ``.`` or ``..`` (or is empty)."""
    return re.split(f"[{re.escape(_SEPARATORS)}]", text)[-1] in {"", ".", ".."}


def _file_in(folder: str, name: str) -> str:
    """``name`` inside ``folder``, spelt the way the user spelt the folder."""
    if not folder or folder.endswith(tuple(_SEPARATORS)):
        return folder + name
    return f"{folder}{os.sep}{name}"


def _refuse_folder(target: Path) -> None:
    if target.is_dir():
        raise InputError(
            f"cannot write {target}: it is a folder; rename or remove it, "
            "or choose another file name"
        )


def check_writable(paths: Sequence[Path]) -> None:
    """Raise the :class:`InputError` :func:`write_files_atomic` would, where it can be
    known before anything is written: a target that is a folder, a file where a folder
    of its path should be, a folder that cannot be written.  A run checks its outputs
    first, so that a typo in ``--output`` does not cost a whole fetch or import."""
    fix = "check the path and that its folder can be written"
    for path in paths:
        target = _through_links(Path(path))
        _refuse_folder(target)
        existing = next((f for f in target.parents if os.path.lexists(f)), None)
        if existing is None:
            continue
        if existing.is_symlink() and not existing.exists():
            raise InputError(
                f"cannot write {target}: {existing} is a link to {os.readlink(existing)}, "
                f"which does not exist; {fix}"
            )
        if not existing.is_dir():
            raise InputError(f"cannot write {target}: {existing} is a file, not a folder; {fix}")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(f"cannot write {target}: {existing} cannot be written; {fix}")


def user_templates_in_use(templates_dir: str | Path | None = None) -> bool:
    """Whether the user's own templates (``templates_dir``, or ./templates/) come before
    the packaged ones."""
    return len(template_search_path(templates_dir)) > 1


def check_template(templates_dir: str | Path | None = None) -> None:
    """Compile the digest's template, raising the :class:`InputError` rendering would
    for a syntax error: a run checks the user's own before it fetches or imports.
    (The trends part's template: :func:`trenddigest.trends.check_template`.)"""
    with template_errors(templates_dir):
        template_environment(templates_dir).get_template(TEMPLATE_NAME)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename.

    A folder that cannot be made or written (a typo in ``--output``, a read-only
    mount) is the user's to fix: :class:`InputError`, and any earlier file stays.
    """
    write_files_atomic({path: text})


def write_files_atomic(contents: Mapping[Path, str | bytes]) -> None:
    """Write several files (a digest, its JSON twin, a chart) all or not at all.

    Every target is checked first (none may be a folder), then every file is written
    to a temp file beside its target, and only when all of them are on disk are they
    renamed over their targets.  A rename can still be refused (a file in use or
    made immutable), after earlier ones were done; so each existing target is first
    kept reachable under a backup name (a hard link, or a copy where links are not
    supported), and on a refused rename the replaced targets are put back from their
    backups and the new ones removed.  On any failure the temp files (and folders made
    for them) are removed and every earlier file stays as it was.  Text is written
    as UTF-8 with the newlines given.

    A target that is a symlink (a README kept in ``docs/``, a digest linked into a
    shared folder) is written through: the file it points to is replaced and the
    link stays, as an editor would do, instead of the link becoming a plain file.

    A new file gets the mode any program would give it (0666 less the umask: the temp
    file is created with that mode, so the kernel applies the umask); a replaced file
    keeps its own mode.  Temp files a killed earlier write left beside a target are
    removed once the target is written (a temp file another process is still
    writing is locked by it, and left alone).
    """
    data = {
        _through_links(Path(path)): body if isinstance(body, bytes) else body.encode("utf-8")
        for path, body in contents.items()
    }
    for path in data:
        _refuse_folder(path)
    made: list[Path] = []
    temps: dict[Path, tuple[Path, int]] = {}
    backups: dict[Path, tuple[Path, int]] = {}
    renamed: list[Path] = []
    done = False
    target = next(iter(data), Path())
    try:
        for target, body in data.items():
            made += _make_folders(target.parent)
            temps[target] = _write_temp(target, body)
        for target in data:
            kept_aside = _backup(target)
            if kept_aside is not None:
                backups[target] = kept_aside
        for target, (temp, _fd) in temps.items():
            os.replace(temp, target)
            renamed.append(target)
        done = True
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fix = "check the path and that its folder can be written"
        blocker = next((f for f in target.parents if f.exists() and not f.is_dir()), None)
        if isinstance(exc, (FileExistsError, NotADirectoryError)) and blocker is not None:
            reason = f"{blocker} is a file, not a folder"
        elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "free some space on its disk and run again"
        raise InputError(f"cannot write {target}: {reason}; {fix}") from exc
    finally:
        kept = set() if done else _put_back(renamed, backups)
        for original, (backup, fd) in backups.items():
            os.close(fd)  # also releases the backup's lock
            if original not in kept:
                with contextlib.suppress(OSError):
                    backup.unlink(missing_ok=True)
        for temp, fd in temps.values():
            os.close(fd)  # also releases the temp file's lock
            if not done:
                temp.unlink(missing_ok=True)
        if not done:
            for folder in reversed(made):  # innermost first; only if still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
    for folder in {target.parent for target in data}:
        _sync_folder(folder)
    for target in data:
        _remove_stale_temps(target)


def _through_links(path: Path) -> Path:
    """The file a symlink ``path`` points to (through every link), else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, outermost first."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _write_temp(path: Path, body: bytes) -> tuple[Path, int]:
    """``body`` in a new temp file beside ``path``, flushed to disk, with the final mode.

    Returns the temp file and its descriptor, which holds an exclusive ``flock`` until
    the caller closes it (after the rename): that lock tells a concurrent writer's
    clean-up (:func:`_remove_stale_temps`) that this temp file is not stale.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        temp = _temp_name(path)
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
            if path.exists():  # a replaced file keeps its mode
                os.fchmod(fd, path.stat().st_mode & 0o7777)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        return temp, fd
    raise FileExistsError(f"no free temp file name beside {path}")


def _temp_name(path: Path) -> Path:
    """A free-looking temp file name beside ``path`` (see :func:`_remove_stale_temps`)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _backup(path: Path) -> tuple[Path, int] | None:
    """Keep the file at ``path`` reachable under a temp name beside it, so that it can
    be put back if a later rename of the same write is refused; ``None`` if there is
    no file at ``path``.

    A hard link costs nothing; where links are not supported (FAT, some network and
    FUSE mounts, a file of another user) the file is copied, with its mode.  Returns
    the backup and a descriptor holding a lock on it until the caller closes it: the
    backup has a temp file's name (so one a killed write left behind is cleaned up
    like a temp file), and the lock tells a concurrent writer's clean-up that it is
    not stale.
    """
    for _attempt in range(100):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        keep = False
        try:
            # Shared: another writer may be backing up the same file at the same time.
            fcntl.flock(fd, fcntl.LOCK_SH)
            backup = _temp_name(path)
            try:
                os.link(path, backup)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                return backup, _copy_aside(fd, backup)
            held, linked = os.fstat(fd), os.stat(backup)
            if (held.st_ino, held.st_dev) == (linked.st_ino, linked.st_dev):
                keep = True
                return backup, fd
            # Another writer replaced the file between the open and the link: the file
            # linked is not the one locked.  Start again with the new file.
            backup.unlink()
        finally:
            if not keep:
                os.close(fd)
    raise FileExistsError(f"no free temp file name beside {path}")


# What os.link says on a file system without hard links, or for a file it may not link.
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
)


def _copy_aside(source_fd: int, backup: Path) -> int:
    """Copy the open file ``source_fd`` to the new file ``backup``, with its mode;
    returns a descriptor of the copy holding a lock on it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(backup, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.lseek(source_fd, 0, os.SEEK_SET)
        while chunk := os.read(source_fd, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, os.fstat(source_fd).st_mode & 0o7777)
    except BaseException:
        os.close(fd)
        backup.unlink(missing_ok=True)
        raise
    return fd


def _put_back(renamed: list[Path], backups: dict[Path, tuple[Path, int]]) -> set[Path]:
    """Undo the renames of a failed write: each replaced target from its backup, each
    new one removed.  Returns the targets whose backup could not be put back: those
    backups are kept (and named in a warning) rather than lose the earlier file."""
    kept: set[Path] = set()
    for target in reversed(renamed):
        try:
            if target in backups:
                os.replace(backups[target][0], target)
            else:
                target.unlink(missing_ok=True)
        except OSError as exc:
            if target in backups:
                kept.add(target)
                log.warning(
                    "could not put back %s after a failed write (%s); its earlier content is in %s",
                    target,
                    exc.strerror or exc,
                    backups[target][0],
                )
            else:
                log.warning("could not remove %s after a failed write: %s", target, exc)
    return kept


def _sync_folder(folder: Path) -> None:
    """Make the renames into ``folder`` durable (best effort: not every system can)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# Temp files are ".<name>.<8 hex digits>.tmp" (see _write_temp).  One younger than
# this may have been created a moment ago by a writer about to lock it.
_TEMP_SUFFIX = re.compile(r"[0-9a-f]{8}\.tmp")
_STALE_TEMP_SECONDS = 60.0


def _remove_stale_temps(path: Path) -> None:
    """Remove the temp files of ``path`` that a killed write (``kill -9``, a power cut)
    left behind: unlocked, so no process is writing them, and not brand new."""
    prefix = f".{path.name}."
    try:
        names = [
            name
            for name in os.listdir(path.parent)
            if name.startswith(prefix) and _TEMP_SUFFIX.fullmatch(name[len(prefix) :])
        ]
    except OSError:
        return
    now = time.time()
    for name in names:
        stale = path.parent / name
        with contextlib.suppress(OSError):
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
            try:
                if now - os.fstat(fd).st_mtime < _STALE_TEMP_SECONDS:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while being written
                stale.unlink()
                log.info("removed %s, left by an interrupted write", stale)
            finally:
                os.close(fd)
