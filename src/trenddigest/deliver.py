"""Delivering a written digest: README index, git commit (and push), email.

Delivery happens after the digest files are safely on disk, so every failure here is
a :class:`DeliveryError` that leaves the digest itself in place: the user fixes git
or SMTP and delivers again.  Git runs as a subprocess without a shell; SMTP goes
through :mod:`smtplib`; the password only ever comes from the environment.
"""

from __future__ import annotations

import contextlib
import email.generator
import email.policy
import email.utils
import glob
import hashlib
import io
import json
import logging
import os
import re
import smtplib
import socket
import ssl
import string
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote
from xml.etree.ElementTree import Element, SubElement

import jinja2
import markdown
from markdown.extensions.toc import TocExtension
from markdown.inlinepatterns import SubstituteTagInlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import HTML_PLACEHOLDER_RE
from markupsafe import Markup

from .config import EmailConfig, GitConfig, check_email
from .errors import DeliveryError, EmailUnconfirmedError, InputError
from .markdown import Fences
from .models import Month
from .render import (
    HeadingSlugger,
    check_output_pattern,
    counted,
    md_escape,
    write_atomic,
)

log = logging.getLogger(__name__)

INDEX_START = "<!-- trenddigest:index:start -->"
INDEX_END = "<!-- trenddigest:index:end -->"
INDEX_HEADING = "## Research Trends"
EMAIL_TEMPLATE = "email.html.j2"
# The chart's Content-ID is "chart-HASH@" this: a domain no one can own (RFC 2606).
CHART_CID_DOMAIN = "trenddigest.invalid"
GIT_TIMEOUT_SECONDS = 300.0


# -- git ------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Git and SMTP servers answer in several lines; errors here are one line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
    return re.sub(r"\s+", " ", " ".join(lines))[:400]


