"""A month's ranking kept in the store, so that an unchanged month is never ranked twice.

Ranking (TF-IDF over every paper of the month) is the expensive stage of a run; the
digest, its JSON twin and the trends section all start from it.  The ranking is
stored in the store's ``cache`` table under ``ranking:{by}:{month}``, valid while its
fingerprint matches.  The fingerprint combines

* the month's fingerprint in the store (paper count and newest revision), so adding
  or changing any paper of the month invalidates it, while other months do not;
* a hash of the categories, the rank settings, the score threshold and the source
  of the ranking code, so editing the categories file, changing ``[rank]`` or
  upgrading trenddigest recomputes.

The stored value is compact (per category the ranked ids and their scores and why
terms, as zlib-compressed JSON: about 20 bytes a paper), not the papers themselves; a
hit is rebuilt around the :class:`~trenddigest.models.Paper` objects the caller has
already loaded.  Anything unexpected (a value that does not decode, an id the caller
did not pass, a ranking that would not survive the round trip) is a miss: the cache
can cost a recomputation, never a wrong digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import re
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StoreError
from .models import Month, Paper
from .store import Store

if TYPE_CHECKING:  # the ranker (numpy) is loaded only when a ranking is decoded or made
    from .rank import Ranking

log = logging.getLogger(__name__)

# Bump when the stored layout or its meaning changes.
FORMAT_VERSION = 1
# Modules whose code decides a ranking besides ``compute``'s own module.
_RANKING_MODULES = ("trenddigest.rank", "trenddigest.tfidf", "trenddigest.categories")


def ranking_key(month: Month | str, by: str = "submitted") -> str:
    return f"ranking:{by}:{month}"


def ranking_fingerprint(
    store: Store,
    month: Month | str,
    categories: Sequence[Any],
    settings: Any,
    compute: Callable[..., Any] | None = None,
    *,
    by: str = "submitted",
    min_score: float = 0.0,
    extra: str = "",
) -> str:
    """Everything a month's ranking depends on, as one string (see the module docstring).

    ``extra`` is for callers whose ranking depends on more than the month's papers
    (say, trailing months used as background): pass their fingerprints.
    """
    setup = digest(
        {
            "format": FORMAT_VERSION,
            "categories": [_plain(c) for c in categories],
            "settings": _plain(settings),
            "min_score": min_score,
            "code": _code_version(getattr(compute, "__module__", None)),
        }
    )
    return f"{store.month_fingerprint(month, by)}|{setup}|{extra}"


def cached_ranking(
    store: Store,
    month: Month | str,
    papers: Sequence[Paper],
    categories: Sequence[Any],
    settings: Any,
    compute: Callable[..., Ranking],
    *,
    by: str = "submitted",
    min_score: float = 0.0,
    extra: str = "",
) -> Ranking:
    """The month's ranking from the cache, or ``compute(papers, categories, settings,
    min_score=min_score)`` (e.g. :func:`~trenddigest.rank.rank_papers`) stored for next time.

    ``papers`` must be the month's papers as the store holds them now (the pipeline
    has just loaded them); a hit reuses these objects.
    """
    key = ranking_key(month, by)
    fingerprint = ranking_fingerprint(
        store, month, categories, settings, compute, by=by, min_score=min_score, extra=extra
    )
    cached = read_cached(store, key, fingerprint)
    if cached is not None:
        try:
            ranking = decode_ranking(cached, papers)
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            log.warning("ignoring unreadable cached ranking of %s: %s", month, exc)
        else:
            log.info("%s: ranking from the cache (%d papers)", month, ranking.considered)
            return ranking
    ranking = compute(list(papers), list(categories), settings, min_score=min_score)
    value = _encode_checked(ranking, papers)
    if value is not None:
        write_cached(store, key, fingerprint, value)
    return ranking


# --------------------------------------------------------------------------- encoding


def encode_ranking(ranking: Ranking) -> bytes:
    """A compact, deterministic serialisation: ids and per-paper fields, no paper data."""
    from .rank import RankedPaper, Ranking

    extra_fields = _fields(RankedPaper, "paper")
    categories = []
    for name, ranked in ranking.by_category.items():
        columns = {field: [getattr(rp, field) for rp in ranked] for field in extra_fields}
        categories.append({"name": name, "ids": [rp.paper.id for rp in ranked], **columns})
    top = {name: getattr(ranking, name) for name in _fields(Ranking, "by_category")}
    payload = {"v": FORMAT_VERSION, "ranking": top, "categories": categories}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return zlib.compress(text.encode("utf-8"), 6)


def decode_ranking(data: bytes, papers: Sequence[Paper]) -> Ranking:
    """Rebuild a ranking from :func:`encode_ranking`'s bytes around ``papers``.

    Raises :class:`KeyError` when a ranked id is not among ``papers`` and
    :class:`ValueError` for data of another format.
    """
    from .rank import RankedPaper, Ranking

    payload = json.loads(zlib.decompress(data))
    if payload.get("v") != FORMAT_VERSION:
        raise ValueError(f"cached ranking format {payload.get('v')!r}, not {FORMAT_VERSION}")
    by_id = {p.id: p for p in papers}
    extra_fields = _fields(RankedPaper, "paper")
    by_category: dict[str, list[RankedPaper]] = {}
    for entry in payload["categories"]:
        columns = [entry[field] for field in extra_fields]
        by_category[entry["name"]] = [
            RankedPaper(paper=by_id[pid], **dict(zip(extra_fields, values, strict=True)))
            for pid, *values in zip(entry["ids"], *columns, strict=True)
        ]
    return Ranking(by_category=by_category, **payload["ranking"])


def _fields(cls: type, skip: str) -> list[str]:
    """The constructor fields of a dataclass other than ``skip``."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name != skip]


