"""One month's digest, end to end: sources -> store -> rank (+ trends) -> render -> deliver.

The CLI and the scheduler both call :func:`run_month`; neither knows the stages.
Every failure is a :class:`~trenddigest.errors.TrendDigestError`, raised before any
digest file is replaced, so a failed run leaves the previous digest as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import cached_ranking
from .categories import Category, find_categories_file, load_categories
from .config import Config
from .errors import DeliveryError, InputError
from .models import Month
from .rank import rank_papers
from .render import (
    Digest,
    build_digest,
    output_path,
    render_json,
    render_markdown,
    write_atomic,
)
from .store import Store

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


@dataclass
class RunResult:
    digest: Digest
    text: str
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trends: Any = None


def effective_categories(config: Config) -> list[Category]:
    """``--categories`` / ``[digest] categories_file``, else ./config/, else the packaged file."""
    path = config.digest.categories_file or None
    return load_categories(find_categories_file(Path(path) if path else None))


def fill_month(store: Store, config: Config, opts: RunOptions, **fetch_kwargs: Any) -> list[str]:
    """Bring the month's papers into the store: from files, or from arXiv unless offline."""
    notes: list[str] = []
    if opts.from_files:
        from .sources.files import import_files

        summary = import_files(store, opts.from_files)
        notes.append(f"imported {summary.describe()}")
    elif not opts.offline:
        from .sources.backfill import fetch_month

        fetched = fetch_month(store, config.arxiv, opts.month, **fetch_kwargs)
        notes.append(f"fetched {fetched.describe()}")
    return notes


def build_month_digest(store: Store, config: Config, month: Month) -> tuple[Digest, Any]:
    """Rank the stored month, add its trends, and assemble everything its page shows.

    Returns the digest and the trends section (the email needs its chart).
    """
    from .trends import TrendOptions, build_trends_section, render_trends_section, section_to_json

    by = config.digest.by
    papers = store.papers_for_month(month, by=by)
    if not papers:
        which = "first submitted" if by == "submitted" else "announced"
        raise InputError(
            f"the store {store.path} has no papers {which} "
            f"in {month}; import a file (trenddigest import FILE), use --from FILE, "
            "or run without --offline to fetch the month from arXiv"
        )
    categories = effective_categories(config)
    ranking = cached_ranking(
        store, month, papers, categories, config.rank, rank_papers,
        by=by, min_score=config.digest.threshold,
    )  # fmt: skip
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
    return digest, section


def run_month(store: Store, config: Config, opts: RunOptions, **fetch_kwargs: Any) -> RunResult:
    notes = fill_month(store, config, opts, **fetch_kwargs)
    digest, section = build_month_digest(store, config, opts.month)
    markdown_path = output_path(config.digest.output, opts.month)
    json_path = output_path(config.digest.output, opts.month, "json")
    json_text = render_json(digest)
    text = json_text if opts.fmt == "json" else render_markdown(digest, config.digest.templates_dir)
    result = RunResult(digest=digest, text=text, notes=notes, trends=section)
    if opts.dry_run:
        return result
    if opts.fmt == "json":
        write_atomic(json_path, json_text)
        result.written.append(json_path)
    else:
        # The JSON twin is what other tools (and the README index) read.
        write_atomic(markdown_path, text)
        write_atomic(json_path, json_text)
        result.written += [markdown_path, json_path]
    deliver(config, opts, result)
    return result


def deliver(config: Config, opts: RunOptions, result: RunResult) -> None:
    """Commit and/or email a written digest.

    Each channel is tried even when an earlier one failed (a broken SMTP login should
    not stop the commit, nor the reverse); the first failure is raised afterwards, so
    the run still ends non-zero with a message, while the digest stays written.
    """
    from .deliver import deliver_to_git, email_subject, send_digest_email

    failures: list[DeliveryError] = []
    if opts.commit or opts.push:
        try:
            commit = deliver_to_git(
                config.git, config.digest.output, opts.month, result.written, push=opts.push
            )
            result.notes.append(f"committed {commit}" if commit else "nothing new to commit")
        except DeliveryError as exc:
            failures.append(exc)
    if opts.email:
        try:
            markdown_text, png = email_body(config, result)
            send_digest_email(
                config.email, email_subject(opts.month), markdown_text, png_attachment=png
            )
            result.notes.append(f"emailed to {', '.join(config.email.to)}")
        except DeliveryError as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


def category_counts(
    store: Store, config: Config, month: Month | None
) -> tuple[Month | None, list[tuple[str, int | None, Category]]]:
    """Papers per configured category for a month (default: the newest month stored)."""
    categories = effective_categories(config)
    if month is None:
        months = store.month_counts(config.digest.by)
        month = Month.parse(max(months)) if months else None
    if month is None:
        return None, [(c.name, None, c) for c in categories]
    papers = store.papers_for_month(month, by=config.digest.by)
    ranking = rank_papers(papers, categories, config.rank, min_score=config.digest.threshold)
    return month, [(c.name, len(ranking.by_category[c.name]), c) for c in categories]


def email_body(config: Config, result: RunResult) -> tuple[str, bytes | None]:
    """The digest for email: the chart as a PNG instead of a Mermaid block."""
    import dataclasses

    from .chart import render_png
    from .trends import render_trends_section

    section = result.trends
    digest = dataclasses.replace(
        result.digest,
        trends_markdown=render_trends_section(
            section, templates_dir=config.digest.templates_dir or None, chart="none"
        ),
    )
    text = render_markdown(digest, config.digest.templates_dir)
    return text, render_png(section.volume, section.chart_title)