def _run_git(
    args: list[str], cwd: Path, timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # Never stop an unattended run at a username/password prompt.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            # File contents pass through byte for byte, whatever the locale says.
            encoding="utf-8",
            errors="surrogateescape",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise DeliveryError(
            "git is not installed (or not on PATH); cannot commit the digest"
        ) from None
    except subprocess.TimeoutExpired:
        raise DeliveryError(
            f"git {_subcommand(args)} took longer than {timeout:.0f} s; gave up"
        ) from None


def _subcommand(args: list[str]) -> str:
    """The git command ``args`` run ("add" in ``--literal-pathspecs add ...``), for messages."""
    return next((arg for arg in args if not arg.startswith("-")), args[0])


def _reason(proc: subprocess.CompletedProcess[str]) -> str:
    return _one_line(proc.stderr) or _one_line(proc.stdout) or f"exit code {proc.returncode}"


def _git(
    args: list[str], cwd: Path, *, timeout: float = GIT_TIMEOUT_SECONDS, stdin: str | None = None
) -> str:
    """Run ``git args`` in ``cwd``; its stdout, or a DeliveryError with git's own reason."""
    proc = _run_git(args, cwd, timeout, stdin)
    if proc.returncode != 0:
        raise DeliveryError(f"git {_subcommand(args)} failed in {cwd}: {_reason(proc)}")
    return proc.stdout


# The way out of a refused commit, whether --commit or the config asked for it.
STOP_COMMITTING = "or stop committing: --no-commit, or [git] commit and push off"


def repository_root(folder: Path) -> Path:
    """The top of the git work tree that contains ``folder``."""
    proc = _run_git(["rev-parse", "--show-toplevel"], folder, GIT_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        reason = _reason(proc)
        if "not a git repository" in reason:
            here = _run_git(["rev-parse", "--show-toplevel"], Path.cwd(), GIT_TIMEOUT_SECONDS)
            if here.returncode == 0:  # the digest goes outside the repository run in
                raise DeliveryError(
                    f"cannot commit the digest: {folder} is outside the git repository "
                    f"{here.stdout.strip()} this command runs in; choose a [digest] output "
                    f"inside it, {STOP_COMMITTING}"
                )
            raise DeliveryError(
                f"cannot commit the digest: {folder} is not inside a git repository; run "
                f"'git init' there, {STOP_COMMITTING}"
            )
        raise DeliveryError(f"cannot commit the digest: git cannot use {folder}: {reason}")
    return Path(proc.stdout.strip()).resolve()


def _staged(root: Path) -> list[str]:
    out = _git(["diff", "--cached", "--name-only", "-z"], root)
    return [name for name in out.split("\0") if name]


class CommitTargets(NamedTuple):
    """Where a digest commit goes: the repository, each path in it, the branch."""

    root: Path
    relative: list[str]
    branch: str


def check_commit_targets(
    paths: list[Path], *, remote: str = "origin", wanted_branch: str = ""
) -> CommitTargets:
    """Where ``paths`` would be committed: the repository root, each path within it, and
    the branch checked out.

    Works for files not written yet (the README index, or a digest before its run
    writes it), so that every reason a commit would be refused comes before anything
    is written: no git repository, a detached HEAD or another branch than the one the
    digests go on (see :func:`_check_branch`), a path outside the repository, or
    changes already staged there, the README's and the digest's own included (the
    commit takes what is staged: a half-written README paragraph staged by its owner
    would be committed as part of the digest).  The repository is the one holding the
    first path.
    """
    if not paths:
        raise ValueError("a commit needs at least the digest's path")
    root = repository_root(_existing_folder(paths[0].resolve().parent))
    head = _run_git(["symbolic-ref", "-q", "--short", "HEAD"], root, GIT_TIMEOUT_SECONDS)
    if head.returncode != 0:
        # A commit on a detached HEAD is reachable from no branch: the next checkout
        # leaves it behind, and "git push REMOTE HEAD" has no branch to push to.
        raise DeliveryError(
            f"cannot commit the digest: {root} has a detached HEAD (no branch checked out), "
            "where a commit belongs to no branch; check out the branch the digests go on "
            f"(git switch BRANCH), {STOP_COMMITTING}"
        )
    branch = head.stdout.strip()
    _check_branch(root, branch, remote, wanted_branch)
    relative: list[str] = []
    for path in paths:
        try:
            relative.append(path.resolve().relative_to(root).as_posix())
        except ValueError:
            raise DeliveryError(
                f"cannot commit {path}: it is outside the git repository {root}; choose "
                f"paths inside it ([digest] output, [git] readme), {STOP_COMMITTING}"
            ) from None
    _check_not_ignored(root, relative)
    # The digest's own paths too: a README draft staged there would go into the
    # "digest: YYYY-MM" commit with the index, and a staged digest be replaced unseen.
    others = sorted(set(_staged(root)))
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise DeliveryError(
            f"refusing to commit the digest: changes are already staged in {root} "
            f"({shown}); commit or unstage them first"
        )
    return CommitTargets(root, relative, branch)


def _check_not_ignored(root: Path, relative: list[str]) -> None:
    """Refuse a path git ignores (and does not track): ``git add`` would refuse it
    after the digest is written, every month, its advice ("Use -f") cut from the
    one-line error.  The rule that ignores it is named, so the fix is one line."""
    proc = _run_git(
        ["check-ignore", "--verbose", "-z", "--stdin"],
        root,
        GIT_TIMEOUT_SECONDS,
        stdin="".join(f"{rel}\0" for rel in relative),
    )
    if proc.returncode not in (0, 1):  # 1: nothing is ignored
        raise DeliveryError(f"git check-ignore failed in {root}: {_reason(proc)}")
    fields = proc.stdout.split("\0")
    for source, line, pattern, path in zip(*[iter(fields)] * 4, strict=False):
        if pattern.startswith("!"):  # --verbose shows the rules that let a path in, too
            continue
        raise DeliveryError(
            f"cannot commit the digest: git ignores {path} ({source} line {line}: "
            f"{pattern}); un-ignore it there, or choose paths it does not ignore ([digest] "
            f"output, [git] readme), {STOP_COMMITTING}"
        )


def _git_value(args: list[str], root: Path) -> str:
    """What a git query prints, or "" when it fails (an unset key, a missing ref)."""
    proc = _run_git(args, root, GIT_TIMEOUT_SECONDS)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _check_branch(root: Path, branch: str, remote: str, wanted: str = "") -> None:
    """Refuse to commit on a branch other than the one the digests go on.

    A repository left on a private branch (``git switch -c wip``, pushed or not) would
    take the digest commit there, and ``git push REMOTE HEAD`` would publish the
    branch, private commits and all: the lab sees neither the digest nor its index
    on the default branch.  The digests go on ``[git] branch`` when it is set (a
    dedicated ``digests`` branch), else on the remote's default branch
    (``REMOTE/HEAD``, which ``git clone`` records), else (a CI checkout records none)
    on the branch the current one tracks there; a repository that knows none of them
    (no remote, no commit yet) is committed to on whatever branch it is on.
    """
    if wanted:
        expected, which = wanted, "[git] branch"
    else:
        default = _git_value(["symbolic-ref", "-q", "--short", f"refs/remotes/{remote}/HEAD"], root)
        expected = default.removeprefix(f"{remote}/") if default.startswith(f"{remote}/") else ""
        which = f"the default branch of {remote} (or set [git] branch)"
        tracked_remote = _git_value(["config", "--get", f"branch.{branch}.remote"], root)
        merge = _git_value(["config", "--get", f"branch.{branch}.merge"], root)
        if not expected and tracked_remote == remote and merge.startswith("refs/heads/"):
            expected = merge.removeprefix("refs/heads/")
            which = f"the branch it tracks on {remote} (or set [git] branch)"
    if expected and expected != branch:
        raise DeliveryError(
            f"cannot commit the digest: the branch checked out in {root} is {branch}, but "
            f"the digests go on {expected}, {which}; switch to it (git switch {expected}), "
            f"{STOP_COMMITTING}"
        )


def _existing_folder(folder: Path) -> Path:
    """``folder``, or its nearest ancestor that exists (git needs a real folder to run in)."""
    return next(f for f in (folder, *folder.parents) if f.is_dir())


def commit_digest(
    paths: list[Path],
    month: Month | str,
    push: bool = False,
    remote: str = "origin",
    *,
    contents: Mapping[Path, str] | None = None,
    branch: str = "",
) -> str | None:
    """Commit ``paths`` (the digest, its JSON twin, the README) as ``digest: YYYY-MM``.

    Returns the new commit's hash, or ``None`` when the files are unchanged (a re-run
    of the same month).  Refuses when anything is already staged (these paths
    included), so a digest commit never sweeps in someone's half-finished work;
    ``contents`` gives the text to commit for a path instead of the file on disk (the
    README: its index, without the owner's unstaged edits).  A refused commit unstages
    what it staged, so the next month's commit is not refused for this one's files.
    With ``push`` the current branch is pushed to ``remote`` even when nothing new was
    committed, which also delivers a commit whose earlier push failed.
    """
    if not paths:
        raise ValueError("commit_digest needs at least the digest's path")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DeliveryError(f"cannot commit the digest: {', '.join(missing)} does not exist")
    root, relative, _branch = check_commit_targets(paths, remote=remote, wanted_branch=branch)
    contents = contents or {}
    given = {rel: contents[p] for p, rel in zip(paths, relative, strict=True) if p in contents}
    commit: str | None = None
    try:
        plain = [rel for rel in relative if rel not in given]
        if plain:  # literal: "dig[1]/2025-05.md" must not also stage "dig1/2025-05.md"
            # --force: none of them is ignored (check_commit_targets said so), but git
            # still refuses a tracked file in an ignored folder, after staging it.
            _git(["--literal-pathspecs", "add", "--force", "--", *plain], root)
        for rel, text in given.items():
            _stage_text(root, rel, text)
        staged = _staged(root)
        _check_only_digest_staged(root, staged, relative)
        if not staged:
            log.info("digest for %s unchanged since the last commit; nothing to commit", month)
        else:
            # Only this digest's paths are staged (checked just now): commit the index,
            # not the work tree, so that what was staged is what is committed.
            _git(["commit", "--quiet", "-m", f"digest: {month}"], root)
            commit = _git(["rev-parse", "HEAD"], root).strip()
            log.info("committed %s digest: %s", commit[:12], month)
    except BaseException:
        # Also when stopped (Ctrl-C, SIGTERM) while git commits: left staged, this
        # run's files would refuse every later run's commit as changes already staged.
        with contextlib.suppress(DeliveryError):
            _git(["--literal-pathspecs", "reset", "--quiet", "--", *relative], root)
        raise
    if push:
        proc = _run_git(["push", "--quiet", remote, "HEAD"], root, GIT_TIMEOUT_SECONDS)
        if proc.returncode != 0:
            # The run's summary is lost with the error: it names the commit made.
            done = f"committed as {commit}" if commit else "committed (before this run)"
            raise DeliveryError(
                f"git push failed in {root}: {_reason(proc)}; the digest is {done}: fix "
                f"the remote, then run again with --push (or: git push {remote} HEAD)"
            )
        log.info("pushed to %s", remote)
    return commit


def _check_only_digest_staged(root: Path, staged: list[str], relative: list[str]) -> None:
    """Refuse a commit that would take more than the digest's own paths.

    The commit takes everything staged.  Other changes staged beforehand are refused
    before anything is staged; this catches what staging the digest itself brought
    in (a path that turned out to be a folder) or what was staged meanwhile.  The
    caller unstages the digest's paths; anything else staged is left for its owner.
    """
    own = set(relative)
    others = [name for name in staged if name not in own]
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise DeliveryError(
            f"refusing to commit the digest: staging it also staged what is not the "
            f"digest's in {root} ({shown}); nothing was committed, and the digest's paths "
            "were unstaged again"
        )


def _stage_text(root: Path, relative: str, text: str) -> None:
    """Stage ``text`` as the content of ``relative`` without touching the file on disk."""
    listed = _git(["--literal-pathspecs", "ls-files", "--stage", "-z", "--", relative], root)
    mode = listed.split(" ", 1)[0] if listed else "100644"
    blob = _git(["hash-object", "-w", "--stdin"], root, stdin=text).strip()
    _git(["update-index", "--add", "--cacheinfo", f"{mode},{blob},{relative}"], root)


def _staged_text(root: Path, relative: str) -> str | None:
    """The staged content of ``relative`` (the last commit's, unless staged since), or
    None when git does not track it as a plain file (untracked, or a symlink)."""
    listed = _git(["--literal-pathspecs", "ls-files", "--stage", "-z", "--", relative], root)
    if listed.split(" ", 1)[0] not in ("100644", "100755"):
        return None
    return _git(["cat-file", "blob", f":{relative}"], root)


# -- README index ------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """One month in the README index: where its digest is and its top picks."""

    month: str
    digest_path: Path
    picks: list[tuple[str, str]]  # (arxiv id, title)


def index_entry_from_json(path: Path, max_picks: int = 10) -> IndexEntry:
    """Read a digest's JSON twin (``--format json`` shape); the digest is the ``.md`` beside it.

    The month's top picks are listed; a digest without top picks contributes the best
    paper of each category instead, so the index never shows a month with nothing.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        month = str(Month.parse(data["month"]))
        picks = [(str(p["id"]), str(p["title"])) for p in data.get("top_picks") or []]
        if not picks:
            for category in data.get("categories") or []:
                for paper in (category.get("papers") or [])[:1]:
                    pick = (str(paper["id"]), str(paper["title"]))
                    if pick not in picks:
                        picks.append(pick)
    except OSError as exc:
        raise DeliveryError(f"cannot read digest data {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeliveryError(
            f"{path} is not a trenddigest JSON digest ({type(exc).__name__}: {exc})"
        ) from None
    return IndexEntry(month=month, digest_path=path.with_suffix(".md"), picks=picks[:max_picks])


def _readable_entries(
    twins: Iterable[Path], max_picks: int, warned: set[Path] | None
) -> list[IndexEntry]:
    """The index entries of the JSON twins that can be read.

    One unreadable twin (a merge conflict left in it, a hand edit gone wrong) must
    not stop the delivery of every later month: its month is left out of the index,
    with a warning naming the file, once however many ways it is found (``warned``
    is shared between the lookups of one delivery).
    """
    warned = set() if warned is None else warned
    entries = []
    for twin in twins:
        try:
            entries.append(index_entry_from_json(twin, max_picks))
        except DeliveryError as exc:
            if twin.resolve() not in warned:
                warned.add(twin.resolve())
                log.warning(
                    "leaving %s out of the README index: %s; repair it, or delete it and "
                    "run that month again",
                    twin.with_suffix(".md"),
                    exc,
                )
    return entries


def index_entries_for_pattern(
    output_pattern: str, max_picks: int = 10, *, warned: set[Path] | None = None
) -> list[IndexEntry]:
    """Every digest written so far under the config's ``digest.output`` pattern.

    The index is rebuilt from the files each time rather than patched, so deleting
    or re-running a month always ends in the same README (the months found under an
    earlier pattern come from :func:`index_entries_linked_from`).  A digest whose JSON
    twin cannot be read is left out (see :func:`_readable_entries`).
    """
    check_output_pattern(output_pattern)
    pattern = Path(_glob_for_pattern(output_pattern)).with_suffix(".json")
    base = Path(pattern.anchor) if pattern.is_absolute() else Path()
    relative = pattern.relative_to(pattern.anchor) if pattern.is_absolute() else pattern
    found = sorted(p for p in base.glob(str(relative)) if p.with_suffix(".md").is_file())
    return _readable_entries(found, max_picks, warned)


_INDEX_LINK = re.compile(r"^\*\*.+\*\* · \[full digest\]\(([^)\s]+)\)$")


def index_entries_linked_from(
    readme: Path, max_picks: int = 10, *, warned: set[Path] | None = None
) -> list[IndexEntry]:
    """The months the README's index already lists whose digest is still on disk.

    Changing ``digest.output`` must not drop the months written under the old pattern
    from the index: the README itself remembers where they are.  A month whose digest
    (or its JSON twin) was deleted, or cannot be read, is left out.
    """
    try:
        text = readme.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):  # update_readme_index says what is wrong
        return []
    start, end = _index_span(text)
    if start < 0 or end < start:
        return []
    twins = []
    for line in text[start:end].splitlines():
        match = _INDEX_LINK.match(line.strip())
        if match is None:
            continue
        digest = readme.parent / unquote(match[1])
        twin = digest.with_suffix(".json")
        if digest.suffix == ".md" and digest.is_file() and twin.is_file():
            twins.append(twin)
    return _readable_entries(twins, max_picks, warned)


def _glob_for_pattern(output_pattern: str) -> str:
    """The glob matching every path ``output_pattern`` gives, and only those.

    The pattern's own text is escaped: a folder named ``dig[1]`` or ``a*b`` is a name,
    not a glob class or wildcard.  Only ``{year}`` and ``{month}`` become digits.
    """
    digits = {"year": "[0-9]" * 4, "month": "[0-9]" * 2}
    return "".join(
        glob.escape(literal) + (digits[field] if field is not None else "")
        for literal, field, _spec, _conversion in string.Formatter().parse(output_pattern)
    )


def _link_target(path: Path, readme_dir: Path) -> str:
    relative = os.path.relpath(path.resolve(), readme_dir.resolve())
    return quote(Path(relative).as_posix(), safe="/-._~")


def render_index(entries: Iterable[IndexEntry], readme_dir: Path, max_months: int = 12) -> str:
    """The Markdown between the markers: years, "May, 2025" headings, one bullet a pick.

    Newest month first, as in the seed reading list's Research Trends section.
    """
    by_month = {entry.month: entry for entry in entries}
    months = sorted(by_month, reverse=True)[: max(max_months, 0)]
    lines = [
        INDEX_START,
        "<!-- Written by trenddigest from the digests; edits here are replaced. -->",
    ]
    if not months:
        lines += ["", "_No digests yet._"]
    year = None
    for key in months:
        entry = by_month[key]
        month = Month.parse(key)
        if month.year != year:
            year = month.year
            lines += ["", f"### {year}"]
        link = _link_target(entry.digest_path, readme_dir)
        lines += ["", f"**{month.label}** · [full digest]({link})"]
        lines += [
            f"- [{md_escape(title)}](https://arxiv.org/abs/{pid})" for pid, title in entry.picks
        ]
    lines.append(INDEX_END)
    return "\n".join(lines)


def update_readme_index(readme: Path, entries: list[IndexEntry], max_months: int = 12) -> bool:
    """Rewrite the index between the marker comments; returns whether the file changed.

    Everything outside the markers is kept byte for byte (line endings included).  A
    README without markers gets a "Research Trends" section appended; a missing
    README is created.
    """
    try:
        original = readme.read_bytes().decode("utf-8") if readme.exists() else ""
    except UnicodeDecodeError:
        raise DeliveryError(f"{readme} is not UTF-8 text; cannot update its digest index") from None
    except OSError as exc:
        raise DeliveryError(f"cannot read {readme}: {exc.strerror or exc}") from None
    text = readme_with_index(original, readme, entries, max_months)
    if text == original:
        return False
    try:
        write_atomic(readme, text)
    except InputError as exc:  # the digest is written; only its index entry is not
        raise DeliveryError(str(exc)) from exc
    return True


def _index_span(text: str) -> tuple[int, int]:
    """Where the index's start and end markers stand (-1 for a missing one)."""
    start = _marker_at(text, INDEX_START)
    return start, _marker_at(text, INDEX_END, max(start, 0))


def _indent(line: str) -> int:
    """The columns of ``line``'s leading blanks, a tab reaching the next multiple of 4."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))


def _marker_at(text: str, marker: str, start: int = 0) -> int:
    """Where ``marker`` stands on a line of its own, outside code blocks, or -1.

    A README that explains the index (this project's own does) quotes the markers in
    its prose or in a code block; only a marker line is the index's place.  Code
    blocks are found as CommonMark (GitHub) finds them, so the index is never written
    into one: a line indented 4 or more columns is indented code; a fence of N
    backticks (or tildes) ends only at a line of at least N of the same character,
    indented less than 4 spaces, with nothing after but blanks.  A byte-order mark
    before the first line is not part of it.
    """
    offset, fences = 0, Fences()
    for line in text.splitlines(keepends=True):
        body = line.splitlines()[0]  # without its line break
        if offset == 0:
            body = body.removeprefix("\ufeff")
        # (inside() first, on every line: it follows the fences from line to line)
        coded = fences.inside(body)
        if not coded and body.strip() == marker and _indent(body) < 4 and offset >= start:
            return offset + line.index(marker)
        offset += len(line)
    return -1


def _newline_of(text: str) -> str:
    """The line ending ``text`` uses (CRLF, or a lone CR as old Mac files have), else LF."""
    if "\r\n" in text:
        return "\r\n"
    return "\r" if "\r" in text and "\n" not in text else "\n"


def readme_with_index(
    original: str, readme: Path, entries: Iterable[IndexEntry], max_months: int = 12
) -> str:
    """``original`` (the text of ``readme``) with its index block replaced, or appended."""
    newline = _newline_of(original)
    block = render_index(entries, readme.parent, max_months).replace("\n", newline)
    start, end = _index_span(original)
    if start >= 0 and end >= 0:
        text = original[:start] + block + original[end + len(INDEX_END) :]
    elif start < 0 and end < 0:
        prefix = original
        if prefix and not prefix.endswith(("\n", "\r")):
            prefix += newline
        if prefix:
            prefix += newline
        text = f"{prefix}{INDEX_HEADING}{newline}{newline}{block}{newline}"
    else:
        raise DeliveryError(
            f"{readme} has only one of the markers {INDEX_START} / {INDEX_END} "
            "(or they are in the wrong order); fix them by hand or remove both"
        )
    return text


@dataclass(frozen=True)
class GitDelivery:
    """What :func:`deliver_to_git` did: the new commit (None: nothing new to commit),
    the branch it is on, and the remote it was pushed to (None: not pushed)."""

    commit: str | None
    branch: str
    pushed_to: str | None = None

    @property
    def notes(self) -> list[str]:
        """The run's lines for it: a digest that went somewhere says where."""
        done = [
            f"committed {self.commit} on {self.branch}"
            if self.commit
            else f"nothing new to commit on {self.branch}"
        ]
        if self.pushed_to is not None:
            done.append(f"pushed to {self.pushed_to} {self.branch}")
        return done


def deliver_to_git(
    git: GitConfig, output_pattern: str, month: Month | str, written: list[Path], push: bool
) -> GitDelivery:
    """Refresh the README index from every digest so far, then commit digest and README
    (a JSON-only digest alone: the index links Markdown digests).

    Everything that would refuse the commit (no repository, a README outside it,
    staged changes, the README's included) is checked before the README is touched,
    so a refused commit leaves no README written, least of all outside the
    repository.  The commit changes only the README's index: edits its owner has not
    staged stay in the file and out of the commit, and staged ones refuse it.
    """
    readme = Path(git.readme)
    if not any(path.suffix == ".md" for path in written):
        # JSON only (run --format json): the index links Markdown digests, which this
        # month has none of; rebuilt now, it would not list it ("No digests yet.").
        _, _, branch = check_commit_targets(written, remote=git.remote, wanted_branch=git.branch)
        commit = commit_digest(written, month, push=push, remote=git.remote, branch=git.branch)
        return GitDelivery(commit, branch, git.remote if push else None)
    root, relative, branch = check_commit_targets(
        [*written, readme], remote=git.remote, wanted_branch=git.branch
    )
    warned: set[Path] = set()  # an unreadable twin is named once, however it is found
    current = index_entries_for_pattern(output_pattern, warned=warned)
    months = {entry.month for entry in current}
    linked = index_entries_linked_from(readme, warned=warned)
    earlier = [e for e in linked if e.month not in months]
    entries = _committed_or_written(root, current + earlier, written)
    update_readme_index(readme, entries, git.index_months)
    contents: dict[Path, str] = {}
    tracked = _staged_text(root, relative[-1])
    if tracked is not None:
        contents[readme] = readme_with_index(tracked, readme, entries, git.index_months)
    commit = commit_digest(
        [*written, readme],
        month,
        push=push,
        remote=git.remote,
        contents=contents,
        branch=git.branch,
    )
    return GitDelivery(commit, branch, git.remote if push else None)


def _committed_or_written(
    root: Path, entries: list[IndexEntry], written: list[Path]
) -> list[IndexEntry]:
    """The index entries whose digest is in the repository or is being committed now.

    A digest on disk whose commit was refused (or that was made without --commit)
    would otherwise be linked from the committed README while not committed itself:
    a broken link on the repository's page.
    """
    now = {p.resolve() for p in written}
    others: dict[str, Path] = {}  # path inside the repository -> the digest
    for entry in entries:
        path = entry.digest_path.resolve()
        if path not in now:
            with contextlib.suppress(ValueError):  # outside the repository: never committed
                others[path.relative_to(root).as_posix()] = path
    committed: set[Path] = set()
    if others:  # literal: a folder named "dig[1]" is not a pattern
        listed = _git(["--literal-pathspecs", "ls-files", "-z", "--", *others], root)
        committed = {others[name] for name in listed.split("\0") if name in others}
    keep = now | committed
    return [e for e in entries if e.digest_path.resolve() in keep]


# -- email --------------------------------------------------------------------------------


class _NoRawHtml(markdown.Extension):
    """Show raw HTML in the Markdown as text: paper titles and abstracts are not ours.

    The digest escapes what GitHub (CommonMark) would read as markup in a title:
    ``\\$``, ``\\<``, ``\\~``...  Python-Markdown honours fewer escapes and would
    show the backslashes ("M\\$^3\\$-VQA"), so every ASCII punctuation character is
    escapable here, as in CommonMark.  And the digest breaks a line inside a paper's
    entry with CommonMark's other hard break, a backslash at the end of the line (two
    trailing spaces are stripped by the whitespace hooks many repositories run before
    a commit), which Python-Markdown would show as a backslash: it is a ``<br>`` here
    too, after the escapes (``\\\\`` at the end of a line is a backslash).
    """

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - markdown's API
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.ESCAPED_CHARS = sorted(set(md.ESCAPED_CHARS) | set(string.punctuation))
        # Between "escape" (180) and the two-space "linebreak" (100).
        md.inlinePatterns.register(
            SubstituteTagInlineProcessor(r"\\\n", "br"), "backslash-linebreak", 105
        )


# Gmail shows only the first 102 KB or so of an email's HTML and hides the rest behind
# "[Message clipped]": in a busy month the last categories would silently go missing.
# What counts is the HTML part as sent, transfer-encoded; the margin below 102 KB
# covers what mail readers and list servers add.
EMAIL_HTML_LIMIT = 90_000
TRENDS_HEADING = "Research trends"
MOMENTUM_HEADING = "Category momentum"
CHART_HEADING = "Papers per category"
CHART_ALT = "Papers per category, month by month"
# The id of a chart heading the email adds: a "." is in no heading's anchor, so no
# category's anchor is pushed to "-1" by it (the Overview's links were made without it).
CHART_HEADING_ID = "chart.papers-per-category"
# The line the digest's template writes above a category list it cut to the best
# papers, and the one above an emerging topic's entry for the categories file.
_DIGEST_TOP = re.compile(r"Top ([\d,]+) of ([\d,]+) papers\.")
TOML_INTRO = "Add it to the categories file:"
# The transfer encodings the HTML part may go with (the shorter is used).
_HTML_ENCODINGS = ("quoted-printable", "base64")


def _heading_level(element: Element) -> int:
    """1 to 6 for ``<h1>`` to ``<h6>``, 0 for anything else."""
    tag = element.tag
    return int(tag[1]) if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" else 0


def _find_heading(children: list[Element], text: str, start: int = 0, end: int = -1) -> int:
    """The index of the first heading reading ``text`` in ``children[start:end]``, or -1."""
    stop = len(children) if end < 0 else end
    for index in range(start, stop):
        element = children[index]
        if _heading_level(element) and _text(element) == text:
            return index
    return -1


def _section_end(children: list[Element], heading: int) -> int:
    """Where the section under ``children[heading]`` ends: its next heading of the same
    or a higher level (or the end of the page)."""
    level = _heading_level(children[heading])
    for index in range(heading + 1, len(children)):
        if 0 < _heading_level(children[index]) <= level:
            return index
    return len(children)


def _after_intro(children: list[Element]) -> int:
    """The place right after the title and the lines under it: the first heading after
    the ``<h1>`` (the top of the page when there is no title)."""
    title = next((i for i, el in enumerate(children) if _heading_level(el) == 1), -1)
    if title < 0:
        return 0
    return next(
        (i for i in range(title + 1, len(children)) if _heading_level(children[i])), len(children)
    )


def _text(element: Element) -> str:
    """All the text of an element, through its markup."""
    return "".join(element.itertext()).strip()


def _plain_text(element: Element) -> str:
    """The text of a paragraph without markup ("" for one with links or emphasis)."""
    return "" if len(element) else (element.text or "").strip()


def full_digest_name(subject: str) -> str:
    """The file name a shortened email attaches the full digest under."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")
    return f"{slug or 'digest'}.md"


class _EmailLayout(Treeprocessor):
    """Lays out the parsed digest for email: the chart where the digest has it, and,
    when ``keep`` is set, each category's list cut to its first ``keep`` papers; with
    ``drop_toml``, the emerging topics' entries for the categories file left out.

    Runs after the inline markup, so headings read as their text, and before the
    anchors are made.  The category lists are the numbered lists straight under a
    level-2 heading, as the digest template writes them (the trends' lists sit under
    level-3 headings, the top picks are a bulleted list): every category keeps its
    heading and best papers, and its count line says how many of how many it shows
    and how many more the attached digest has.
    """

    def __init__(
        self,
        md: markdown.Markdown,
        chart_cid: str | None,
        keep: int | None,
        attachment: str,
        *,
        drop_toml: bool = False,
    ) -> None:
        super().__init__(md)
        self.chart_cid = chart_cid
        self.keep = keep
        self.attachment = attachment
        self.drop_toml = drop_toml
        self.longest = 0  # the most papers a category lists, once run
        self.digest_cut = False  # whether the digest lists only the top of a category
        self.toml = 0  # the emerging topics' entries for the categories file

    def run(self, root: Element) -> None:
        if self.chart_cid:
            self._place_chart(root)
        self._toml_entries(root)
        shortened = self._shorten_lists(root)
        if shortened or (self.drop_toml and self.toml):
            self._say_shortened(root, shortened)

    def _place_chart(self, root: Element) -> None:
        """Where the digest draws its chart: in the trends part, after the momentum
        table; without a trends part, right after the title and the lines under it."""
        image = Element("p")
        SubElement(
            image, "img", {"class": "chart", "src": f"cid:{self.chart_cid}", "alt": CHART_ALT}
        )
        children = list(root)
        trends = _find_heading(children, TRENDS_HEADING)
        if trends < 0:
            root.insert(_after_intro(children), image)
            return
        end = _section_end(children, trends)
        own = _find_heading(children, CHART_HEADING, trends + 1, end)
        if own >= 0:  # a template that writes the heading itself
            root.insert(own + 1, image)
            return
        momentum = _find_heading(children, MOMENTUM_HEADING, trends + 1, end)
        at = trends + 1 if momentum < 0 else _section_end(children, momentum)
        heading = Element(f"h{min(_heading_level(children[trends]) + 1, 6)}")
        heading.text = CHART_HEADING
        # An id of its own: the anchors (made after this) keep the digest's numbering.
        heading.set("id", CHART_HEADING_ID)
        root.insert(at, heading)
        root.insert(at + 1, image)

    def _toml_entries(self, root: Element) -> None:
        """Counts the emerging topics' TOML entries (their introducing line, then the
        code block, which the fenced-code extension keeps in its stash until the end)
        and, with ``drop_toml``, puts a one-line pointer to the attachment in their place."""
        children = list(root)
        for index in range(1, len(children)):
            intro, block = children[index - 1], children[index]
            stashed = HTML_PLACEHOLDER_RE.fullmatch(_plain_text(block))
            if _plain_text(intro) != TOML_INTRO or stashed is None:
                continue
            raw = self.md.htmlStash.rawHtmlBlocks[int(stashed[1])]
            if not str(raw).startswith('<pre><code class="language-toml">'):
                continue
            self.toml += 1
            if self.drop_toml:
                root.remove(block)
                intro.set("class", "more")
                intro.text = "Its entry for the categories file is in the attached digest."

    def _shorten_lists(self, root: Element) -> bool:
        """Cuts each category's list to ``keep``; whether any was cut."""
        level = 0
        shortened = False
        children = list(root)
        for index, element in enumerate(children):
            if _heading_level(element):
                level = _heading_level(element)
                continue
            if element.tag != "ol" or level != 2:
                continue
            items = list(element)
            listed = len(items)
            self.longest = max(self.longest, listed)
            line = children[index - 1] if index and children[index - 1].tag == "p" else None
            # Read through markup: a template may set the line in italics.
            top = _DIGEST_TOP.fullmatch(_text(line)) if line is not None else None
            self.digest_cut = self.digest_cut or top is not None
            if self.keep is None or listed <= self.keep:
                continue
            shortened = True
            total = int(top[2].replace(",", "")) if top else listed
            for item in items[self.keep :]:
                element.remove(item)
            # The digest's "Top 10 of 77 papers." would claim 10 above a list of 4.
            note = Element("p", {"class": "more"})
            if self.keep:
                note.text = (
                    f"Top {self.keep} of {total:,} papers here; {listed - self.keep} more "
                    "in the attached digest."
                )
            elif total > listed:
                top_n = "the top paper is" if listed == 1 else f"the top {listed} are"
                note.text = f"{counted(total, 'paper')}; {top_n} in the attached digest."
            else:
                note.text = f"{counted(listed, 'paper')} in the attached digest."
            if top is not None and line is not None:
                root.remove(line)
            at = list(root).index(element)
            root.insert(at, note)
            if not self.keep:  # an empty list would show as nothing: the note replaces it
                root.remove(element)
        return shortened

    def _say_shortened(self, root: Element, lists: bool) -> None:
        left_out = []
        if lists:
            left_out.append(
                f"each category lists its top {counted(self.keep, 'paper')} here"
                if self.keep
                else "each category gives its number of papers only here"
            )
        if self.drop_toml and self.toml:
            left_out.append("the emerging topics' entries for the categories file are left out")
        if not lists:
            attached = f"The full digest is attached as {self.attachment}."
        else:
            # The digest itself lists each category's top n (of more), not every paper.
            has = f"each category's top {self.longest}" if self.digest_cut else None
            attached = (
                f"The full digest, with {has or 'every paper of each category'}, is attached "
                f"as {self.attachment}."
            )
        note = Element("p", {"class": "shortened"})
        strong = SubElement(note, "strong")
        strong.text = "Shortened for email:"
        strong.tail = (
            f" {' and '.join(left_out)}, so that mail readers such as Gmail show the whole "
            f"message instead of clipping its end. {attached}"
        )
        root.insert(_after_intro(list(root)), note)


class _Page(NamedTuple):
    html: str
    longest: int  # the most papers a category lists
    toml: int  # the emerging topics' entries for the categories file (kept or not)


def _email_page(
    subject: str,
    markdown_text: str,
    chart_cid: str | None,
    keep: int | None,
    *,
    drop_toml: bool = False,
) -> _Page:
    """The email's HTML with each category's list cut to ``keep`` papers (``None``:
    all) and, with ``drop_toml``, without the emerging topics' TOML entries."""
    # Headings get GitHub's anchors (a repeat numbered as GitHub numbers it), so the
    # Overview's links work in the email too; the slugger sees them in page order.
    slugger = HeadingSlugger()
    toc = TocExtension(slugify=lambda value, _separator: slugger(value))
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", _NoRawHtml(), toc],
        # align="right" rather than a style attribute repeated on every number.
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    layout = _EmailLayout(md, chart_cid, keep, full_digest_name(subject), drop_toml=drop_toml)
    # After "inline" (20): headings hold their text; before "toc" (5): anchors in order.
    md.treeprocessors.register(layout, "trenddigest-email-layout", 15)
    body = md.convert(markdown_text)
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    source = files("trenddigest.templates").joinpath(EMAIL_TEMPLATE).read_text(encoding="utf-8")
    html = env.from_string(source).render(subject=subject, body=Markup(body))
    return _Page(html, layout.longest, layout.toml)


# The policy the email is built, measured and sent in.  RFC 2045 (6.7) allows encoded
# lines of 76 characters, the email package 78 by default.  It folds headers to the same
# length, and folds a header that is one long word into encoded words: the chart's
# Content-ID is kept short enough (see chart_content_id) that it never is.  Bodies are
# 7-bit clean (quoted-printable or base64, never "8bit"): an 8bit body would need
# BODY=8BITMIME (RFC 6152), and a relay without 8BITMIME may mangle it.
_EMAIL_POLICY = email.policy.default.clone(max_line_length=76, cte_type="7bit")


def _as_sent(html: str) -> tuple[str, int]:
    """The transfer encoding the HTML part goes with and its size as sent, which is
    what Gmail measures.

    Quoted-printable keeps ASCII as it is (but for "=", which is "=3D", and a soft
    line break every 76 characters) and writes each other byte as "=XX": a page of
    titles in another script would be nearly three times its size.  Base64 is a third
    more whatever the text.  The shorter of the two is used, encoded by the email
    package as :func:`build_email` has it do; each line ends in CRLF on the wire.
    """
    sizes = []
    for encoding in _HTML_ENCODINGS:
        part = EmailMessage(policy=_EMAIL_POLICY)
        part.set_content(html, subtype="html", cte=encoding)
        payload = str(part.get_payload())
        sizes.append((len(payload) + payload.count("\n"), encoding))
    size, encoding = min(sizes)
    return encoding, size


def html_size_as_sent(html: str) -> int:
    """The bytes the email's HTML part takes on the wire (see :func:`_as_sent`)."""
    return _as_sent(html)[1]


@dataclass(frozen=True)
class EmailHtml:
    """The email's HTML; ``shown`` is the papers per category it lists when the lists
    were shortened to fit, and ``toml_left_out`` says the emerging topics' entries for
    the categories file were left out (either way the full digest goes along as an
    attachment).  ``transfer_encoding`` is the one its size was measured in."""

    html: str
    shown: int | None = None
    toml_left_out: bool = False
    transfer_encoding: str = "quoted-printable"

    @property
    def shortened(self) -> bool:
        return self.shown is not None or self.toml_left_out


def email_html(
    subject: str,
    markdown_text: str,
    chart_cid: str | None = None,
    *,
    limit: int = EMAIL_HTML_LIMIT,
) -> EmailHtml:
    """The digest as the email's HTML, within ``limit`` bytes as sent when it can be.

    A digest that fits is shown whole.  One that does not first loses the emerging
    topics' entries for the categories file (TOML that a reader copies from the
    attached digest anyway), then keeps every section, the trends and the top picks,
    and lists in each category as many of its best papers as fit, the same number in
    each (the most that fit), so no category is lost at the bottom; it says so under
    the title and names the attached full digest.
    """
    page = _email_page(subject, markdown_text, chart_cid, None)
    encoding, size = _as_sent(page.html)
    full = size
    drop = size > limit and page.toml > 0
    if drop:
        page = _email_page(subject, markdown_text, chart_cid, None, drop_toml=True)
        encoding, size = _as_sent(page.html)
    if size <= limit or not page.longest:
        if size > limit:
            log.warning(
                "the email's HTML is %d bytes as sent, over the %d that Gmail shows "
                "unclipped, and has no category lists to shorten",
                size,
                limit,
            )
        elif drop:
            log.info(
                "the email's HTML would be %d bytes as sent (Gmail clips after about 102 "
                "KB): it leaves out the emerging topics' TOML and attaches the full digest",
                full,
            )
        return EmailHtml(page.html, None, drop, encoding)
    best: EmailHtml | None = None
    low, high = 0, page.longest - 1  # the most papers per category that fit, by bisection
    while low <= high:
        keep = (low + high) // 2
        candidate = _email_page(subject, markdown_text, chart_cid, keep, drop_toml=drop).html
        encoding, size = _as_sent(candidate)
        if size <= limit:
            best, low = EmailHtml(candidate, keep, drop, encoding), keep + 1
        else:
            high = keep - 1
    if best is None:
        html = _email_page(subject, markdown_text, chart_cid, 0, drop_toml=drop).html
        encoding, size = _as_sent(html)
        best = EmailHtml(html, 0, drop, encoding)
        log.warning(
            "the email's HTML is %d bytes as sent even without the category lists, over "
            "the %d that Gmail shows unclipped: the end of the message may be clipped",
            size,
            limit,
        )
    log.info(
        "the email's HTML would be %d bytes as sent (Gmail clips after about 102 KB): it "
        "lists the top %d papers per category%s and attaches the full digest",
        full,
        best.shown,
        " without the emerging topics' TOML" if drop else "",
    )
    return best


def render_email_html(
    subject: str, markdown_text: str, chart_cid: str | None = None, *, limit: int = EMAIL_HTML_LIMIT
) -> str:
    """The email's HTML (see :func:`email_html`)."""
    return email_html(subject, markdown_text, chart_cid, limit=limit).html


def chart_content_id(png: bytes) -> str:
    """The chart's Content-ID (without the angle brackets): ``chart-HASH@trenddigest.invalid``.

    The HTML part names it in ``cid:``, so its length counts in the part's size as sent:
    one that varied from sending to sending (as :func:`email.utils.make_msgid`'s does,
    with its random part and the domain) could show one paper more or less per category
    for a month right at the limit.  Taken from the image's SHA-256, it is the same for
    the same chart, and still world-unique as RFC 2045 asks: another chart gets another
    id, and one id always names the same bytes.  The header line it makes, 72
    characters, is under the 76 that would fold it and break the HTML's link to it.
    """
    return f"chart-{hashlib.sha256(png).hexdigest()[:32]}@{CHART_CID_DOMAIN}"


def email_subject(month: Month) -> str:
    return f"Research trends, {month.label}"


def _send(
    smtp: smtplib.SMTP, msg: EmailMessage, recipients: list[str] | None = None
) -> dict[str, tuple[int, bytes]]:
    """``smtp.send_message(msg)``, but flattened without "From " mangling.

    send_message writes the message with a generator that puts ">" before every body
    line starting "From " (an mbox convention): a quoted-printable soft line break
    before a title such as "From Pixels to Words" would show the reader ">From".
    Otherwise as send_message: the addresses of From and To (or ``recipients``, the
    envelope's, when the message goes to only some of those its To header names),
    SMTPUTF8 when one of them needs it (refused in send_message's words when the
    server lacks it).
    """
    smtp.ehlo_or_helo_if_needed()
    sender = email.utils.getaddresses([msg["From"]])[0][1]
    named = [address for _, address in email.utils.getaddresses([msg["To"]])]
    envelope = named if recipients is None else recipients
    international = not all(a.isascii() for a in (sender, *named, *envelope))
    if international and not smtp.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError(
            "One or more source or delivery addresses require internationalized email "
            "support, but the server does not advertise the required SMTPUTF8 capability"
        )
    buffer = io.BytesIO()
    policy = _EMAIL_POLICY.clone(utf8=True) if international else _EMAIL_POLICY
    email.generator.BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(
        msg, linesep="\r\n"
    )
    options = ("SMTPUTF8", "BODY=8BITMIME") if international else ()
    return smtp.sendmail(sender, envelope, buffer.getvalue(), options)


def build_email(
    config: EmailConfig, subject: str, markdown_text: str, png_attachment: bytes | None = None
) -> EmailMessage:
    """multipart/alternative: the Markdown as text/plain, and HTML (with the chart inline).

    When the HTML had to show less to stay unclipped (see :func:`email_html`), the
    message is multipart/mixed with the full digest attached as a ``.md`` file.
    """
    msg = EmailMessage(policy=_EMAIL_POLICY)
    msg["Subject"] = subject
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=True)
    # The domain of the address itself: "Bot <d@lab.org>" or "d@lab.org (Bot)" must not
    # lend its ">" or comment to the Message-ID.
    domain = parseaddr(config.sender)[1].rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(markdown_text, subtype="plain")
    # The same chart, the same id: the same digest is laid out the same every time.
    cid = chart_content_id(png_attachment) if png_attachment else None
    page = email_html(subject, markdown_text, cid)
    # Sent in the encoding its size was measured in (see email_html).
    msg.add_alternative(page.html, subtype="html", cte=page.transfer_encoding)
    if png_attachment:
        html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        html_part.add_related(
            png_attachment,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename="trends.png",
        )
        # add_related turned the HTML part into multipart/related, whose root type
        # RFC 2387 requires.
        html_part.set_param("type", "text/html")
    if page.shortened:
        # The HTML shows less than the digest: the whole digest goes along,
        # readable where the plain-text part is not shown (Gmail never shows it).
        msg.add_attachment(markdown_text, subtype="markdown", filename=full_digest_name(subject))
    return msg


def _smtp_answer(code: int, text: bytes | str) -> str:
    """An SMTP reply as one line: ``550 5.1.1 no such user``."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {_one_line(decoded)}"


def _smtp_reason(exc: smtplib.SMTPResponseException) -> str:
    return _smtp_answer(exc.smtp_code, exc.smtp_error)


def _refusals(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    """``a@x.org (550 5.1.1 no such user), ...``: each refused address and the reason."""
    return ", ".join(
        f"{address} ({_smtp_answer(code, text)})"
        for address, (code, text) in sorted(refused.items())
    )


# OpenSSL's X509_V_ERR_*: self-signed leaf (18) or in the chain (19), issuer unknown (20, 21).
_UNTRUSTED_CERTIFICATE = {18, 19, 20, 21}


def _non_ascii(addresses: Iterable[str]) -> list[str]:
    """The configured addresses whose address part (not the name) is not ASCII."""
    return [a for a in addresses if not parseaddr(a)[1].isascii()]


# A session may take this many times [email] timeout_seconds in all, as an HTTP body
# may in the arXiv client (BODY_DEADLINE_TIMEOUTS): the timeout bounds each read, and a
# server trickling a line every few seconds ("220-please wait") never trips it; it
# would hold the run, and the scheduler's one worker, for as long as it trickled.
SESSION_DEADLINE_TIMEOUTS = 5


class _SessionDeadline(TimeoutError):
    """The SMTP session's overall deadline passed."""


class _Deadline:
    """The end of an SMTP session, on ``clock`` (monotonic seconds)."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self.end = clock() + seconds

    def timeout(self, per_operation: float) -> float:
        """The timeout of the next read or write: ``per_operation``, or what is left of
        the session when that is less; raises :class:`_SessionDeadline` when nothing is."""
        left = self.end - self.clock()
        if left <= 0:
            raise _SessionDeadline(f"the session took longer than {self.seconds:g} s")
        return min(per_operation, left)

    def passed(self) -> bool:
        return self.clock() >= self.end


class _DeadlineReader(io.RawIOBase):
    """What smtplib reads the server's replies from: the socket, each read given at
    most what is left of the session (a reply trickled byte by byte is cut off too)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline, timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._timeout = timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.timeout(self._timeout))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            if self._deadline.passed():  # the read was given only the session's rest
                raise _SessionDeadline(
                    f"the session took longer than {self._deadline.seconds:g} s"
                ) from None
            raise


