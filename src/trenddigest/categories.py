"""Curated categories: the topics a digest ranks papers against.

A category file is TOML with one ``[[category]]`` table per topic (name, description,
weighted keywords, excluded and required terms, exemplar papers).  Users edit these files by hand,
so loading is strict: every mistake becomes one :class:`~trenddigest.errors.ConfigError`
line that names the file, the category and the key, and says how to fix it.  A typo
that silently dropped a keyword list would only show up as a worse digest weeks later.

:func:`import_markdown` bootstraps such a file from a Markdown reading list like the
project's seed lists, and :func:`category_to_toml` writes one category back out (also
used to propose new categories from emerging topics).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import ConfigError, InputError
from .markdown import Fences
from .models import split_id
from .tfidf import english_stop_words

log = logging.getLogger(__name__)

CATEGORIES_FILENAME = "categories.toml"
_DEFAULTS_PACKAGE = "trenddigest.defaults"
# Where a project keeps its own copy; it wins over the packaged default when present.
LOCAL_CATEGORIES_PATH = Path("config") / CATEGORIES_FILENAME

_TOP_KEYS = ("category",)
_CATEGORY_KEYS = ("name", "description", "keywords", "exclude", "require", "papers", "threshold")
_KEYWORD_KEYS = ("term", "weight")
_PAPER_KEYS = ("id", "title")
# Weights are relative (0.5 weak, 2.0 strong); far above this a single occurrence already
# scores 1.0, and a weight near the float limit overflows the scores to nan.
MAX_KEYWORD_WEIGHT = 100.0
# The ranker reads ASCII letters and digits as words (see rank._words): a term with
# none of them can never match.
_MATCHABLE = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class Keyword:
    """A term the ranker looks for; the weight lets a distinctive phrase count more."""

    term: str
    weight: float = 1.0


@dataclass(frozen=True)
class Exemplar:
    """A paper that defines the category by example (id stored without version)."""

    id: str
    title: str


@dataclass
class Category:
    """One curated topic of the digest."""

    name: str
    description: str
    keywords: list[Keyword]
    exclude: list[str] = field(default_factory=list)
    papers: list[Exemplar] = field(default_factory=list)
    threshold: float | None = None
    # A topic that is the meeting of two ("medical" x "registration"): its keywords say
    # the one, and a paper must also hold one of these terms, which say the other.
    require: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- locating


def default_categories_path() -> Path:
    """The categories file shipped inside the package.

    The ``config/`` folder of the source tree is installed as ``trenddigest.defaults``,
    so the default is the same file whether the package runs from a checkout or a wheel.
    """
    return Path(str(files(_DEFAULTS_PACKAGE) / CATEGORIES_FILENAME))


def find_categories_file(path: Path | None = None, cwd: Path | None = None) -> Path:
    """The categories file that applies: explicit path, else ``./config``, else the default.

    A project folder with its own ``config/categories.toml`` gets it without a flag,
    which is what a cron job started in that folder expects.  Anything at that path
    counts, even a link whose target is gone or a folder: loading it then says what is
    wrong, where falling back would make digests of the packaged categories unasked.
    """
    if path is not None:
        return Path(path)
    local = (cwd or Path.cwd()) / LOCAL_CATEGORIES_PATH
    if os.path.lexists(local):
        return local
    return default_categories_path()


# --------------------------------------------------------------------------- loading


def load_categories(path: Path | None = None) -> list[Category]:
    """Read and validate a categories file (``None``: the packaged default)."""
    source = Path(path) if path is not None else default_categories_path()
    try:
        # utf-8-sig: an editor's invisible byte order mark is no syntax error at 1:1.
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: categories file not found; check the path, "
            f"or omit it to use the packaged default"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read categories file ({exc.strerror or exc}); "
            f"check the path and its permissions"
        ) from None
    # The path as given: ./config/categories.toml and the packaged file share a name.
    categories = loads_categories(text, str(source) if path is not None else source.name)
    log.debug("loaded %d categories from %s", len(categories), source)
    return categories


def loads_categories(text: str, source: str = "<string>") -> list[Category]:
    """Parse categories from TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(
            f"{source}: TOML syntax error: {detail}; fix the syntax at that position"
        ) from None
    return _parse_document(data, source, _category_header_lines(text))


# A line that opens a category table: [[category]], [[ "category" ]], a trailing comment.
_CATEGORY_HEADER = re.compile(
    r"""^[ \t]*\[\[[ \t]*(?:category|"category"|'category')[ \t]*\]\][ \t]*(?:#.*)?$"""
)


def _category_header_lines(text: str) -> list[int]:
    """The 1-based line of each ``[[category]]`` header, in order.

    tomllib reports no positions for valid TOML, and a category with no usable name
    would otherwise be known only by its number: "category 117" of a 3,000-line file
    has to be counted out by hand.  A header-like line inside a multi-line string would
    be counted too; :func:`_parse_document` only trusts the lines when there is exactly
    one per table.
    """
    return [n for n, line in enumerate(text.splitlines(), start=1) if _CATEGORY_HEADER.match(line)]