def _encode_checked(ranking: Ranking, papers: Sequence[Paper]) -> bytes | None:
    """The encoded ranking, or None when it would not come back equal (never cache that)."""
    try:
        value = encode_ranking(ranking)
        same = decode_ranking(value, papers) == ranking
    except (TypeError, ValueError, KeyError) as exc:
        log.warning("not caching this ranking: %s", exc)
        return None
    if not same:
        log.warning("not caching this ranking: it does not survive serialisation")
        return None
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot cache a value of type {type(value).__name__}")


# --------------------------------------------------------------------------- store


def read_cached(store: Store, key: str, fingerprint: str) -> bytes | None:
    """The value cached under ``key`` if it was made for ``fingerprint``, else None."""
    row = store.query_one("SELECT fingerprint, value FROM cache WHERE key = ?", (key,))
    if row is None or row[0] != fingerprint:
        return None
    value = row[1]
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def write_cached(store: Store, key: str, fingerprint: str, value: bytes) -> None:
    """Best effort: a store that cannot be written (a read-only copy) only costs time.

    The first failure is reported once; the rest of the run does not try again.
    """
    if not store.caching:
        return
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    try:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO cache (key, fingerprint, value, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "value = excluded.value, created_at = excluded.created_at",
                (key, fingerprint, sqlite3.Binary(value), stamp),
            )
    except (sqlite3.Error, StoreError) as exc:
        store.caching = False
        log.warning("not caching results in %s this run: %s", store.path, exc.__cause__ or exc)