class _Session(smtplib.SMTP):
    """An SMTP connection bounded by an overall deadline (:data:`SESSION_DEADLINE_TIMEOUTS`)
    besides smtplib's timeout for each read, that notes when the message's final "."
    has gone out (``message_sent``).

    From that point a failure is not a failed delivery but an unknown one: the server
    may have queued the digest, and sending it again would give everyone a second copy.
    """

    def __init__(
        self, host: str, port: int, *, timeout: float, deadline: _Deadline, **options: Any
    ) -> None:
        self.deadline = deadline
        self.message_sent = False
        # Connects, and reads the greeting, under the deadline already.
        super().__init__(host, port, timeout=timeout, **options)

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:  # anew after STARTTLS
            raw = _DeadlineReader(self.sock, self.deadline, self.timeout)
            self.file = io.BufferedReader(raw)
        return super().getreply()

    def send(self, s: Any) -> None:
        if not (isinstance(s, bytes) and s.endswith(b"\r\n.\r\n")):
            self._send_in_time(s)
            return
        # The message: all but its final ".", which ends it for the server, then that.
        self._send_in_time(s[:-3])
        # Set before the "." goes out: an interrupt may be handled as soon as it has,
        # before a line after the sending would run.
        self.message_sent = True
        try:
            self._send_in_time(s[-3:])
        except smtplib.SMTPServerDisconnected:  # it did not go out
            self.message_sent = False
            raise

    def _send_in_time(self, s: Any) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(self.deadline.timeout(self.timeout))
            except _SessionDeadline:
                self.close()
                # Its context, the deadline, is what send_digest_email tells it by.
                raise smtplib.SMTPServerDisconnected("the session's deadline passed")  # noqa: B904
        super().send(s)


