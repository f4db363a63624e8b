"""Months of unattended use: the scheduler's digest job (fake clock, jobs called
directly) producing real digests into a git repository with a bare local remote."""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from synthetic import make_papers
from trenddigest.config import Config, DigestConfig, GitConfig
from trenddigest.lock import store_lock
from trenddigest.models import Month
from trenddigest.pipeline import RunOptions, run_month
from trenddigest.schedule import DIGEST_JOB, build_scheduler, last_job_run
from trenddigest.store import Store

EASTERN = ZoneInfo("US/Eastern")


@pytest.fixture(autouse=True)
def git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Digest Bot")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "bot@example.org")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


class Lab:
    """A digest repository (pushed to a bare remote), its store and the digest job."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.remote = root / "remote.git"
        self.repo = root / "repo"
        subprocess.run(["git", "init", "-q", "--bare", str(self.remote)], check=True)
        self.repo.mkdir()
        git("init", "-q", "-b", "main", cwd=self.repo)
        (self.repo / "README.md").write_text("# Lab\n", encoding="utf-8")
        git("add", "README.md", cwd=self.repo)
        git("commit", "-qm", "init", cwd=self.repo)
        git("remote", "add", "origin", str(self.remote), cwd=self.repo)
        monkeypatch.chdir(self.repo)
        self.store = str(root / "store.sqlite3")
        self.config = Config(
            digest=DigestConfig(output="digests/{year}/{year}-{month}.md"),
            git=GitConfig(commit=True, push=True, index_months=4),
        )
        self.now = datetime(2025, 6, 1, 6, 0, tzinfo=EASTERN)
        self.produced: list[str] = []
        scheduler = build_scheduler(
            self.config,
            self.store,
            self.run_digest,
            lambda: "polled",
            clock=lambda: self.now,
            scheduler_class=BackgroundScheduler,
            lock=functools.partial(store_lock, self.store, timeout=0),
        )
        job = scheduler.get_job(DIGEST_JOB)
        assert job is not None
        self.digest_job: Callable[[], None] = job.func

    def run_digest(self, month: Month) -> str:
        """What ``trenddigest schedule`` runs for a month, from the store alone."""
        self.produced.append(str(month))
        opts = RunOptions(month=month, offline=True, commit=True, push=True, email_once=True)
        with Store.open(self.store) as store:
            result = run_month(store, self.config, opts)
        return ", ".join(str(p) for p in result.written)

    def month_passes(self, month: str) -> None:
        """The month's papers arrive, then the digest job runs on the 3rd after it (a
        month ending on a Friday or Saturday is complete only after the Sunday after)."""
        with Store.open(self.store) as store:
            store.upsert_papers(make_papers(month, per_topic=4, seed=len(month)))
        following = Month.parse(month).shift(1)
        self.now = datetime(following.year, following.month, 3, 6, 0, tzinfo=EASTERN)
        self.digest_job()

    def last_recorded(self) -> str | None:
        with Store.open(self.store) as store:
            run = last_job_run(store, DIGEST_JOB)
        return run.last_target if run else None

    def commits(self, where: Path | None = None) -> list[str]:
        args = ["--git-dir", str(where)] if where else []
        return git(*args, "log", "--format=%s", "main", cwd=self.repo).splitlines()


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    return Lab(tmp_path, monkeypatch)


def test_a_push_refused_for_a_month_does_not_hold_back_the_next_months_digest(lab: Lab) -> None:
    lab.month_passes("2025-05")
    lab.remote.rename(lab.remote.with_name("moved.git"))
    lab.month_passes("2025-06")
    lab.month_passes("2025-07")
    assert (lab.repo / "digests/2025/2025-07.md").is_file()
    assert lab.commits()[:2] == ["digest: 2025-07", "digest: 2025-06"]
    assert lab.last_recorded() == "2025-05"  # June and July are still to deliver


def test_once_the_remote_is_back_every_month_is_delivered_and_recorded_once(lab: Lab) -> None:
    lab.month_passes("2025-05")
    moved = lab.remote.rename(lab.remote.with_name("moved.git"))
    lab.month_passes("2025-06")
    lab.month_passes("2025-07")
    moved.rename(lab.remote)
    lab.now = lab.now.replace(hour=20, minute=30)
    lab.digest_job()  # what the daily poll does when a digest is still due
    assert lab.last_recorded() == "2025-07"
    assert lab.commits(lab.remote) == [
        "digest: 2025-07",
        "digest: 2025-06",
        "digest: 2025-05",
        "init",
    ]


def test_months_of_use_commit_each_digest_once_and_index_the_newest_first(lab: Lab) -> None:
    months = [str(Month(2025, 5).shift(i)) for i in range(7)]
    for month in months:
        lab.month_passes(month)
        lab.digest_job()  # a second fire the same day does nothing
    assert lab.produced == months
    assert lab.commits() == [f"digest: {m}" for m in reversed(months)] + ["init"]
    assert lab.commits(lab.remote) == lab.commits()
    readme = (lab.repo / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\[full digest\]\(([^)]+)\)", readme)
    assert links == [f"digests/{m[:4]}/{m}.md" for m in reversed(months[-4:])]
    assert all((lab.repo / link).is_file() for link in links)


def broken_template(folder: Path, line: str) -> Path:
    """The packaged digest template with ``line`` put before it, in ``folder``."""
    from importlib.resources import files

    folder.mkdir(exist_ok=True)
    packaged = files("trenddigest.templates").joinpath("digest.md.j2").read_text("utf-8")
    template = folder / "digest.md.j2"
    template.write_text(line + "\n" + packaged, encoding="utf-8")
    return template


def test_a_month_its_template_breaks_on_waits_while_the_next_month_is_delivered(
    lab: Lab, tmp_path: Path
) -> None:
    template = broken_template(
        tmp_path / "mine", "{% if d.month.month == 6 %}{{ d.considered // 0 }}{% endif %}"
    )
    lab.config.digest.templates_dir = str(template.parent)
    lab.month_passes("2025-05")
    lab.month_passes("2025-06")  # June's digest cannot be rendered
    lab.month_passes("2025-07")
    assert lab.commits(lab.remote)[:2] == ["digest: 2025-07", "digest: 2025-05"]
    assert lab.last_recorded() == "2025-05"  # June is still due
    template.write_text("\n".join(template.read_text("utf-8").splitlines()[1:]) + "\n")
    lab.digest_job()  # the next poll, after the template was mended
    assert lab.last_recorded() == "2025-07"
    assert lab.commits(lab.remote)[:3] == ["digest: 2025-06", "digest: 2025-07", "digest: 2025-05"]


def test_a_template_broken_for_every_month_is_tried_on_two_months_not_on_each(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lab.month_passes("2025-05")
    template = broken_template(tmp_path / "mine", "{{ d.considered // 0 }}")
    lab.config.digest.templates_dir = str(template.parent)
    with Store.open(lab.store) as store:  # the scheduler was off from June to September
        for month in ("2025-06", "2025-07", "2025-08"):
            store.upsert_papers(make_papers(month, per_topic=4, seed=len(month)))
    lab.now = datetime(2025, 9, 1, 6, 0, tzinfo=EASTERN)
    with caplog.at_level("WARNING", logger="trenddigest.schedule"):
        lab.digest_job()
    assert lab.produced == ["2025-05", "2025-06", "2025-07"]  # August is not tried
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]
    failed = f"no digest for 2025-06 nor 2025-07: template {template} line 1: ZeroDivisionError"
    assert caplog.records[-1].getMessage().startswith(f"monthly digest failed: {failed}")
    assert lab.last_recorded() == "2025-05"
