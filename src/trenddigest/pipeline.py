"""One month's digest, end to end: sources -> store -> rank (+ trends) -> render -> deliver.

The CLI and the scheduler both call :func:`run_month`; neither knows the stages.
Every failure is a :class:`~trenddigest.errors.TrendDigestError`.  All but a failed
delivery are raised before any digest file is replaced, so such a run leaves the previous
digest as it was; what makes a delivery fail for sure (no git repository, no SMTP
password) is checked first too, and only what the git or mail server answers comes after.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import DigestSummary, Outputs, load_outputs, outputs_setup, outputs_snapshot
from .categories import (
    Category,
    default_categories_path,
    find_categories_file,
    load_categories,
)
from .config import Config
from .errors import (
    ConfigError,
    DeliveryError,
    EmailUnconfirmedError,
    EmptyMonthError,
    InputError,
    StoreError,
)
from .models import PARTIAL_RATIO, Month, papers_of
from .store import Store

# The ranker, trends and templates (numpy, scikit-learn, jinja2) are imported where
# they are used: a run whose digest is unchanged never needs them.
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from apscheduler.schedulers.base import BaseScheduler

    from .deliver import EmailSent
    from .models import Paper
    from .rank import Ranking
    from .render import Digest

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    month: Month
    offline: bool = False
    from_files: list[Path] = field(default_factory=list)
    fmt: str = "markdown"
    dry_run: bool = False
    commit: bool = False
    push: bool = False
    email: bool = False
    # Skip the email when this month's digest was emailed before: the scheduler
    # retries a month whose delivery failed (a push refused night after night), and
    # the channels that did deliver must not deliver again; a run by hand with email
    # on in the config must not mail the group each time.  Only --email sends again.
    email_once: bool = False


@dataclass
class RunResult:
    summary: DigestSummary
    text: str
    # The digest's files (what a commit takes); those also in ``unchanged`` already
    # held this content before the run wrote them.
    written: list[Path] = field(default_factory=list)
    # What the run stored first (imported, fetched), then what became of the digest
    # (committed, emailed): a summary reads in the order things happened.
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The digest and its trends section when they were built in this run (None when
    # the saved digest of an unchanged month was reused).
    digest: Digest | None = None
    trends: Any = None
    unchanged: list[Path] = field(default_factory=list)


def _categories_path(config: Config) -> Path:
    """``--categories`` / ``[digest] categories_file``, else ./config/, else the packaged file."""
    path = config.digest.categories_file or None
    return find_categories_file(Path(path) if path else None)


def effective_categories(config: Config) -> list[Category]:
    return load_categories(_categories_path(config))


def categories_source(config: Config) -> str:
    """The categories file :func:`effective_categories` reads, as a user names it."""
    found = _categories_path(config)
    return f"the packaged {found.name}" if found == default_categories_path() else str(found)


def fill_month(store: Store, config: Config, opts: RunOptions, **fetch_kwargs: Any) -> list[str]:
    """Bring the month's papers into the store: from files, or from arXiv unless offline."""
    notes: list[str] = []
    if opts.from_files:
        from .sources.files import READABLE_FORMATS, import_files

        summary = import_files(store, opts.from_files)
        if names := summary.useless_files():  # the wrong file: no digest from the store
            raise InputError(
                f"no record of {names} could be imported; the first: "
                f"{summary.first_useless_rejection()} ({READABLE_FORMATS})"
            )
        for line in summary.rejection_lines():  # a run prints no per-file report
            log.warning("%s", line)
        notes.append(f"imported {summary.describe()}")
    elif not opts.offline:
        from .sources.backfill import IncompleteMonthError, fetch_month

        try:
            fetched = fetch_month(store, config.arxiv, opts.month, **fetch_kwargs)
        except IncompleteMonthError as exc:
            # An entry arXiv keeps sending broken must not stop every month's digest:
            # it is built from what could be read, and the next run asks again.
            log.warning("%s; the digest lists the papers that could be read", exc)
            fetched = exc.summary
        notes.append(f"fetched {fetched.describe()}")
    return notes


