"""The ``trenddigest`` command: argument parsing and messages only.

Every command loads the validated config, opens the store and calls one function of
the core.  Domain errors (:class:`TrendDigestError`) become a single line on stderr
and a non-zero exit code; nothing below this module prints or exits.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .config import Config, load_config
from .errors import DeliveryError, InputError, StoreError, TrendDigestError
from .lock import store_lock
from .models import (
    API_SETTLE,
    ARXIV_TIMEZONE,
    Month,
    Paper,
    last_announcement,
    latest_complete_month,
)
from .store import Store, UpsertCounts, damaged_store_error, is_damaged_store

if TYPE_CHECKING:  # the pipeline is imported by the commands that run it
    from .pipeline import RunResult

log = logging.getLogger("trenddigest")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _global_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """The options every command takes, before or after the command name.

    On subcommands the defaults are suppressed, or argparse would overwrite a value
    given before the command name with the subcommand's default.
    """

    def d(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    parser.add_argument(
        "--config", metavar="FILE", default=d(None), help="config file (env TRENDDIGEST_CONFIG)"
    )
    parser.add_argument(
        "--store", metavar="PATH", default=d(None), help="SQLite store (env TRENDDIGEST_STORE)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=d(0), help="more log output")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=d(False),
        help="log warnings and errors only, no progress (the result still prints)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="trenddigest",
        description="Monthly arXiv research-trend digests for curated topics.",
    )
    parser.add_argument("--version", action="version", version=f"trenddigest {__version__}")
    _global_options(parser, top_level=True)
    common = _Parser(add_help=False)
    _global_options(common, top_level=False)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    p = sub.add_parser(
        "import",
        parents=[common],
        help="import papers from files into the store",
        description=(
            "Store every paper of the files (any month), as arXiv's newest version wins; "
            "prints per file what was new, updated, unchanged and rejected, with each "
            "rejected record's place and reason."
        ),
    )
    p.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="arXiv API Atom (or a saved API response in JSON), listing RSS/Atom, "
        "JSON Lines (shared-data or Kaggle arxiv-metadata-oai-snapshot); gzipped or not",
    )
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser(
        "run",
        parents=[common],
        help="build (and deliver) one month's digest",
        description=(
            "Fill the month from arXiv (or --from files, or --offline the store alone), "
            "rank its papers against the curated categories, write the Markdown digest and "
            "its JSON twin, then commit and email them as [git] and [email] say."
        ),
    )
    p.add_argument("--month", required=True, help="YYYY-MM, e.g. 2025-05")
    p.add_argument("--offline", action="store_true", help="use only what the store holds")
    p.add_argument(
        "--from",
        dest="from_files",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="import a local file (all of it, every month in it) into the store instead "
        "of fetching from arXiv; may be given more than once",
    )
    p.add_argument(
        "--format",
        choices=["markdown", "json"],
        default="markdown",
        help="markdown writes the .md and its .json twin, json the .json only (default: markdown)",
    )
    p.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="papers per category (default: [digest] papers_per_category)",
    )
    p.add_argument("--categories", metavar="FILE", help="curated categories TOML file")
    p.add_argument(
        "--by",
        choices=["submitted", "announced"],
        help="which papers belong to the month: submitted = by arXiv id, announced = by "
        "announce date (default: [digest] by)",
    )
    p.add_argument(
        "--output",
        metavar="PATTERN",
        help="where to write, with {year} and {month} (default: [digest] output)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the digest to standard output: no files, no delivery "
        "(papers fetched or imported are still stored)",
    )
    p.add_argument(
        "--commit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="git commit the digest, its .json twin and the README index; --no-commit: neither "
        "commit nor push (default: [git] commit)",
    )
    p.add_argument(
        "--push",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="commit as --commit does, then git push (default: [git] push)",
    )
    p.add_argument(
        "--email",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="email the digest as [email] says; --no-email: do not, even when [email] enabled "
        "is on (default: [email] enabled)",
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "fetch",
        parents=[common],
        help="backfill one month from the arXiv API",
        description=(
            "Store one month's papers (by arXiv id) of each [arxiv] categories entry from "
            "arXiv's query API, 3 seconds between requests. Resumable: an interrupted fetch "
            "goes on where it stopped, and a month already complete costs at most one request per "
            "category to check."
        ),
    )
    p.add_argument("--month", required=True, help="YYYY-MM, e.g. 2025-05")
    p.set_defaults(handler=cmd_fetch)

    p = sub.add_parser(
        "poll",
        parents=[common],
        help="read arXiv's daily listing feeds once",
        description=(
            "Read today's listing feed of each [arxiv] categories entry once and store its "
            "papers with their announce date (an unchanged feed costs a 304). A feed holds "
            "one day's listing until midnight US Eastern: poll every weekday (or run "
            "'trenddigest schedule') to miss none."
        ),
    )
    p.set_defaults(handler=cmd_poll)

    p = sub.add_parser(
        "schedule",
        parents=[common],
        help="run the daily poll and the monthly digest on their schedule",
        description=(
            "Run in the foreground until stopped (Ctrl-C or SIGTERM): poll arXiv's listing "
            "feeds ([schedule] poll_cron, US Eastern time) and make each month's digest "
            "([schedule] digest_cron in [schedule] timezone), delivered as [git] and "
            "[email] say; months missed while it was not running are made at start."
        ),
    )
    p.set_defaults(handler=cmd_schedule)

    p = sub.add_parser(
        "trends",
        parents=[common],
        help="write a standalone trend report for a range of months",
        description=(
            "Compare the months --from to --to of the store: papers per category, rising "
            "terms and emerging topics, as one Markdown report with a PNG chart beside it."
        ),
    )
    p.add_argument(
        "--from", dest="start", required=True, metavar="YYYY-MM", help="first month of the range"
    )
    p.add_argument(
        "--to", dest="end", required=True, metavar="YYYY-MM", help="last month (included)"
    )
    p.add_argument("--categories", metavar="FILE", help="curated categories TOML file")
    p.add_argument(
        "--output",
        metavar="FILE",  # kept as typed: a Path would drop the "/" of a folder
        help="default: digests/trends-FROM-to-TO.md (a PNG chart beside it)",
    )
    p.add_argument("--dry-run", action="store_true", help="print to standard output")
    p.set_defaults(handler=cmd_trends)

    p = sub.add_parser(
        "categories",
        parents=[common],
        help="list or import curated categories",
        description="List the curated categories in use, or make a categories file.",
    )
    csub = p.add_subparsers(
        dest="categories_command",
        required=True,
        metavar="ACTION",
        parser_class=_Parser,
        help="list or import",
    )
    c = csub.add_parser(
        "list",
        parents=[common],
        help="configured categories with paper counts",
        description=(
            "The categories a digest would use (and which file they come from), with how "
            "many papers of a month each takes."
        ),
    )
    c.add_argument("--categories", metavar="FILE", help="curated categories TOML file")
    c.add_argument("--month", help="count papers of this month (default: newest in store)")
    c.set_defaults(handler=cmd_categories_list)
    c = csub.add_parser(
        "import",
        parents=[common],
        help="turn a Markdown reading list into a categories file",
        description=(
            "Make a categories TOML file from a reading list: each heading a category, "
            "its keywords from the heading and the titles of the papers under it."
        ),
    )
    c.add_argument(
        "markdown",
        type=Path,
        metavar="LIST.md",
        help="a reading list: a heading per topic, arXiv links under it",
    )
    c.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here (default: standard output)"
    )
    c.add_argument(
        "--force", action="store_true", help="replace the -o file if it exists (your edits too)"
    )
    c.set_defaults(handler=cmd_categories_import)
    return parser


# -- helpers -------------------------------------------------------------------


# The logger of sources/client.py, named here: importing it would load requests and
# arxiv, which a repeated run never needs.
_ARXIV_CLIENT_LOG = "trenddigest.sources.client"


def _configure_logging(verbose: int, quiet: bool) -> None:
    # Quiet by default so that an error is the one line on stderr; -v shows the
    # pipeline's steps, -vv everything.  Progress of long fetches is always shown.
    level = (
        logging.WARNING if quiet or not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    )
    fmt = (
        "%(message)s" if sys.stderr.isatty() else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    # Each wait for arXiv (a 503's Retry-After, the backoff after a timeout) is one INFO
    # line of the client's: shown unless -q, or a person at a terminal (or a cron log)
    # gets half a minute of silence.  Its routine spacing is DEBUG.  The scheduler's
    # job outcomes likewise (only `schedule` logs there).  Set on every call (NOTSET:
    # the root's level decides, so -vv still shows their DEBUG lines), as one process
    # may run several commands.
    for name in (_ARXIV_CLIENT_LOG, "trenddigest.schedule"):
        logging.getLogger(name).setLevel(
            logging.INFO if level > logging.INFO and not quiet else logging.NOTSET
        )
    if verbose < 2:
        for noisy in ("urllib3", "arxiv", "apscheduler.executors", "matplotlib"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(args: argparse.Namespace, **overrides: dict[str, Any]) -> Config:
    # --store "$UNSET_VARIABLE" in a script: not the default, which it would silently be.
    for flag, what in (
        ("store", "the store's file, e.g. data/trenddigest.sqlite3"),
        ("config", "a config file, e.g. config/trenddigest.toml"),
        ("categories", "a categories file, e.g. config/categories.toml"),
    ):
        if getattr(args, flag, None) == "":
            raise InputError(f"--{flag} is empty; give {what}")
    merged: dict[str, dict[str, Any]] = {"store": {"path": args.store}}
    merged.update(overrides)
    return load_config(args.config, overrides=merged)


@contextlib.contextmanager
def _open_store(config: Config, *, write: bool = True) -> Iterator[Store]:
    """Open the store; commands that write hold its lock, so runs never interleave.

    A command that only reads takes no lock, so it writes nothing either, not even
    to the cache (it reads what the runs saved there).  A command that fails removes
    a store it created and stored nothing in (see :meth:`Store.session`)."""
    path = config.store.path
    if not write:
        with Store.session(path) as store:
            store.caching = False
            yield store
        return
    with Store.session(
        path, lock=lambda: store_lock(path, timeout=config.store.lock_timeout_seconds)
    ) as store:
        yield store


class _StoreOnFirstWrite:
    """The importer's sink: the store, locked and opened (so created) at the first write.

    An import that fails before any paper is written (an unrecognised file, a broken
    feed, every record rejected) then leaves no new store, lock file or folder behind,
    and an existing store is not even opened.  What was opened is closed by ``stack``.
    """

    def __init__(self, config: Config, stack: contextlib.ExitStack) -> None:
        self._config = config
        self._stack = stack
        self._store: Store | None = None

    def _opened(self) -> Store:
        if self._store is None:
            store = self._stack.enter_context(_open_store(self._config))
            self._stack.enter_context(store.bulk_writes())
            self._store = store
        return self._store

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        return self._opened().upsert_papers(papers)

    def get_paper(self, arxiv_id: str) -> Paper | None:
        if self._store is None and not Path(self._config.store.path).exists():
            return None  # no store yet: nothing in it, and nothing to create for asking
        return self._opened().get_paper(arxiv_id)


def _check_run_flags(args: argparse.Namespace) -> None:
    """Flags that contradict each other are refused rather than one silently winning."""
    if args.offline and args.from_files:
        raise InputError(
            "--offline and --from cannot be combined: --offline uses only what the store "
            "holds, --from imports the file first; drop one of them"
        )
    if args.commit is False and args.push:
        raise InputError(
            "--no-commit cannot be combined with --push: a push sends the digest's commit; "
            "drop one of them"
        )
    delivery = [f for f, on in (("--commit", args.commit), ("--push", args.push)) if on]
    delivery += ["--email"] if args.email else []
    if args.dry_run and delivery:
        raise InputError(
            f"--dry-run cannot be combined with {' or '.join(delivery)}: a dry run prints "
            "the digest and writes or delivers nothing; drop one of them"
        )


def _require_store(config: Config) -> None:
    """Commands that only read papers need a store to exist: a mistyped --store would
    otherwise create an empty one (and its folders) just to report it empty."""
    path = Path(config.store.path)
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        raise StoreError(
            f"there is no store at {path}; check --store (or [store] path), or fill one "
            "first with 'trenddigest import FILE' or 'trenddigest fetch --month YYYY-MM'"
        )


def _month(text: str) -> Month:
    return Month.parse(text)


def _past_month(text: str) -> Month:
    """A month that has begun (UTC): arXiv cannot hold papers of a later one."""
    month = _month(text)
    today = datetime.now(UTC).date()
    if month.first_day > today:
        raise InputError(
            f"{month} has not begun yet (today is {today:%Y-%m-%d} UTC); give a month up to "
            f"{today:%Y-%m}"
        )
    return month


def _complete_month(text: str) -> Month:
    """A month arXiv has announced all its papers of, and whose last mailing its API
    has caught up with: a digest of a later one would silently leave out its last
    mailings."""
    month = _month(text)
    now = datetime.now(UTC)
    latest = latest_complete_month(now, API_SETTLE)
    if month <= latest:
        return month
    if month.first_day > now.date():
        raise InputError(
            f"{month} has not begun yet (today is {now:%Y-%m-%d} UTC); give {latest} or earlier"
        )
    ready = (last_announcement(month) + API_SETTLE).astimezone(ARXIV_TIMEZONE)
    raise InputError(
        f"{month} is not complete yet: arXiv announces the last of its papers on "
        f"{last_announcement(month):%A %Y-%m-%d} at 20:00 US Eastern and its API has them "
        f"from {ready:%A %Y-%m-%d %H:%M} US Eastern; give {latest} or earlier, or run it "
        "after then"
    )


def _check_readable(paths: Sequence[Path], given: str = "") -> None:
    """Fail before the store is opened when a named file is missing or a folder."""
    for path in paths:
        if path.is_dir():
            raise InputError(
                f"cannot read {path}: it is a folder{given}; name the files in it, "
                f"e.g. {path}/*.jsonl.gz"
            )
        if path.exists() and not path.is_file():
            # A FIFO or a device (/dev/zero) would be read forever or as garbage.
            raise InputError(
                f"cannot read {path}: it is not a regular file{given}; give the path of a "
                "saved file"
            )
        if not path.is_file():
            raise InputError(f"cannot read {path}: no such file{given}")


# -- commands ------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from .sources.files import READABLE_FORMATS, import_files

    config = _load(args)
    _check_readable(args.files)
    with contextlib.ExitStack() as opened:
        summary = import_files(_StoreOnFirstWrite(config, opened), args.files)
    for line in summary.report_lines():
        print(line)
    if names := summary.useless_files():
        raise InputError(
            f"no record of {names} could be imported; see the rejections above ({READABLE_FORMATS})"
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import RunOptions, RunResult, run_month

    month = _complete_month(args.month)
    if args.top is not None and args.top < 1:
        raise InputError(f"--top must be at least 1, not {args.top}")
    _check_run_flags(args)
    config = _load(
        args,
        digest={
            "papers_per_category": args.top,
            "categories_file": args.categories,
            "by": args.by,
            "output": args.output,
        },
        # --no-commit stops the push a config may ask for too: there is no commit to push.
        git={"commit": args.commit, "push": False if args.commit is False else args.push},
        email={"enabled": args.email},
    )
    _check_readable(args.from_files, " (given with --from)")
    if args.offline:
        _require_store(config)
    opts = RunOptions(
        month=month,
        offline=args.offline,
        from_files=args.from_files,
        fmt=args.format,
        dry_run=args.dry_run,
        commit=config.git.commit,
        push=config.git.push,
        email=config.email.enabled,
        # [email] enabled sends a month once; an explicit --email sends it again.
        email_once=args.email is not True,
    )
    with _open_store(config) as store:
        try:
            result = run_month(store, config, opts, reporter=_reporter(args))
        except DeliveryError as exc:
            if isinstance(exc.result, RunResult):  # say what was written before the error
                _print_run_summary(month, exc.result)
            raise
    if args.dry_run:
        for note in [*result.inputs, *result.notes]:
            log.info("%s", note)
        sys.stdout.write(result.text)
        return 0
    _print_run_summary(month, result)
    return 0


def _print_run_summary(month: Month, result: RunResult) -> None:
    d = result.summary
    # "wrote" only for files this run changed: a repeated run of an unchanged month
    # (its saved digest reused) left them as they were, and should say so.
    fresh = [p for p in result.written if p not in result.unchanged]
    files = [f"wrote {', '.join(str(p) for p in fresh)}"] if fresh else []
    if result.unchanged:
        files.append(f"unchanged: {', '.join(str(p) for p in result.unchanged)}")
    for note in result.inputs:  # "imported ...", "fetched ...": what came first
        print(note)
    print(
        f"{month}: {d.considered:,} paper{'' if d.considered == 1 else 's'}, "
        f"{d.matched:,} placed in {d.categories_used} of "
        f"{d.categories} categories, {d.unmatched:,} in none; {'; '.join(files)}"
    )
    # What was committed, emailed: a run by hand or a cron log should say that
    # delivery happened, not only that nothing failed.
    for note in result.notes:
        print(note)


def _reporter(args: argparse.Namespace) -> Any:
    from .progress import BarBreaker, NullReporter, StreamReporter

    if args.quiet:
        return NullReporter()
    reporter = StreamReporter(sys.stderr)
    # The log shares stderr with the bar: a retry or warning logged mid-fetch must
    # start on a line of its own, not at the bar's end.
    for handler in logging.getLogger().handlers:
        handler.addFilter(BarBreaker(reporter))
    return reporter


def cmd_fetch(args: argparse.Namespace) -> int:
    from .sources.backfill import fetch_month

    month = _past_month(args.month)
    config = _load(args)
    with _open_store(config) as store:
        summary = fetch_month(store, config.arxiv, month, reporter=_reporter(args))
    print(f"fetched {summary.describe()}")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    from .sources.poll import poll_feeds

    config = _load(args)
    with _open_store(config) as store:
        summary = poll_feeds(store, config.arxiv)
    print(summary.describe())
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from .pipeline import scheduler
    from .schedule import run_scheduler

    config = _load(args)
    run_scheduler(scheduler(config, reporter=_reporter(args)))
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    from .pipeline import (
        DigestRanker,
        effective_categories,
        record_written,
        refuse_trend_report_targets,
    )
    from .render import check_output_file
    from .trends import build_trend_report, month_span, render_trend_report, write_trend_report

    start, end = _month(args.start), _past_month(args.end)
    month_span(start, end)
    config = _load(args, digest={"categories_file": args.categories})
    path = (
        check_output_file(args.output, "trends.md")
        if args.output
        else Path("digests") / f"trends-{start}-to-{end}.md"
    )
    _require_store(config)
    categories = effective_categories(config)
    with _open_store(config) as store:
        if not args.dry_run:
            refuse_trend_report_targets(store, config, path)
        report = build_trend_report(
            store,
            categories,
            config.rank,
            start,
            end,
            by=config.digest.by,
            min_score=config.digest.threshold,
            ranker=DigestRanker(config, categories),  # the months' digests' rankings
        )
        tdir = config.digest.templates_dir or None
        if args.dry_run:
            sys.stdout.write(render_trend_report(report, templates_dir=tdir))
            return 0
        written = write_trend_report(report, path, templates_dir=tdir)
        record_written(store, {p: p.read_bytes() for p in written})
    print(f"wrote {' and '.join(str(p) for p in written)}")
    return 0


def cmd_categories_list(args: argparse.Namespace) -> int:
    from .pipeline import categories_source, category_counts, effective_categories
    from .render import counted

    month = _past_month(args.month) if args.month else None
    config = _load(args, digest={"categories_file": args.categories})
    store_exists = Path(config.store.path).exists()
    if store_exists:
        with _open_store(config, write=False) as store:
            shown_month, rows = category_counts(store, config, month)
    else:  # list the categories without creating a store
        shown_month, rows = None, [(c.name, None, c) for c in effective_categories(config)]
    width = max((len(name) for name, _, _ in rows), default=8)
    empty = "store is empty" if store_exists else "no store yet"
    header = f"papers in {shown_month}" if shown_month else f"papers ({empty})"
    # exclude and require decide which papers a category may take at all, so a curator
    # checking why a paper is missing needs to see that a category has them.
    counts = max(18, len(header))  # "papers (no store yet)" is wider than a month's
    print(f"{'category':<{width}}  {header:>{counts}}  keywords  exemplars  exclude  require")
    for name, count, cat in rows:
        shown = "-" if count is None else f"{count:,}"
        print(
            f"{name:<{width}}  {shown:>{counts}}  {len(cat.keywords):>8}  {len(cat.papers):>9}"
            f"  {len(cat.exclude):>7}  {len(cat.require):>7}"
        )
    # Which file was read: --categories, [digest] categories_file, ./config/ or the
    # packaged one decide it, and a curator editing one file may be reading another.
    print(f"{counted(len(rows), 'category', 'categories')} from {categories_source(config)}")
    return 0


def cmd_categories_import(args: argparse.Namespace) -> int:
    from .categories import import_markdown
    from .render import write_atomic

    try:
        # utf-8-sig: an editor's byte order mark would hide the first heading.
        text = args.markdown.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {args.markdown}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{args.markdown} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    if args.output and args.output.resolve() == args.markdown.resolve():
        raise InputError(
            f"-o {args.output} is the reading list being imported; give another file name"
        )
    if args.output and args.output.exists() and not args.force:
        # A curated file is hand-edited after its import: never replaced unasked.
        raise InputError(
            f"-o {args.output} exists (perhaps with your edits); give another file name, "
            "or add --force to replace it"
        )
    toml_text = import_markdown(text, source_name=args.markdown.name)
    if args.output:
        write_atomic(args.output, toml_text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(toml_text)
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (cron's timeout, a service manager, ``kill``), handled like Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt(enabled: bool) -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C: open transactions roll back, the received pages
    stay stored, arXiv's spacing is recorded, and the user gets a line, not silence.
    (``schedule`` installs its own handlers: it finishes the running job first.)"""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _expand_home(args: argparse.Namespace) -> None:
    """``~`` at the start of a path flag is the home folder, as in a config file: the
    shell expands it only at a word's start (not in ``--output=~/x``, nor quoted in a
    cron line), and a folder literally named ``~`` is never what was meant."""
    for name in ("config", "store", "categories", "output", "markdown"):
        value = getattr(args, name, None)
        if isinstance(value, Path):
            setattr(args, name, value.expanduser())
        elif isinstance(value, str):  # kept a string: a "/" at its end means a folder
            setattr(args, name, os.path.expanduser(value))
    for name in ("files", "from_files"):
        if values := getattr(args, name, None):
            setattr(args, name, [path.expanduser() for path in values])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _expand_home(args)
    _configure_logging(args.verbose, args.quiet)
    try:
        with _sigterm_as_interrupt(args.handler is not cmd_schedule):
            return int(args.handler(args))
    except TrendDigestError as exc:
        print(f"trenddigest: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print(
            "trenddigest: stopped (SIGTERM); everything received so far is saved", file=sys.stderr
        )
        return 143
    except KeyboardInterrupt:
        print("trenddigest: interrupted; everything received so far is saved", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: say so in one line; -vv shows the traceback
        if isinstance(exc, sqlite3.DatabaseError) and is_damaged_store(exc):
            # Most reads go through the store, which names a damaged file itself; a
            # cache or fetch-progress read straight from its connection ends here.
            error = damaged_store_error(getattr(args, "store", None), exc)
            print(f"trenddigest: error: {error}", file=sys.stderr)
            return error.exit_code
        if args.verbose >= 2:
            raise
        print(
            f"trenddigest: internal error: {type(exc).__name__}: {exc} "
            "(run again with -vv for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 70