def _parse_document(
    data: dict[str, Any], source: str, header_lines: list[int] | None = None
) -> list[Category]:
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{source}: {_unknown_key(key, _TOP_KEYS)}")
    tables = data.get("category")
    if tables is None:
        raise ConfigError(f"{source}: no categories; add at least one [[category]] table")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(
            f"{source}: 'category' must be an array of tables; "
            f"start each category with [[category]] (double brackets)"
        )
    if not tables:
        raise ConfigError(f"{source}: no categories; add at least one [[category]] table")

    lines = header_lines if header_lines and len(header_lines) == len(tables) else None
    categories: list[Category] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables, start=1):
        try:
            category = _parse_category(table, f"{source}: category {index}")
        except ConfigError as exc:
            name = table.get("name")
            if lines is None or (isinstance(name, str) and name.strip()):
                raise  # a named category is found by its name
            raise ConfigError(
                f"{exc} (category {index} begins at line {lines[index - 1]})"
            ) from None
        folded = category.name.casefold()
        if folded in seen:
            raise ConfigError(
                f"{source}: category {index} ({_quote(category.name)}): duplicate name, "
                f"already used by category {seen[folded]}; give each category a unique name"
            )
        seen[folded] = index
        categories.append(category)
    return categories


def _parse_category(table: dict[str, Any], where: str) -> Category:
    name = table.get("name")
    if isinstance(name, str) and name.strip():
        where = f"{where} ({_quote(name.strip())})"
    for key in table:
        if key not in _CATEGORY_KEYS:
            raise ConfigError(f"{where}: {_unknown_key(key, _CATEGORY_KEYS)}")

    name = _required_text(table, "name", where, 'name = "Object Detection"')
    if not re.search(r"[^\W_]", name):  # letters and digits of any script
        # The section's anchor is made of its letters and digits: "🧪" would give "#".
        raise ConfigError(
            f"{where}: 'name' has no letter or digit, so the Overview cannot link to its "
            "section; add a word naming the topic"
        )
    description = _required_text(
        table, "description", where, 'description = "A paragraph describing the topic."'
    )
    keywords = _parse_keywords(table, where)
    exclude = _parse_terms(table, "exclude", where)
    _check_exclude_keeps_keywords(keywords, exclude, where)
    require = _parse_terms(table, "require", where)
    _check_require_not_excluded(require, exclude, where)
    papers = _parse_papers(table, where)
    threshold = _parse_threshold(table, where)
    return Category(name, description, keywords, exclude, papers, threshold, require)


def _required_text(table: dict[str, Any], key: str, where: str, example: str) -> str:
    if key not in table:
        raise ConfigError(f"{where}: missing required key '{key}'; add {example}")
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string, got {_type_name(value)}")
    if not value.strip():
        raise ConfigError(f"{where}: '{key}' is empty; add {example}")
    return " ".join(value.split())


def _parse_keywords(table: dict[str, Any], where: str) -> list[Keyword]:
    example = 'keywords = ["object detection", { term = "bounding box", weight = 2.0 }]'
    if "keywords" not in table:
        raise ConfigError(f"{where}: missing required key 'keywords'; add {example}")
    items = table["keywords"]
    if not isinstance(items, list):
        raise ConfigError(f"{where}: 'keywords' must be an array, got {_type_name(items)}")
    if not items:
        raise ConfigError(f"{where}: 'keywords' is empty; list at least one term, e.g. {example}")

    keywords: list[Keyword] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        at = f"{where}: keywords[{position}]"
        if isinstance(item, str):
            term, weight = item, 1.0
        elif isinstance(item, dict):
            for key in item:
                if key not in _KEYWORD_KEYS:
                    raise ConfigError(f"{at}: {_unknown_key(key, _KEYWORD_KEYS)}")
            if "term" not in item:
                raise ConfigError(f"{at}: missing required key 'term'; write {{ term = \"...\" }}")
            term = item["term"]
            if not isinstance(term, str):
                raise ConfigError(f"{at}: 'term' must be a string, got {_type_name(term)}")
            # The term, not only its position, for a list of fifty keywords.
            at = f"{at} ({term!r})"
            weight = item.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ConfigError(
                    f"{at}: 'weight' must be a positive number, got {_type_name(weight)}"
                )
            problem = weight_problem(weight)
            if problem:
                raise ConfigError(
                    f"{at}: {problem}; use e.g. 0.5 for a weak term or 2.0 for a strong one"
                )
        else:
            raise ConfigError(
                f'{at}: must be a string or a table {{ term = "...", weight = 2.0 }}, '
                f"got {_type_name(item)}"
            )
        term = " ".join(term.split())
        if not term:
            raise ConfigError(f"{at}: empty term; remove it or write the phrase to match")
        _check_matchable(term, at)
        _check_not_a_common_word(term, "match", at)
        if term.casefold() in seen:
            raise ConfigError(f"{at}: duplicate keyword {_quote(term)}; list each term once")
        seen.add(term.casefold())
        keywords.append(Keyword(term, float(weight)))
    return keywords