class _SessionSSL(_Session, smtplib.SMTP_SSL):
    """:class:`_Session` over implicit TLS (``security = "ssl"``)."""


def _hang_up(smtp: smtplib.SMTP) -> None:
    """End a connection whose delivery failed: QUIT if the server still listens, then close."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()


def _say_goodbye(smtp: smtplib.SMTP, server: str) -> None:
    """QUIT after the server took the digest (answered the message's final "." with 2xx).

    The digest is delivered by then: a server that answers QUIT with an error or hangs
    up is only worth a warning.  Reporting it as a failure would make the scheduler,
    which records a month as emailed only on success, send the digest a second time.
    """
    try:
        code, answer = smtp.docmd("QUIT")
    except (smtplib.SMTPException, OSError) as exc:
        reason = _one_line(str(exc)) or type(exc).__name__
        log.warning(
            "SMTP server %s took the digest but the connection failed on QUIT (%s); "
            "the digest was sent",
            server,
            reason,
        )
    else:
        if code != 221:
            log.warning(
                "SMTP server %s took the digest but answered QUIT with %s; the digest was sent",
                server,
                _smtp_answer(code, answer),
            )
    finally:
        smtp.close()


def smtp_password(email_config: EmailConfig, env: Mapping[str, str] = os.environ) -> str:
    """The SMTP password ("" without a login), checked with the rest of ``[email]``
    before a run replaces a digest, so a missing variable stops it beforehand."""
    cfg = email_config
    check_email(cfg)
    if not cfg.username:
        return ""
    password = env.get(cfg.password_env, "")
    if not password:
        raise DeliveryError(
            f"[email] username is set but the environment variable {cfg.password_env} "
            "is empty; export the SMTP password there"
        )
    return password


def _bare(address: str) -> str:
    """The address part of ``Name <a@x.org>``, as smtplib names a refused recipient."""
    return parseaddr(address)[1]


@dataclass(frozen=True)
class EmailSent:
    """What sending the digest came to (see :func:`send_digest_email`).

    ``accepted`` and ``deferred`` are entries of ``[email] to`` as configured: those the
    server took, and those it refused for now (a 4xx answer, such as greylisting),
    which are still owed the digest (``reasons``: the server's answer to each).
    ``owed`` says this was a sending to the recipients still owed it, of whom
    ``left_out`` were no longer named in ``[email] to`` and were not sent it (taken
    out of the list, they are owed it no more).
    """

    server: str
    accepted: list[str]
    deferred: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    owed: bool = False
    left_out: list[str] = field(default_factory=list)

    def notes(self, sent_before: str | None) -> list[str]:
        """The run's lines for it; ``sent_before``: the record of an earlier sending."""
        done = []
        if self.accepted:
            to = ", ".join(self.accepted)
            if self.owed:
                done.append(f"emailed to {to}, still owed it (first sent {sent_before})")
            elif sent_before:
                done.append(f"emailed to {to} again (first sent {sent_before})")
            else:
                done.append(f"emailed to {to}")
        if self.left_out:
            done.append(
                f"not emailed to {', '.join(self.left_out)}, refused for now before: [email] "
                "to no longer names them, so they are no longer owed the digest"
            )
        return done

    def deferred_error(self) -> DeliveryError | None:
        """The run's error for the recipients refused for now (None: none was).

        The run fails, although the others have the digest: the scheduler sends a month
        again only when its run failed, and this one's sending is not finished.
        """
        if not self.deferred:
            return None
        refused = ", ".join(f"{_bare(a)} ({self.reasons[a]})" for a in self.deferred)
        owed = ", ".join(_bare(a) for a in self.deferred)
        return DeliveryError(
            f"SMTP server {self.server} refused {refused} for now; the others have the "
            f"digest, and the next run sends it to {owed} only"
        )


def _temporary(code: int) -> bool:
    """Whether an SMTP answer refuses for now (4xx: try again later) rather than for good."""
    return 400 <= code < 500


def send_digest_email(
    email_config: EmailConfig,
    subject: str,
    markdown_text: str,
    png_attachment: bytes | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    only: Iterable[str] | None = None,
    possibly_sent: Callable[[EmailSent | None], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> EmailSent:
    """Send the digest over SMTP (``security``: starttls, ssl or none).

    Returns whom the server took and whom it refused for now (see :class:`EmailSent`);
    a recipient refused for good (5xx) is named in a warning.  ``only`` sends it to
    those of ``[email] to`` it names (by address: the recipients still owed it), the
    message's To header naming everyone all the same.  Logs in only when
    ``username`` is set, with the password from the environment variable named by
    ``password_env`` (never from the config file).

    The session ends within :data:`SESSION_DEADLINE_TIMEOUTS` times ``timeout_seconds``
    (on ``clock``).  A server that took the whole message and then does not confirm
    it in time is an :class:`EmailUnconfirmedError`: it may have arrived.  When the
    run is interrupted (Ctrl-C, SIGTERM) at that point, ``possibly_sent(None)`` is
    called before the interrupt goes on, so that the caller records it the same way;
    interrupted while the answer to QUIT is awaited (the server took the message),
    ``possibly_sent`` is given what was sent, as it would have been returned.
    """
    cfg = email_config
    password = smtp_password(cfg, env)
    server = f"{cfg.host}:{cfg.port}"
    to = list(cfg.to)
    left_out: list[str] = []
    if only is not None:
        owed = list(only)
        wanted = {_bare(a) for a in owed}
        to = [a for a in cfg.to if _bare(a) in wanted]
        named = {_bare(a) for a in cfg.to}
        left_out = [a for a in owed if _bare(a) not in named]
        if not to:
            return EmailSent(server, [], owed=True, left_out=left_out)
    msg = build_email(cfg, subject, markdown_text, png_attachment)
    context = ssl.create_default_context()
    if cfg.ca_file:  # a lab's own CA, trusted besides the system's
        try:
            context.load_verify_locations(cafile=cfg.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(
                f"[email] ca_file {cfg.ca_file}: cannot use it as a PEM CA file "
                f"({_one_line(str(exc))}); give the CA's certificate in PEM form"
            ) from None
    deadline = _Deadline(SESSION_DEADLINE_TIMEOUTS * cfg.timeout_seconds, clock)
    limit = (
        f"the session's limit of {deadline.seconds:g} s ({SESSION_DEADLINE_TIMEOUTS} × "
        "[email] timeout_seconds)"
    )
    smtp: _Session | None = None
    try:
        if cfg.security == "ssl":
            smtp = _SessionSSL(
                cfg.host, cfg.port, timeout=cfg.timeout_seconds, deadline=deadline, context=context
            )
        else:
            smtp = _Session(cfg.host, cfg.port, timeout=cfg.timeout_seconds, deadline=deadline)
        # Not "with smtp": its QUIT on the way out raises when the server answers it
        # with an error, which would turn a delivered digest into a failed one.
        try:
            if cfg.security == "starttls":
                smtp.starttls(context=context)
            if cfg.username:
                smtp.login(cfg.username, password)
            refused = _send(smtp, msg, [_bare(a) for a in to] if only is not None else None)
        except KeyboardInterrupt:
            # Stopped (Ctrl-C, SIGTERM) while the server had the whole message: as
            # with a timeout there, it may have arrived, and sending it again would
            # give everyone a second copy.
            if smtp.message_sent and possibly_sent is not None:
                possibly_sent(None)
            smtp.close()  # no QUIT: the run is stopping, and need not wait for an answer
            raise
        except BaseException:
            _hang_up(smtp)  # the first failure is the one to report
            raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP server {server} refused the login for {cfg.username}: {_smtp_reason(exc)}"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        if "SMTPUTF8" in str(exc):
            raise DeliveryError(
                f"SMTP server {server} does not accept internationalized addresses (no "
                "SMTPUTF8), and [email] sender or to has one: "
                f"{', '.join(_non_ascii([cfg.sender, *cfg.to]))}; write those addresses in ASCII"
            ) from None
        raise DeliveryError(
            f"SMTP server {server} does not support this ({exc}); check [email] security "
            "(starttls, ssl or none) and username"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        if all(_temporary(code) for code, _text in exc.recipients.values()):
            raise DeliveryError(
                f"SMTP server {server} refused every recipient for now: "
                f"{_refusals(exc.recipients)}; the digest was not sent: run again later (a "
                "server refusing with 4xx, such as when greylisting, takes it then)"
            ) from None
        raise DeliveryError(
            f"SMTP server {server} refused every recipient: {_refusals(exc.recipients)}; "
            "check [email] to"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP server {server} refused the digest email: {_smtp_reason(exc)}"
        ) from None
    except smtplib.SMTPServerDisconnected as exc:
        message_sent = smtp is not None and smtp.message_sent
        if isinstance(exc.__context__, _SessionDeadline):
            if message_sent:
                raise EmailUnconfirmedError(
                    f"SMTP server {server} took the whole digest but did not confirm it "
                    f"within {limit}, so it may have arrived; ask a recipient before "
                    "sending again, and raise [email] timeout_seconds if the server is slow"
                ) from None
            raise DeliveryError(
                f"SMTP server {server} did not finish within {limit}, answering too "
                "slowly; the digest was not sent: run again later, and raise [email] "
                "timeout_seconds if the server is slow"
            ) from None
        if not isinstance(exc.__context__, TimeoutError):
            raise DeliveryError(
                f"sending the digest email via {server} failed: {_one_line(str(exc))}"
            ) from None
        if message_sent:  # the server has the whole message and may have taken it
            raise EmailUnconfirmedError(
                f"SMTP server {server} did not answer within {cfg.timeout_seconds:g} s after "
                "the digest was sent, so it may have arrived; ask a recipient before sending "
                "again, and raise [email] timeout_seconds if the server is slow"
            ) from None
        raise DeliveryError(
            f"SMTP server {server} did not answer within {cfg.timeout_seconds:g} s; raise "
            "[email] timeout_seconds if the server is slow"
        ) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(
            f"sending the digest email via {server} failed: {_one_line(str(exc))}"
        ) from None
    except ssl.SSLError as exc:
        verify = getattr(exc, "verify_message", None)
        if getattr(exc, "verify_code", None) in _UNTRUSTED_CERTIFICATE:
            hint = (
                "; the server's certificate is not trusted here: set [email] ca_file to "
                "a PEM file with the certificate of the CA that signed it (or the server's "
                "own, if self-signed)"
            )
        elif verify:
            hint = ""
        else:  # not a certificate problem: most often implicit TLS against a plain port
            hint = (
                "; check [email] security and port: ssl speaks TLS from the start (usually "
                "port 465), starttls upgrades a plain connection (usually port 587)"
            )
        reason = verify or exc.reason or exc
        raise DeliveryError(f"TLS with SMTP server {server} failed: {reason}{hint}") from None
    except OSError as exc:
        raise DeliveryError(f"cannot reach SMTP server {server}: {exc.strerror or exc}") from None
    # smtplib keys refusals by the bare address it sent in RCPT TO.
    later = {a: r for a, r in refused.items() if _temporary(r[0])}
    for_good = {a: r for a, r in refused.items() if a not in later}
    if for_good:  # the others have it: sending again would give them a second copy
        log.warning(
            "SMTP server %s refused %s, who did not get the digest; check [email] to",
            server,
            _refusals(for_good),
        )
    accepted = [a for a in to if _bare(a) not in refused]
    deferred = [a for a in to if _bare(a) in later]
    reasons = {a: _smtp_answer(*later[_bare(a)]) for a in deferred}
    sent = EmailSent(server, accepted, deferred, reasons, only is not None, left_out)
    try:
        _say_goodbye(smtp, server)
    except BaseException:  # stopped while QUIT's answer is awaited: the server took it
        if possibly_sent is not None:
            possibly_sent(sent)
        raise
    log.info("emailed the digest to %s", ", ".join(accepted))
    return sent