# --------------------------------------------------------------------------- hashing


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def digest(payload: Any) -> str:
    """A short, stable hash of JSON-able data (cache fingerprints)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _code_version(module_name: str | None) -> str:
    """The ranking code's version: its modules, this one and ``compute``'s own."""
    return code_version(*_RANKING_MODULES, __name__, *([module_name] if module_name else []))


# trenddigest's own source folder: the code-version hash reads its modules from here.
_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def code_version(*module_names: str) -> str:
    """A hash of the named modules' source files, of every trenddigest module they
    import (at the top or inside a function, directly or through others), and of
    the numeric libraries' versions: values cached by older code are stale.

    A module's result depends on the code it calls as much as on its own (the ranker
    tokenises with tfidf, skips withdrawn papers by a models rule, scores with
    scikit-learn), so an upgrade that changed only one of those must not leave the
    results of the one before in use.  Files are found and read without importing
    them, so the hash does not depend on which modules a run happened to load before
    asking.
    """
    h = hashlib.sha256()
    for name in sorted(_with_imports(module_names)):
        h.update(name.encode())
        try:
            h.update(_source(name) or b"")
        except OSError:  # pragma: no cover - source-less installs
            from . import __version__

            h.update(__version__.encode())
    h.update(json.dumps(_library_versions(), sort_keys=True).encode())
    return h.hexdigest()[:12]


def _source_path(name: str) -> Path | None:
    """Where module ``name``'s source is: trenddigest's in :data:`_PACKAGE_DIR`."""
    package, _, rest = name.partition(".")
    if package == __package__:
        base = _PACKAGE_DIR.joinpath(*rest.split(".")) if rest else _PACKAGE_DIR
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin not in ("built-in", "frozen") else None


def _source(name: str) -> bytes | None:
    path = _source_path(name)
    return path.read_bytes() if path is not None else None


def _with_imports(module_names: Sequence[str]) -> set[str]:
    """``module_names`` and every trenddigest module they import, transitively."""
    seen: set[str] = set()
    todo = list(module_names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _source_path(name)
        if path is None or path.suffix != ".py":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        todo.extend(_own_imports(text, name, is_package=path.name == "__init__.py"))
    return seen


# Import statements, read with patterns rather than parsed: parsing every module a
# cold run hashes took 70-90 ms a process, the patterns about 4 ms.  A statement quoted in
# a docstring is counted too, which can only make a cache stale sooner.
_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M
)
_PLAIN_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)


def _imported_names(clause: str) -> list[str]:
    """``a, b as c`` or ``(a,\n b)`` -> ``["a", "b"]``."""
    names = clause.split("#")[0] if "(" not in clause else clause
    names = names.strip("() \t")
    found = []
    for part in names.replace("\n", ",").split(","):
        words = part.split("#")[0].split()
        if words:
            found.append(words[0])
    return found


def _own_imports(text: str, name: str, *, is_package: bool) -> list[str]:
    """The trenddigest modules a module's code imports (``from .x import y`` may name
    a submodule ``x.y`` or a name in ``x``: whichever has a source file counts)."""
    found = []
    for dots, module, clause in _FROM_IMPORT.findall(text):
        if dots:
            parts = name.split(".") if is_package else name.split(".")[:-1]
            parts = parts[: len(parts) - (len(dots) - 1)]
            if not parts:
                continue
            base = ".".join([*parts, module] if module else parts)
        else:
            base = module
        found.append(base)
        found += [f"{base}.{n}" for n in _imported_names(clause)]
    for clause in _PLAIN_IMPORT.findall(text):
        found += _imported_names(clause)
    own = [m for m in found if m.partition(".")[0] == __package__]
    return [m for m in own if _source_path(m) is not None]


# --------------------------------------------------------------------------- outputs

# A repeated run of an unchanged month should cost a lookup, not a ranking: the
# rendered digest (Markdown and JSON) is kept too, valid while nothing it was made
# from has changed.  Bump when the stored layout changes.
OUTPUTS_FORMAT = 1
# The digest of month M reads M and the 12 months before it (baselines, chart).
OUTPUT_MONTHS = 13


@dataclass(frozen=True)
class DigestSummary:
    """What a run reports of its digest (the CLI's one-line summary)."""

    considered: int
    matched: int
    unmatched: int
    categories: int
    categories_used: int


@dataclass(frozen=True)
class Outputs:
    """A month's rendered digest, as written to disk."""

    markdown: str
    json: str
    summary: DigestSummary


@dataclass(frozen=True)
class OutputsSnapshot:
    """The state of the store a digest is made from, taken before making it."""

    paper_rev: str
    months: list[str]


def outputs_key(month: Month | str, by: str) -> str:
    return f"outputs:{by}:{month}"


def _output_months(month: Month, back: int) -> list[str]:
    return [str(month.shift(-i)) for i in range(back - 1, -1, -1)]


def outputs_snapshot(
    store: Store, month: Month, by: str, back: int = OUTPUT_MONTHS
) -> OutputsSnapshot:
    """Taken before the digest is built: should papers change meanwhile, the saved
    outputs carry the older state and the next run rebuilds rather than trust them."""
    return OutputsSnapshot(
        store.get_meta("paper_rev") or "0",
        [store.month_fingerprint(m, by) for m in _output_months(month, back)],
    )


def load_outputs(
    store: Store, month: Month, by: str, setup: str, back: int = OUTPUT_MONTHS
) -> Outputs | None:
    """The month's saved digest if ``setup`` (config, categories, templates, code) and
    every month it reads are as they were; else None.

    The store's paper revision answers "nothing changed" in one read; only when other
    papers were written since are the 13 months' fingerprints compared.
    """
    key = outputs_key(month, by)
    cached = read_cached(store, key, setup)
    if cached is None:
        return None
    try:
        payload = json.loads(zlib.decompress(cached))
        if payload.get("v") != OUTPUTS_FORMAT:
            return None
        outputs = Outputs(payload["markdown"], payload["json"], DigestSummary(**payload["summary"]))
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        log.warning("ignoring unreadable saved digest of %s: %s", month, exc)
        return None
    if payload["paper_rev"] != (store.get_meta("paper_rev") or "0"):
        now = outputs_snapshot(store, month, by, back)
        if now.months != payload["months"]:
            return None
        save_outputs(store, month, by, setup, outputs, now)  # next time: one read again
    log.info("%s: digest unchanged since it was last made; reusing it", month)
    return outputs


def save_outputs(
    store: Store,
    month: Month,
    by: str,
    setup: str,
    outputs: Outputs,
    snapshot: OutputsSnapshot,
) -> None:
    payload = {
        "v": OUTPUTS_FORMAT,
        "paper_rev": snapshot.paper_rev,
        "months": snapshot.months,
        "markdown": outputs.markdown,
        "json": outputs.json,
        "summary": dataclasses.asdict(outputs.summary),
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    write_cached(store, outputs_key(month, by), setup, zlib.compress(text.encode("utf-8"), 6))


def outputs_setup(*parts: Any) -> str:
    """One hash of everything besides the papers that shapes a digest: the caller's
    ``parts`` (settings, the categories file, templates) plus trenddigest's own code
    and the versions of the libraries whose numbers end up in it."""
    return digest(
        {
            "format": OUTPUTS_FORMAT,
            "parts": [_plain(p) for p in parts],
            "code": _package_code_version(),
            "libraries": _library_versions(),
        }
    )


def file_digest(paths: Sequence[Path]) -> str:
    """A hash of files' names and contents (missing files count as empty)."""
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"\0missing")
    return h.hexdigest()[:16]


@cache
def _package_code_version() -> str:
    package = Path(__file__).resolve().parent
    return file_digest(sorted(package.rglob("*.py")))


@cache
def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("numpy", "scipy", "scikit-learn", "jinja2"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - always installed with us
            found[name] = "?"
    return found