def refuse_precious_outputs(
    store: Store, config: Config, targets: list[Path], other: str = "output pattern"
) -> None:
    """A digest or report written over the store (or its journal or lock), the config
    file or the categories file would destroy what no run can make again; the
    refusal says to choose another ``other``."""
    if store.path != ":memory:":
        base = Path(store.path).resolve()
        taken = {base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", ".lock"))}
        for target in targets:
            if target.resolve() in taken:
                raise InputError(
                    f"the output {target} is the store {store.path} (or one of its files); "
                    f"choose another {other} or --store"
                )
    for what, name in [("config", config.source), ("categories", config.digest.categories_file)]:
        if not name or not Path(name).is_file():  # "built-in defaults", the packaged file
            continue
        for target in targets:
            if target.resolve() == Path(name).resolve():
                raise InputError(
                    f"the output {target} is the {what} file {name}; choose another {other}"
                )


def _require_papers(store: Store, config: Config, opts: RunOptions) -> None:
    """After filling, an empty month is an error whose advice fits how it was filled
    (offline, the store alone: :func:`build_month_digest` says how to fill it)."""
    by = config.digest.by
    if opts.offline or store.month_counts(by).get(str(opts.month)):
        return
    which = papers_of(by, opts.month)
    if opts.from_files:
        names = ", ".join(str(f) for f in opts.from_files)
        raise EmptyMonthError(
            f"no papers {which} in {names} or the store; "
            "check --month, or give the file that holds that month"
        )
    held = store.month_counts("submitted").get(str(opts.month), 0)
    if by == "announced" and held:
        # The API gives no announce dates: only the daily feeds (or a crawl's
        # first_seen) tell when arXiv announced a paper.
        raise EmptyMonthError(
            f"the store holds {held:,} papers from {opts.month} (by arXiv id) but knows the "
            "announce date of none (the API backfill gives none); run `trenddigest poll` "
            "daily, import a file with first_seen dates, or use --by submitted"
        )
    raise EmptyMonthError(
        f"arXiv lists no papers {which} in the categories "
        f"{', '.join(config.arxiv.categories)}; check --month and [arxiv] categories"
    )


def partial_month_note(store: Store, config: Config, month: Month) -> str | None:
    """A note for a digest of a month the store seems to hold only part of, or None.

    That is a month with fewer papers than :data:`~.models.PARTIAL_RATIO` (a quarter)
    of the busiest month within a year of it, either side: a file that covers only
    some of it, or the few papers a fetch of the month before stores (those submitted
    after its last deadline).  Its digest would look complete, and its momentum and
    rising terms would read a sliver as a collapse.  Both sides: the months after it
    are often the ones the store holds whole.
    """
    by = config.digest.by
    counts = store.month_counts(by)
    own = counts.get(str(month), 0)
    near = {
        m: n
        for m, n in counts.items()
        if m != str(month) and month.shift(-12) <= Month.parse(m) <= month.shift(12)
    }
    if not own or not near:
        return None
    busiest, most = max(near.items(), key=lambda item: (item[1], item[0]))
    if own >= PARTIAL_RATIO * most:
        return None
    if by == "submitted":
        fill = f"fetch it (trenddigest fetch --month {month}) or import a file that holds all of it"
    else:  # the API gives no announce dates, and a poll reads only today's listing
        fill = "import a file with first_seen dates that holds all of it, or use --by submitted"
    return (
        f"the store holds {own:,} paper{'' if own == 1 else 's'} {papers_of(by, month)}, "
        f"under {PARTIAL_RATIO:.0%} of the {most:,} of {busiest}: it may hold "
        f"only part of the month; {fill}"
    )


def build_month_digest(
    store: Store, config: Config, month: Month, partial: str | None = None
) -> tuple[Digest, Any]:
    """Rank the stored month, add its trends, and assemble everything its page shows.

    ``partial`` (:func:`partial_month_note`) heads the digest's notes.  Returns the
    digest and the trends section (the email needs its chart).
    """
    from .trends import TrendOptions, build_trends_section, render_trends_section, section_to_json

    by = config.digest.by
    papers = store.papers_for_month(month, by=by)
    if not papers:
        # The API gives no announce dates: fetching cannot fill a month by announce date.
        fill = (
            "import a file (trenddigest import FILE), use --from FILE, or run without "
            "--offline to fetch the month from arXiv"
            if by == "submitted"
            else "import a file with first_seen dates (trenddigest import FILE, or --from "
            "FILE), or use --by submitted"
        )
        raise EmptyMonthError(
            f"the store {store.path} has no papers {papers_of(by, month)}; {fill}"
        )
    from .render import build_digest

    categories = effective_categories(config)
    ranking = rank_month(store, config, month, papers, categories)
    log.info(
        "%s: ranked %d papers, %d matched no category", month, ranking.considered, ranking.unmatched
    )
    section = build_trends_section(
        store,
        categories,
        config.rank,
        month,
        ranking=ranking,
        papers=papers,
        by=by,
        min_score=config.digest.threshold,
        options=TrendOptions(top_picks=config.digest.top_picks),
        ranker=DigestRanker(config, categories),
    )
    digest = build_digest(
        month,
        ranking,
        {c.name: c.description for c in categories},
        top=config.digest.papers_per_category,
        by=by,
        arxiv_categories=config.arxiv.categories,
        top_picks=section.top_picks,
        trends_markdown=render_trends_section(
            section, templates_dir=config.digest.templates_dir or None
        ),
    )
    digest.extra["trends"] = section_to_json(section)
    if partial:
        digest.notes.insert(0, partial)
    if by == "announced":
        digest.notes += _missed_listings_notes(store, month)
    return digest, section


def _missed_listings_notes(store: Store, month: Month) -> list[str]:
    """A digest by announce date lacks the papers of listings no poll read: say which."""
    missed = _missed_listings(store, month)
    if not missed:
        return []
    days = "; ".join(f"{day} ({', '.join(cats)})" for day, cats in missed.items())
    log.warning("%s: listings never read: %s", month, days)
    return [
        f"the listings of {days} were never read (no poll ran, or the feed failed): "
        "their papers are missing from this month"
    ]


BACKGROUND_MONTHS = 2  # earlier months added to the idf when [rank] background_idf is on


class DigestRanker:
    """Ranks a month the way its own digest does (the trends' :class:`Ranker`): through
    the store's ranking cache, with the configured settings, threshold and background."""

    def __init__(self, config: Config, categories: list[Category]) -> None:
        self.config = config
        self.categories = categories

    def rank(self, store: Store, month: str, papers: list[Paper]) -> Ranking:
        return rank_month(store, self.config, Month.parse(month), papers, self.categories)

    def inputs(self, store: Store, month: str) -> str:
        return _background_fingerprint(store, self.config, Month.parse(month))


def _background_months(month: Month) -> list[str]:
    return [str(month.shift(-i)) for i in range(BACKGROUND_MONTHS, 0, -1)]


def _background_fingerprint(store: Store, config: Config, month: Month) -> str:
    """The earlier months' part of a ranking's inputs ("" without background idf)."""
    if not config.rank.background_idf:
        return ""
    return "|".join(store.month_fingerprint(m, config.digest.by) for m in _background_months(month))


def rank_month(
    store: Store, config: Config, month: Month, papers: list[Paper], categories: list[Category]
) -> Ranking:
    """The month's ranking, from the store's cache when nothing it depends on changed.

    With ``[rank] background_idf`` the two months before also count for the idf (and
    their fingerprints for the cache).
    """
    from .cache import cached_ranking
    from .rank import rank_papers

    by = config.digest.by
    compute: Any = rank_papers
    extra = _background_fingerprint(store, config, month)
    if config.rank.background_idf:
        earlier = _background_months(month)
        background = [p for m in earlier for p in store.papers_for_month(m, by=by)]
        compute = functools.partial(rank_papers, background=background)
        compute.__module__ = rank_papers.__module__  # the cache keys on the ranking code
    return cached_ranking(
        store, month, papers, categories, config.rank, compute,
        by=by, min_score=config.digest.threshold, extra=extra,
    )  # fmt: skip


def run_month(store: Store, config: Config, opts: RunOptions, **fetch_kwargs: Any) -> RunResult:
    from .render import check_writable, output_path, write_files_atomic

    # Settings, targets and deliveries are checked before anything is fetched, ranked
    # or written: a typo in a categories file or in --output must not cost a fetch of
    # the month first (minutes of 3-second requests), nor leave an import stored.
    effective_categories(config)
    _check_user_templates(config.digest.templates_dir or None)
    markdown_path = output_path(config.digest.output, opts.month)
    json_path = output_path(config.digest.output, opts.month, "json")
    # The JSON twin is what other tools (and the README index) read; the two are
    # written together or not at all.
    paths = [json_path] if opts.fmt == "json" else [markdown_path, json_path]
    if not opts.dry_run:
        refuse_precious_outputs(store, config, [markdown_path, json_path])
        check_writable(paths)
        refuse_edited(store, paths)
        _check_delivery(store, config, opts, paths)
    inputs = fill_month(store, config, opts, **fetch_kwargs)
    _require_papers(store, config, opts)
    # An email carries the chart as a PNG, which only a digest built now has.
    outputs, section, digest = month_outputs(
        store, config, opts.month, reuse=not _emailing(store, opts)
    )
    text = outputs.json if opts.fmt == "json" else outputs.markdown
    result = RunResult(outputs.summary, text, inputs=inputs, digest=digest, trends=section)
    if opts.dry_run:
        return result
    text_of = {markdown_path: outputs.markdown, json_path: outputs.json}
    # Which files already hold their part (a repeated run of an unchanged month): the
    # summary says so instead of "wrote".  They are written all the same, which also
    # clears away the temp files a killed earlier write left beside them.
    result.unchanged = [path for path in paths if _holds(path, text_of[path])]
    files: dict[Path, str | bytes] = {path: text_of[path] for path in paths}
    write_files_atomic(files)
    result.written += list(files)
    record_written(store, files)
    if markdown_path not in files and _differs(markdown_path, outputs.markdown):
        result.notes.append(
            f"{markdown_path} is an earlier run's and no longer matches the new .json; run "
            "again without --format json to bring it up to date"
        )
    try:
        deliver(store, config, opts, result)
    except DeliveryError as exc:
        # The digest is written: the caller can still say what was (a cron log should).
        exc.result = result
        raise
    return result


def refuse_trend_report_targets(store: Store, config: Config, path: Path) -> None:
    """What ``trends`` would write (the report at ``path``, its PNG chart beside it)
    must be neither a precious file nor a change of someone's, as for a digest.

    The PNG is not named by the user: one that no run of this store wrote is refused,
    unless the trend report there shows it (a trends run wrote both: another store's,
    or one whose store could not record it); a note of one's own that links a chart of
    that name is no such report.
    """
    from .render import link_destination
    from .trends import TREND_REPORT_HEADING

    png = path.with_suffix(".png")
    refuse_precious_outputs(store, config, [path, png], "--output")
    there = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    shown = there.startswith(TREND_REPORT_HEADING) and (f"]({link_destination(png.name)})" in there)
    refuse_edited(store, [path, png], unknown=[] if shown else [png])


def _written_key(path: Path) -> str:
    return f"{WRITTEN_KEY_PREFIX}{os.path.realpath(path)}"


def _digest_hash(data: bytes) -> str:
    """The SHA-256 of a written file, its line ends as written (git may turn them into
    CRLF on checkout, core.autocrlf, without changing the text)."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def refuse_edited(store: Store, paths: list[Path], *, unknown: list[Path] | None = None) -> None:
    """Refuse to write over a file changed since a run of this store wrote it.

    A lab annotates its digests (an editor's note, a paper moved by hand); a later run
    of the month (the cron recipe's next day, a categories change) would overwrite
    that and commit the loss.  What a run last wrote is known by its SHA-256 in the
    store.  A change that came with another run's output (a teammate's, by ``git
    pull``) cannot be told from a hand edit on top of it, so it is refused as well, in
    words that say so: deleting the file lets the run write it again.  A file no run
    of this store wrote (an older release's, another store's) is not judged, unless
    it is among ``unknown``: files the user did not name, which are then refused.
    """
    for path in paths:
        recorded = store.get_meta(_written_key(path))
        try:
            data = path.read_bytes()
        except OSError:  # none (or unreadable: check_writable said so): nothing to lose
            continue
        if recorded is None and path in (unknown or []):
            raise InputError(
                f"{path} exists and trenddigest did not write it; this run would replace it: "
                "move it aside, or choose another --output"
            )
        if recorded is not None and _digest_hash(data) != recorded:
            raise InputError(
                f"{path} was changed after this store's run wrote it (by hand, or by another "
                "run's output arriving through git), and this run would overwrite it: keep a "
                "change you want elsewhere, or delete the file to have it written again"
            )


def record_written(store: Store, files: Mapping[Path, str | bytes]) -> None:
    """Remember what a run wrote, for :func:`refuse_edited`."""
    try:
        with store.transaction():
            for path, content in files.items():
                data = content.encode("utf-8") if isinstance(content, str) else content
                store.set_meta(_written_key(path), _digest_hash(data))
    except StoreError as exc:  # a read-only store: the digest is written all the same
        log.warning("cannot record the digest files written in the store: %s", exc)


def _check_user_templates(templates_dir: str | None) -> None:
    """Compile the user's own templates (the digest's and its trends part's), if any:
    a syntax error there is found before a fetch, not after it.  The packaged ones are
    not compiled here, so that a run reusing its saved digest loads no jinja2 (nor
    the trends' numpy)."""
    from .render import check_template, user_templates_in_use

    if not user_templates_in_use(templates_dir):
        return
    from .trends import check_template as check_trends_template

    check_template(templates_dir)
    check_trends_template(templates_dir)


def _holds(path: Path, text: str) -> bool:
    """Whether ``path`` holds exactly ``text`` (as write_files_atomic writes it: UTF-8)."""
    try:
        return path.read_bytes() == text.encode("utf-8")
    except OSError:  # none yet, a folder, unreadable: not the digest
        return False


def _differs(path: Path, text: str) -> bool:
    """Whether a file exists with other content than ``text`` (the digest as it is now)."""
    try:
        return path.read_text(encoding="utf-8") != text
    except (OSError, UnicodeDecodeError):
        return False


def _emailing(store: Store, opts: RunOptions) -> bool:
    """Whether this run sends the month's email: not when sent before and once is
    enough, unless a recipient is still owed it (refused for now when it was sent)."""
    if not opts.email:
        return False
    if not opts.email_once or not store.get_meta(EMAILED_KEY.format(month=opts.month)):
        return True
    return bool(_owed(store, opts.month))


def _owed(store: Store, month: Month) -> list[str]:
    """The recipients still owed the month's email (``[email] to`` entries)."""
    value = store.get_meta(EMAIL_OWED_KEY.format(month=month))
    try:
        owed = json.loads(value) if value else []
    except ValueError:
        return []
    return [str(address) for address in owed] if isinstance(owed, list) else []


def _check_delivery(store: Store, config: Config, opts: RunOptions, paths: list[Path]) -> None:
    """Every reason a delivery is sure to fail that can be known beforehand (no git
    repository, a detached HEAD, others' staged changes, no SMTP password): raised
    before the run replaces the month's digest, which a failed delivery would leave
    replaced but not delivered.  (Nothing to deliver: git, SMTP and jinja2 stay unloaded,
    which a repeated run's speed depends on.)"""
    if opts.commit or opts.push:
        from .deliver import check_commit_targets

        readme = Path(config.git.readme)
        if readme.is_dir():
            raise ConfigError(
                f"[git] readme {readme} is a folder: it names the file the index of "
                "digests goes in; set it to a file such as README.md"
            )
        check_commit_targets(
            [*paths, readme], remote=config.git.remote, wanted_branch=config.git.branch
        )
    if _emailing(store, opts):
        from .deliver import smtp_password

        smtp_password(config.email)


def month_outputs(
    store: Store, config: Config, month: Month, *, reuse: bool = True
) -> tuple[Outputs, Any, Digest | None]:
    """The month's digest as Markdown and JSON: the saved one when nothing it depends
    on changed (``reuse``), else built, rendered and saved.

    Returns the outputs, and the trends section and digest when they were built.
    """
    from .cache import save_outputs

    by = config.digest.by
    # Part of the setup: it follows the months after this one too, which the papers
    # a saved digest is checked against do not cover.
    partial = partial_month_note(store, config, month)
    if partial:
        log.warning("%s: %s", month, partial)
    setup = _outputs_setup(store, config, month, partial)
    if reuse:
        saved = load_outputs(store, month, by, setup, _months_read(config))
        if saved is not None:
            return saved, None, None
    snapshot = outputs_snapshot(store, month, by, _months_read(config))
    digest, section = build_month_digest(store, config, month, partial)
    from .render import render_json, render_markdown

    outputs = Outputs(
        render_markdown(digest, config.digest.templates_dir),
        render_json(digest),
        DigestSummary(
            considered=digest.considered,
            matched=digest.matched,
            unmatched=digest.unmatched,
            categories=len(digest.sections),
            categories_used=sum(1 for _name, _desc, total, _top in digest.sections if total),
        ),
    )
    save_outputs(store, month, by, setup, outputs, snapshot)
    return outputs, section, digest


def _months_read(config: Config) -> int:
    """How many months up to a digest's own its papers are read from: the 12 its trends
    compare with and, with background idf, the earliest's own background months."""
    from .cache import OUTPUT_MONTHS

    return OUTPUT_MONTHS + (BACKGROUND_MONTHS if config.rank.background_idf else 0)


def _outputs_setup(store: Store, config: Config, month: Month, partial: str | None) -> str:
    """Everything besides the papers that a digest depends on (see :mod:`.cache`),
    including, by announce date, the listings no poll read, and whether the month looks
    partial (the digest names both)."""
    from .cache import file_digest
    from .render import template_search_path

    categories_file = find_categories_file(
        Path(config.digest.categories_file) if config.digest.categories_file else None
    )
    # The folders the templates are really read from, in the renderer's own order, and
    # every file in them: a template may include or import any of them.
    folders = [Path(f) for f in template_search_path(config.digest.templates_dir or None)]
    templates = sorted(
        t.resolve() for f in folders if f.is_dir() for t in f.rglob("*") if t.is_file()
    )
    return outputs_setup(
        config.digest,
        config.rank,
        list(config.arxiv.categories),
        file_digest([categories_file.resolve()]),
        file_digest(templates),
        _missed_listings(store, month) if config.digest.by == "announced" else {},
        partial,
    )


def _missed_listings(store: Store, month: Month) -> dict[str, list[str]]:
    # Imported only for a digest by announce date: the poll module loads feedparser.
    from .sources.poll import missed_listings

    return missed_listings(store, str(month))


EMAILED_KEY = "emailed:{month}"
# The recipients a server refused for now (4xx, such as greylisting) when it took the
# month's email for the others, as a JSON list: a run that emails once sends it to them.
EMAIL_OWED_KEY = "email-owed:{month}"
# + a digest file's real path: the SHA-256 of what a run last wrote there.
WRITTEN_KEY_PREFIX = "written:"


def deliver(store: Store, config: Config, opts: RunOptions, result: RunResult) -> None:
    """Commit and/or email a written digest.

    Each channel is tried even when an earlier one failed (a broken SMTP login should
    not stop the commit, nor the reverse); the failures are raised afterwards, all in
    one message, so the run still ends non-zero while the digest stays written.  A
    sent email is recorded in the store (see ``RunOptions.email_once``).
    """
    if not (opts.commit or opts.push or opts.email):
        return  # nothing to deliver: git, SMTP and the HTML renderer stay unloaded
    from .deliver import deliver_to_git, email_subject, send_digest_email

    failures: list[DeliveryError] = []
    if opts.commit or opts.push:
        try:
            delivered = deliver_to_git(
                config.git, config.digest.output, opts.month, result.written, push=opts.push
            )
            result.notes += delivered.notes  # "committed HASH on main", "pushed to origin main"
        except DeliveryError as exc:
            failures.append(exc)
    sent_before = store.get_meta(EMAILED_KEY.format(month=opts.month)) if opts.email else None
    if opts.email and not _emailing(store, opts):
        result.notes.append(f"already emailed ({sent_before}); not sent again")
    elif opts.email:
        # Sent before, a run that emails once sends it to whom it is still owed only.
        owed = _owed(store, opts.month) if opts.email_once and sent_before else None
        recipients = config.email.to if owed is None else owed

        def record(sent: EmailSent | None) -> None:
            """What the server took, and whom it refused for now (owed until sent);
            None: it may have taken it (unconfirmed, or stopped at that point), and a
            retry by the scheduler must not send a second copy."""
            if sent is None:
                _record_email(store, opts.month, recipients, unconfirmed=True, owed_before=owed)
            else:
                _record_email(
                    store, opts.month, sent.accepted, owed_before=owed, owed_now=sent.deferred
                )

        try:
            markdown_text, png = email_body(config, result)
            sent = send_digest_email(
                config.email,
                email_subject(opts.month),
                markdown_text,
                png_attachment=png,
                only=owed,
                possibly_sent=record,  # when stopped (Ctrl-C) once the server has it
            )
            result.notes += sent.notes(sent_before)
            record(sent)
            refused_for_now = sent.deferred_error()
            if refused_for_now is not None:  # the run fails, so the scheduler sends again
                failures.append(refused_for_now)
        except EmailUnconfirmedError as exc:
            record(None)
            failures.append(exc)
        except DeliveryError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise DeliveryError("; and ".join(str(f) for f in failures))


def _record_email(
    store: Store,
    month: Month,
    recipients: list[str],
    *,
    unconfirmed: bool = False,
    owed_before: list[str] | None = None,
    owed_now: list[str] | None = None,
) -> None:
    """Record a sending of the month's email, and whom it is still owed (``owed_now``:
    refused for now).  Best effort: a read-only store only loses the guard against
    sending twice.  The first sending is what is kept ("first sent ..." when sent
    again); a sending to the recipients still owed it (``owed_before``) is added."""
    key = EMAILED_KEY.format(month=month)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    note = ", unconfirmed by the server" if unconfirmed else ""
    sending = f"{stamp} to {', '.join(recipients)}{note}"
    try:
        with store.transaction():
            before = store.get_meta(key)
            if before is None:
                store.set_meta(key, sending)
            elif owed_before is not None and recipients:
                store.set_meta(key, f"{before}; {sending}")
            store.set_meta(EMAIL_OWED_KEY.format(month=month), json.dumps(owed_now or []))
    except (sqlite3.Error, StoreError) as exc:
        log.warning("could not record in %s that the digest was emailed: %s", store.path, exc)


def _newest_full_month(counts: dict[str, int]) -> Month | None:
    """The newest month not partial (see :class:`~.trends.TrendOptions`): a fetch
    stores the few papers of the next month submitted after the last deadline, a month
    nobody asked about."""
    if not counts:
        return None
    enough = max(counts.values()) * PARTIAL_RATIO
    return Month.parse(max(m for m, n in counts.items() if n >= enough))


def category_counts(
    store: Store, config: Config, month: Month | None
) -> tuple[Month | None, list[tuple[str, int | None, Category]]]:
    """Papers per configured category for a month (default: the newest month the store
    holds more than a sliver of)."""
    categories = effective_categories(config)
    if month is None:
        month = _newest_full_month(store.month_counts(config.digest.by))
    if month is None:
        return None, [(c.name, None, c) for c in categories]
    papers = store.papers_for_month(month, by=config.digest.by)
    ranking = rank_month(store, config, month, papers, categories)
    return month, [(c.name, len(ranking.by_category[c.name]), c) for c in categories]


def email_body(config: Config, result: RunResult) -> tuple[str, bytes | None]:
    """The digest for email: the chart as a PNG instead of a Mermaid block."""
    import dataclasses

    from .chart import render_png
    from .render import render_markdown
    from .trends import render_trends_section

    section = result.trends
    # run_month never reuses a saved digest when it emails, so both were built.
    assert result.digest is not None and section is not None
    digest = dataclasses.replace(
        result.digest,
        trends_markdown=render_trends_section(
            section,
            templates_dir=config.digest.templates_dir or None,
            chart="none",
            # Mail readers show <details> as literal text: the candidate entries are
            # written out instead of folded away.
            collapsible=False,
        ),
    )
    text = render_markdown(digest, config.digest.templates_dir)
    return text, render_png(section.volume, section.chart_title)


def scheduler(config: Config, *, reporter: Any = None) -> BaseScheduler:
    """The scheduler ``trenddigest schedule`` runs (not started): the poll and the
    digest job through this pipeline, the arXiv client and the store lock.  (Here, not
    in :mod:`.schedule`, which the config's checks import: the ranker's cache key
    follows every module it reaches.)

    The jobs wait (arXiv's backoff and spacing, the store's lock) through the stop
    request, so SIGTERM ends such a wait at once instead of after minutes of backoff.
    """
    from .lock import store_lock
    from .schedule import StopRequest, build_scheduler
    from .sources.client import ArxivClient
    from .sources.poll import poll_feeds

    path = config.store.path
    stop = StopRequest()

    def lock() -> AbstractContextManager[object]:
        return store_lock(path, timeout=config.store.lock_timeout_seconds, sleep=stop.sleep)

    def poll() -> str:
        with (
            lock(),
            Store.open(path) as store,
            ArxivClient(config.arxiv, sleep=stop.sleep) as client,
        ):
            return poll_feeds(store, config.arxiv, client).describe()

    def run_digest(month: Month) -> str:  # called with the store lock held
        opts = RunOptions(
            month=month,
            commit=config.git.commit,
            push=config.git.push,
            email=config.email.enabled,
            email_once=True,
        )
        with Store.open(path) as store, ArxivClient(config.arxiv, sleep=stop.sleep) as client:
            result = run_month(store, config, opts, reporter=reporter, client=client)
        return ", ".join(str(p) for p in result.written)

    return build_scheduler(config, path, run_digest, poll, lock=lock, stop=stop)