def weight_problem(weight: float) -> str | None:
    """Why a keyword weight cannot be used, or None; shared with the ranker, which
    also gets categories built in code that never went through this loader."""
    if not math.isfinite(weight) or weight <= 0:
        return f"'weight' must be a positive number, got {weight}"
    if weight > MAX_KEYWORD_WEIGHT:
        return f"'weight' must be at most {MAX_KEYWORD_WEIGHT:g}, got {weight}"
    return None


def _check_matchable(term: str, at: str) -> None:
    """Refuse a term the ranker can never find, rather than ignore it silently: a
    category keyed only on "知识蒸馏" would stay empty month after month."""
    if not _MATCHABLE.search(term):
        raise ConfigError(
            f"{at}: {_quote(term)} has no ASCII letter or digit, so it can never match "
            "(papers are ranked on their English title and abstract); write the term in "
            "English, or remove it"
        )


def _ascii_words(term: str) -> list[str]:
    """A term's words as the ranker reads them (ASCII letters and digits, lowercased)."""
    return re.findall(r"[a-z0-9]+", term.lower())


def _singular(word: str) -> str:
    """How the ranker reads an exclude word: as written, a plural as its singular."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def _forms(word: str) -> set[str]:
    """The exclude words that veto a text ``word``: itself, its singular and the word it
    is the plural of ("patches" is vetoed by "patch" and "patches")."""
    forms = {word, _singular(word)}
    if word.endswith("s"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
        if word.endswith("ies") and len(word) > 4:
            forms.add(word[:-3] + "y")
    return forms


def _vetoes(exclude_term: str, term: str) -> bool:
    """Whether ``term`` holds the exclude term's words in a row, as the ranker would find
    them in any paper that says ``term``."""
    veto = [_singular(w) for w in _ascii_words(exclude_term)]
    words = [_forms(w) for w in _ascii_words(term)]
    return any(
        all(v in forms for v, forms in zip(veto, words[i : i + len(veto)], strict=True))
        for i in range(len(words) - len(veto) + 1)
    )


def _check_exclude_keeps_keywords(keywords: list[Keyword], exclude: list[str], where: str) -> None:
    """Refuse an exclude term made of words a keyword holds in a row: every paper with
    that keyword contains it, so the keyword could only ever veto its own matches."""
    for position, term in enumerate(exclude, start=1):
        for keyword in keywords:
            if _vetoes(term, keyword.term):
                raise ConfigError(
                    f"{where}: exclude[{position}]: {_quote(term)} is part of keyword "
                    f"{_quote(keyword.term)}, so every paper with that keyword is vetoed; "
                    "remove one of them"
                )


def _check_require_not_excluded(require: list[str], exclude: list[str], where: str) -> None:
    """Refuse a required term that an exclude term vetoes wherever it occurs: the same
    term, or one holding an excluded term's words in a row ("CT scan" when "CT" is
    excluded).  The veto wins, so the term could never admit a paper: a slip."""
    vetoed = {tuple(_singular(w) for w in _ascii_words(term)): term for term in exclude}
    for position, term in enumerate(require, start=1):
        same = vetoed.get(tuple(_singular(w) for w in _ascii_words(term)))
        if same is not None:
            raise ConfigError(
                f"{where}: require[{position}]: {_quote(term)} is also excluded "
                f"({_quote(same)}); remove it from one of the two lists"
            )
        for veto_term in exclude:
            if _vetoes(veto_term, term):
                raise ConfigError(
                    f"{where}: require[{position}]: {_quote(term)} holds the excluded term "
                    f"{_quote(veto_term)}, so every paper it admits is vetoed; remove one of them"
                )


def _parse_terms(table: dict[str, Any], key: str, where: str) -> list[str]:
    """``exclude`` or ``require``: a list of terms, matched as written or in the plural."""
    items = table.get(key, [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: '{key}' must be an array, got {_type_name(items)}")
    terms: list[str] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise ConfigError(
                f"{where}: {key}[{position}] must be a string, got {_type_name(item)}"
            )
        term = " ".join(item.split())
        if not term:
            raise ConfigError(f"{where}: {key}[{position}] is empty; remove it")
        at = f"{where}: {key}[{position}]"
        _check_matchable(term, at)
        _check_not_a_common_word(term, "admit" if key == "require" else "veto", at)
        if term.casefold() in seen:
            raise ConfigError(f"{at}: duplicate term {_quote(term)}; list each term once")
        seen.add(term.casefold())
        terms.append(term)
    return terms


def _check_not_a_common_word(term: str, effect: str, at: str) -> None:
    """Refuse an abbreviation in capitals that is a common English word: terms match in
    any case, so "US" (ultrasound) is the "us" of "allows us", found in a few percent of
    abstracts ("IT" and "OR" in over a quarter), and a category would take or veto
    nearly every paper.  Written in lower case ("fire", "system") a common word is meant
    as that word, and is left to the curator."""
    words = _ascii_words(term)
    stop = english_stop_words()  # the ranker's list (cached after the first call)
    if words and term.isupper() and all(w in stop for w in words):
        raise ConfigError(
            f"{at}: {_quote(term)} reads as the common word{'s' if len(words) > 1 else ''} "
            f"{_quote(' '.join(words))} (terms match in any case), so it would {effect} "
            'papers that merely use it; spell the term out (e.g. "ultrasound" for "US") '
            "or remove it"
        )


def _parse_papers(table: dict[str, Any], where: str) -> list[Exemplar]:
    items = table.get("papers", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: 'papers' must be an array, got {_type_name(items)}")
    papers: list[Exemplar] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        at = f"{where}: papers[{position}]"
        if not isinstance(item, dict):
            raise ConfigError(
                f'{at}: must be a table {{ id = "1503.02531", title = "..." }}, '
                f"got {_type_name(item)}"
            )
        for key in item:
            if key not in _PAPER_KEYS:
                raise ConfigError(f"{at}: {_unknown_key(key, _PAPER_KEYS)}")
        for key in _PAPER_KEYS:
            if key not in item:
                raise ConfigError(f"{at}: missing required key '{key}'")
            if not isinstance(item[key], str):
                raise ConfigError(f"{at}: '{key}' must be a string, got {_type_name(item[key])}")
        try:
            arxiv_id, _version = split_id(item["id"])
        except ValueError:
            raise ConfigError(
                f"{at}: {_quote(item['id'])} is not an arXiv id; "
                f'write it like "1503.02531" or "math/0601001"'
            ) from None
        title = " ".join(item["title"].split())
        if not title:
            raise ConfigError(f"{at}: 'title' is empty; give the paper's title")
        if arxiv_id in seen:
            raise ConfigError(f"{at}: paper {arxiv_id} is listed twice; remove one")
        seen.add(arxiv_id)
        papers.append(Exemplar(arxiv_id, title))
    return papers


def _parse_threshold(table: dict[str, Any], where: str) -> float | None:
    if "threshold" not in table:
        return None
    value = table["threshold"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{where}: 'threshold' must be a number between 0 and 1, got {_type_name(value)}"
        )
    if not 0 <= value <= 1:
        raise ConfigError(
            f"{where}: 'threshold' must be between 0 and 1 (a similarity score), got {value}"
        )
    return float(value)


def _unknown_key(key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key '{key}' (did you mean '{close[0]}'?)"
    return f"unknown key '{key}' (allowed keys: {', '.join(allowed)})"


def _type_name(value: object) -> str:
    """TOML's name for a value's type, since that is what the user wrote."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- writing


def _toml_string(text: str) -> str:
    """A TOML basic string; escapes what TOML forbids raw (quotes, backslash, controls)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_float(value: float) -> str:
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def category_to_toml(cat: Category) -> str:
    """One ``[[category]]`` block that :func:`loads_categories` reads back unchanged.

    Written by hand (no TOML writer dependency); plain strings for weight-1 keywords
    keep the file easy to edit.
    """
    lines = [
        "[[category]]",
        f"name = {_toml_string(cat.name)}",
        f"description = {_toml_string(cat.description)}",
        "keywords = [",
    ]
    for keyword in cat.keywords:
        if keyword.weight == 1.0:
            lines.append(f"    {_toml_string(keyword.term)},")
        else:
            lines.append(
                f"    {{ term = {_toml_string(keyword.term)}, "
                f"weight = {_toml_float(keyword.weight)} }},"
            )
    lines.append("]")
    if cat.exclude:
        lines.append("exclude = [" + ", ".join(_toml_string(t) for t in cat.exclude) + "]")
    if cat.require:
        lines.append("require = [" + ", ".join(_toml_string(t) for t in cat.require) + "]")
    if cat.papers:
        lines.append("papers = [")
        for paper in cat.papers:
            lines.append(
                f"    {{ id = {_toml_string(paper.id)}, title = {_toml_string(paper.title)} }},"
            )
        lines.append("]")
    if cat.threshold is not None:
        lines.append(f"threshold = {_toml_float(cat.threshold)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- importing

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_].*?)(?:\*\*|__)\s*:?\s*(?:\\|<br\s*/?>)?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?")
# [text](url), text may hold one level of brackets ("[2019 - **[UDA]** title](url)").
_MD_LINK = re.compile(
    r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_ID_PATTERN = r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[A-Za-z\-]{2,})?/\d{7}(?:v\d+)?)"
_ARXIV_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/" + _ID_PATTERN, re.IGNORECASE
)
_ARXIV_PREFIX = re.compile(r"\barXiv:\s?" + _ID_PATTERN, re.IGNORECASE)
_ANY_URL = re.compile(r"<?https?://\S+>?")
_HTML_TAG = re.compile(r"<[^>]+>")

_MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
# Link texts that say "here is the paper" rather than which paper it is.
_GENERIC_LINK_WORDS = {
    "original", "paper", "papers", "link", "pdf", "arxiv", "abs", "abstract", "here", "url",
    "full", "text", "preprint", "the", "code", "review", "view", "on", "read", "source",
}  # fmt: skip
# Heading parts that name no topic ("Applications: Medical Imaging" -> "medical imaging").
_GENERIC_HEADING_WORDS = {
    "application", "applications", "misc", "miscellaneous", "other", "others", "method",
    "methods", "task", "tasks", "model", "models", "paper", "papers", "overview", "general",
    "classic", "classics", "depth", "breadth", "recent", "technique", "techniques", "notes",
    "resources", "learning", "deep", "neural", "network", "networks", "research", "trends",
    "review", "reviews", "survey", "surveys", "and", "the", "of", "for", "in", "on",
    "continued", "cont", "part",
}  # fmt: skip
# Words trimmed from the ends of a heading phrase: they qualify the list, not the topic.
_HEADING_EDGE_WORDS = {
    "recent", "classic", "classics", "depth", "breadth", "technique", "techniques", "method",
    "methods", "paper", "papers", "notes", "application", "applications", "misc", "overview",
    "survey", "surveys", "review", "reviews", "and", "the", "of", "for", "in", "on",
}  # fmt: skip
_STOPWORDS = {
    "a", "an", "the", "of", "for", "with", "in", "on", "to", "and", "or", "by", "from", "via",
    "using", "is", "are", "be", "as", "at", "its", "it", "we", "our", "into", "than", "not",
    "but", "can", "do", "does", "what", "how", "why", "when", "all", "you", "your", "need",
    "towards", "toward", "through", "without", "beyond", "new", "approach", "based", "more",
    "better", "simple", "improved", "improving", "improve", "improves", "learning", "deep",
    "neural", "network", "networks", "model", "models", "method", "methods", "study",
    "analysis", "survey", "framework", "task", "tasks", "paper", "vs", "one", "two", "v1",
    "v2", "v3", "part", "use", "about", "make", "making", "there", "this", "that", "between",
    "rather", "only", "same", "things", "really", "everywhere", "everything", "where", "look",
    "everyone", "should", "both", "worth", "own", "yourself", "let", "matters",
    "arxiv",  # an untitled link's stand-in title "arXiv:1503.02531" names no topic
}  # fmt: skip
# Too general to stand alone as a keyword, though fine inside a phrase ("image registration").
_WEAK_UNIGRAMS = {
    "image", "images", "visual", "vision", "object", "objects", "data", "training", "semantic",
    "fully", "convolutional", "convolution", "convolutions", "representation", "feature",
    "representations", "features", "efficient", "revisiting", "rethinking", "unsupervised",
    "supervised", "classification", "recognition", "detection", "large-scale", "real-time",
    "online", "end-to-end", "single", "error", "generating", "learned", "effective", "fast",
    "faster", "accurate", "scalable", "unified", "general", "dense", "deeper", "depth",
}  # fmt: skip
_TOKEN = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z]")
_MAX_IMPORTED_KEYWORDS = 12
_MIN_IMPORTED_KEYWORDS = 5


@dataclass
class _Section:
    name: str
    papers: dict[str, str] = field(default_factory=dict)  # id -> title, in first-seen order
    undated: int = 0  # papers not under a dated sub-heading
    first_date: str = ""  # the first dated sub-heading papers came through

    @property
    def by_date(self) -> bool:
        """Every paper came through a dated sub-heading: a log by date, not a topic."""
        return bool(self.papers) and self.undated == 0


def import_markdown(text: str, source_name: str = "") -> str:
    """Turn a Markdown reading list into a categories TOML text.

    One category per topical heading (``#`` headings, ``**bold**`` lines, or a short
    label line directly above a bullet list) that has at least one arXiv link; dated
    headings ("June, 2022", "Wk13 - 2020.10.20") are not topics, so their papers go to
    the enclosing topic.  A section whose papers *all* sit under dated headings (a
    list's own monthly picks, such as "Research Trends") is a log by date whose papers
    share no topic: ranking a month against it would file random papers under it, so
    it is left out, and named in a comment.  Sections with the same name are merged.
    The output is deterministic, so re-importing an unchanged list gives an unchanged
    file.
    """
    where = source_name or "the Markdown text"
    sections = _collect_sections(text)
    with_papers = [s for s in sections if s.papers]
    if not with_papers:
        raise InputError(
            f"{where}: no heading with an arXiv link found; the list needs headings "
            f"(# Topic or **Topic**) followed by links like https://arxiv.org/abs/1503.02531"
        )
    usable = [s for s in with_papers if not s.by_date]
    if not usable:
        raise InputError(
            f"{where}: every arXiv link sits under a dated heading (such as "
            f'"{with_papers[0].first_date}"), a list by date rather than by topic; put the '
            "papers under topical headings (# Topic or **Topic**) to import them"
        )
    header = [
        "# Categories imported by trenddigest from "
        + (source_name or "a Markdown reading list")
        + ".",
        "# One category per heading with arXiv links; keywords come from the heading and",
        "# frequent title phrases. Review names, descriptions and keywords before use.",
    ]
    for section in with_papers:
        if section.by_date:
            count = len(section.papers)
            header.append(
                f'# Left out: "{section.name}" ({count} paper{"s" if count != 1 else ""}, all '
                f'under dated headings such as "{section.first_date}"): a list by date, '
                "not a topic."
            )
    categories = [_section_to_category(s, source_name) for s in usable]
    for section, category in zip(usable, categories, strict=True):
        if not category.keywords:
            count = len(section.papers)
            header.append(
                f'# Left out: "{section.name}" ({count} paper{"s" if count != 1 else ""}): '
                "no English keyword could be derived from its heading or titles; add it "
                "by hand with keywords in English."
            )
    kept = [c for c in categories if c.keywords]
    if not kept:
        raise InputError(
            f"{where}: no English keyword could be derived from the headings or paper "
            "titles (papers are ranked on their English title and abstract); give the "
            "headings or link texts in English"
        )
    header.append("")
    blocks = [category_to_toml(c) for c in kept]
    return "\n".join(header) + "\n" + "\n".join(blocks)


def _collect_sections(text: str) -> list[_Section]:
    lines = _HTML_COMMENT.sub("", text).splitlines()
    sections: dict[str, _Section] = {}
    # Stack of (level, name or None for non-topical headings, the heading if dated).
    stack: list[tuple[int, str | None, str]] = []
    parent_text = ""
    fences = Fences(nested=True)  # a list item's fence may be indented

    def open_heading(level: int, raw: str) -> None:
        nonlocal parent_text
        while stack and stack[-1][0] >= level:
            stack.pop()
        name = _clean_heading(raw)
        dated = name if name and _is_date_like(name) else ""
        stack.append((level, name if name and not dated else None, dated))
        parent_text = ""

    def current_section() -> tuple[_Section | None, str]:
        """The enclosing topic, and the dated heading in between, if any."""
        date = ""
        for _level, name, dated in reversed(stack):
            if name is not None:
                key = name.casefold()
                if key not in sections:
                    sections[key] = _Section(name)
                return sections[key], date
            date = date or dated
        return None, ""

    for number, line in enumerate(lines):
        if fences.inside(line) or not line.strip():
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            open_heading(len(heading.group(1)), heading.group(2))
            continue
        bold = _BOLD_LINE.match(line)
        if bold and "**" not in bold.group(1) and not _BULLET.match(line):
            open_heading(7, bold.group(1))
            continue
        found = _arxiv_links(line)
        if not found:
            if _is_label_line(line, lines, number):
                open_heading(7, line)
            else:
                cleaned = _clean_title(_row_text(line))
                if cleaned:
                    parent_text = cleaned
            continue
        section, date = current_section()
        if section is None:
            log.info("skipping %d arXiv link(s) before any topical heading", len(found))
            continue
        for arxiv_id, link_text in found:
            title = _clean_title(link_text) if link_text else ""
            if not title or _is_generic_link_text(title):
                title = _clean_title(_row_text(line)) or parent_text or f"arXiv:{arxiv_id}"
            section.papers.setdefault(arxiv_id, title)
            if date:
                section.first_date = section.first_date or date
            else:
                section.undated += 1
    return list(sections.values())


def _arxiv_links(line: str) -> list[tuple[str, str]]:
    """(id, link text) for each arXiv link in a line; bare links have empty text."""
    found: list[tuple[str, str]] = []

    def add(raw: str, label: str) -> None:
        try:
            arxiv_id, _version = split_id(raw)
        except ValueError:
            return
        if all(arxiv_id != seen for seen, _ in found):
            found.append((arxiv_id, label))

    for match in _MD_LINK.finditer(line):
        if match.group(0).startswith("!"):
            continue
        url = _ARXIV_URL.search(match.group(2))
        if url:
            add(url.group(1), match.group(1))
    rest = _MD_LINK.sub(" ", line)
    for match in _ARXIV_URL.finditer(rest):
        add(match.group(1), "")
    for match in _ARXIV_PREFIX.finditer(_ARXIV_URL.sub(" ", rest)):
        add(match.group(1), "")
    return found


def _is_label_line(line: str, lines: list[str], number: int) -> bool:
    """A short plain line right above a bullet list names the list ("Noisy Labels")."""
    text = line.strip()
    if (
        _BULLET.match(line)
        or text.startswith(("|", "<", "[", "!", ">", "*", "_", "("))
        or "](" in text
        or "http" in text
        or len(text) > 80
        or len(text.split()) > 10
        or text.endswith((".", ",", ";", "-", "\\"))
        or "|" in text
    ):
        return False
    for following in lines[number + 1 :]:
        if following.strip():
            return bool(_BULLET.match(following))
    return False


def _row_text(line: str) -> str:
    """The text of a bullet or table row without its links, for untitled links."""
    if line.count("|") >= 2:
        cells = [_MD_LINK.sub(" ", c).strip() for c in line.strip().strip("|").split("|")]
        cells = [c for c in cells if re.search(r"[A-Za-z]{3}", c)]
        return max(cells, key=lambda c: len(c.split()), default="")
    text = _BULLET.sub("", line, count=1)
    text = _MD_LINK.sub(" ", text)
    text = _ARXIV_PREFIX.sub(" ", _ANY_URL.sub(" ", text))
    return text


def _clean_markup(text: str) -> str:
    text = _HTML_TAG.sub(" ", text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _ANY_URL.sub(" ", text)
    return text


def _clean_title(text: str) -> str:
    text = _clean_markup(text)
    text = re.sub(r"^\s*\(?(?:19|20)\d{2}\)?\s*[-–—:]\s*", "", text)  # "2019 - Title"
    text = re.sub(r"^\s*(?:\*\*|__)?\[([^\]]+)\](?:\*\*|__)?\s*:?\s*", r"\1: ", text)
    text = re.sub(r"(?:\*\*|__)?\[([^\]]+)\](?:\*\*|__)?", r"\1", text)
    text = text.replace("*", "").replace("__", "").replace("`", "")
    text = re.sub(r"\s*\(\s*\)", "", text)
    text = re.sub(r"\s*\([^()]*\b(?:19|20)\d{2}\b[^()]*\)\s*$", "", text)  # "(CVPR 2019)"
    text = re.sub(r"[^\w\s\-–—:;,.!?'\"’‘“”&+/()%=#@×]+", " ", text)  # emoji, symbols
    text = " ".join(text.split())
    return text.strip(" -–—:;,/|").strip()


def _clean_heading(text: str) -> str:
    text = _clean_title(text)
    text = re.sub(r"^(?:[IVXLC]+|\d+)[.)]\s+", "", text)  # "II. Paper Notes"
    return text.strip(" -–—:;,.")


def _is_date_like(name: str) -> bool:
    """Headings made only of months, years, week numbers and dates name no topic.

    A heading in another script ("目标检测", object detection) has no ASCII word to
    test, and is a topic: only its date characters (2022年6月) may stand beside them.
    """
    folded = name.casefold()
    if re.search(r"[^\W\d_]", re.sub(r"[a-z0-9]+|[年月日周]", " ", folded)):
        return False
    tokens = re.findall(r"[a-z0-9]+", folded)
    return bool(tokens) and all(
        token in _MONTHS or token.isdigit() or re.fullmatch(r"(?:wk|week)\d*", token)
        for token in tokens
    )


def _is_generic_link_text(text: str) -> bool:
    # Words in any script: "一篇论文" is a title, not a bare "[link]".
    words = re.findall(r"[^\W\d_]+", text.casefold())
    return not words or all(w in _GENERIC_LINK_WORDS for w in words)


def _heading_terms(name: str) -> list[str]:
    """Topic phrases in a heading: "XAI (Explainable AI)" -> ["xai", "explainable ai"],
    "Semantic & Instance Segmentation" -> ["semantic segmentation", "instance
    segmentation"] (a coordinated modifier gets the head it shares, not a term of its
    own: "semantic" alone would match any paper saying it)."""
    terms: list[str] = []
    for group in _HEADING_GROUPS.split(name.casefold()):
        parts = [words for part in _COORDINATORS.split(group) if (words := _heading_words(part))]
        for words in _coordinated(parts):
            term = " ".join(words)
            # Common words alone ("IT", "The Rest") would match nearly every paper.
            if term and term not in terms and not _only_common_words(words):
                terms.append(term)
    return terms


def _only_common_words(words: Iterable[str]) -> bool:
    return all(part in _STOPWORDS for word in words for part in word.split("-"))


# Punctuation that separates a heading's topics; coordinators that join parts of one.
_HEADING_GROUPS = re.compile(r"\s*(?:[,:;()]|\s[-–—]\s)\s*")
_COORDINATORS = re.compile(r"\s*(?:[&/+]|\band\b)\s*")
# Single words that modify the phrase after them rather than name a topic.
_MODIFIERS = {"image", "video", "object", "instance", "text", "audio", "point", "scene", "2d", "3d"}
_MODIFIER_ENDINGS = ("ic", "al", "ive", "ous", "ary")


def _heading_words(part: str) -> list[str]:
    """A heading part's words, its generic ones trimmed off the ends ([] if all are)."""
    words = re.findall(r"[a-z0-9][a-z0-9\-]*", part)
    if all(w in _GENERIC_HEADING_WORDS for w in words):
        return []
    # "Recent Self-Supervised Techniques" -> "self-supervised".
    while words[0] in _HEADING_EDGE_WORDS:
        words.pop(0)
    while words[-1] in _HEADING_EDGE_WORDS:
        words.pop()
    return words


def _is_modifier(word: str) -> bool:
    if word in _MODIFIERS or word.endswith(_MODIFIER_ENDINGS):
        return True
    return len(word) > 5 and word.endswith("ed")  # "supervised", not "speed"


def _coordinated(parts: list[list[str]]) -> list[list[str]]:
    """Coordinated heading parts as whole phrases: a lone modifier takes the head of
    the next phrase ("image / video generation"), a lone generic noun the modifiers of
    the first ("biomedical segmentation / classification")."""
    out = []
    for i, words in enumerate(parts):
        if len(words) == 1:
            later = next((p for p in parts[i + 1 :] if len(p) > 1), None)
            if later is not None and _is_modifier(words[0]):
                out.append([words[0], later[-1]])
                continue
            if i > 0 and len(parts[0]) > 1 and words[0] in _WEAK_UNIGRAMS:
                out.append([*parts[0][:-1], words[0]])
                continue
        out.append(words)
    return out


def _title_segments(title: str) -> list[list[str]]:
    """Title tokens split at punctuation, so no phrase spans "Name: Subtitle"."""
    parts = re.split(r"[:;,.!?()\[\]\"“”]|\s[-–—]\s", title.casefold())
    return [tokens for part in parts if (tokens := _TOKEN.findall(part))]


def _usable(gram: list[str]) -> bool:
    if any(t in _STOPWORDS or t.isdigit() or len(t) < 3 for t in gram):
        return False
    return len(gram) > 1 or gram[0] not in _WEAK_UNIGRAMS


def _title_ngrams(titles: Iterable[str]) -> Counter[str]:
    """In how many titles each 1-3 word phrase occurs (no stopword inside a phrase)."""
    counts: Counter[str] = Counter()
    for title in titles:
        grams: set[str] = set()
        for tokens in _title_segments(title):
            for n in (1, 2, 3):
                for start in range(len(tokens) - n + 1):
                    gram = tokens[start : start + n]
                    if _usable(gram):
                        grams.add(" ".join(gram))
        counts.update(grams)
    return counts


def _title_handle(title: str) -> str | None:
    """One phrase naming a single paper: its method name ("FixMatch: ...") or first bigram."""
    segments = _title_segments(title)
    if not segments:
        return None
    first = segments[0]
    if len(segments) > 1 and len(first) == 1 and len(first[0]) >= 4 and _usable(first):
        return first[0]
    for tokens in segments:
        for start in range(len(tokens) - 1):
            if _usable(tokens[start : start + 2]):
                return " ".join(tokens[start : start + 2])
    return None


def _pick_phrases(counts: Counter[str], min_count: int, limit: int, taken: set[str]) -> list[str]:
    """Most frequent phrases first, longer before shorter; drop phrases a pick covers."""
    ranked = sorted(
        (gram for gram, count in counts.items() if count >= min_count),
        key=lambda g: (-counts[g], -len(g.split()), g),
    )
    chosen: list[str] = []
    for gram in ranked:
        if len(chosen) >= limit:
            break
        if gram in taken or any(
            f" {gram} " in f" {longer} " and counts[longer] >= counts[gram] for longer in chosen
        ):
            continue
        chosen.append(gram)
    return chosen


def _section_keywords(section: _Section) -> tuple[list[Keyword], list[str]]:
    """Keywords for an imported section, and the title phrases several papers share."""
    keywords = [Keyword(term, 2.0) for term in _heading_terms(section.name)]
    taken = {k.term for k in keywords}
    counts = _title_ngrams(section.papers.values())
    limit = _MAX_IMPORTED_KEYWORDS - len(keywords)
    shared = _pick_phrases(counts, 2, limit, taken) if len(section.papers) > 1 else []
    for gram in shared:
        frequent = counts[gram] >= 3 and counts[gram] * 2 >= len(section.papers)
        keywords.append(Keyword(gram, 1.5 if frequent else 1.0))
    # Few shared phrases (a short section): one handle per paper gives the ranker more
    # to go on than a heading like "Misc" alone.
    taken.update(k.term for k in keywords)
    for title in section.papers.values():
        if len(keywords) >= _MIN_IMPORTED_KEYWORDS:
            break
        handle = _title_handle(title)
        if handle and handle not in taken:
            taken.add(handle)
            keywords.append(Keyword(handle))
    if (
        not keywords
        and _MATCHABLE.search(section.name)
        and not _only_common_words(_ascii_words(section.name))
    ):
        keywords = [Keyword(section.name.casefold())]
    return keywords, shared


def _section_to_category(section: _Section, source_name: str) -> Category:
    papers = [Exemplar(arxiv_id, title) for arxiv_id, title in section.papers.items()]
    keywords, shared = _section_keywords(section)
    where = f" in {source_name}" if source_name else ""
    count = len(papers)
    examples = " and ".join(f'"{p.title}"' for p in papers[:2])
    description = (
        f"Papers the list groups under '{section.name}'{where}. "
        f"The section holds {count} arXiv paper{'s' if count != 1 else ''}, "
        f"such as {examples}."
    )
    if shared:
        description += f" Titles there often mention {', '.join(shared[:4])}."
    return Category(section.name, description, keywords, [], papers)
