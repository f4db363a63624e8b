"""The GitHub Actions workflow's run script, run as a runner runs it (``bash -e``).

The script is read verbatim from ``.github/workflows/monthly-digest.yml`` and run in a
shallow clone of a bare local ``origin`` (what ``actions/checkout`` leaves), with the
step's environment.  The arXiv backfill is the one part replaced: ``trenddigest`` on
the PATH is the real CLI with ``--offline`` added, over a store already filled from
the synthetic fixture file, so no test waits out arXiv's 3-second request spacing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_email import Recorder, serving

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "monthly-digest.yml"
FIXTURE = REPO / "tests" / "fixtures" / "papers.jsonl"
STEP = "Build, commit and push the digest"


def run_script() -> str:
    """The ``run:`` block of the workflow's build step, exactly as committed."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["digest"]["steps"] if s.get("name") == STEP]
    return str(step["run"])


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A bare ``origin`` with one commit, a shallow checkout of it, a filled store."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(origin), str(seed))
    (seed / "README.md").write_text("# Our reading list\n")
    git(seed, "add", "README.md")
    git(seed, "-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-qm", "start")
    git(seed, "push", "-q", "origin", "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(work))
    # The workflow's "Configure git" step.
    git(work, "config", "user.name", "github-actions[bot]")
    git(work, "config", "user.email", "41898282+github-actions[bot]@users.noreply.github.com")
    store = tmp_path / "runner-temp" / "trenddigest.sqlite3"
    store.parent.mkdir()
    subprocess.run(
        [sys.executable, "-m", "trenddigest", "--store", str(store), "import", str(FIXTURE)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "trenddigest"
    python = shlex.quote(sys.executable)
    shim.write_text(f'#!/bin/sh\nexec {python} -m trenddigest "$@" --offline\n')
    shim.chmod(0o755)
    return {"origin": origin, "seed": seed, "work": work, "store": store, "bin": bin_dir}


def run_step(
    runner: dict[str, Path], month: str, event: str = "schedule", email: str = ""
) -> subprocess.CompletedProcess[str]:
    """The build step's script under ``bash -e`` with the step's environment, run by
    ``event`` (``workflow_dispatch`` is Run workflow, whose ``email`` box gives "true"
    or "false"; a scheduled run has no inputs)."""
    env = {
        **os.environ,
        "PATH": f"{runner['bin']}{os.pathsep}{os.environ['PATH']}",
        "MONTH_INPUT": month,
        "EMAIL_INPUT": email,
        "GITHUB_EVENT_NAME": event,
        "TRENDDIGEST_STORE": str(runner["store"]),
        "TRENDDIGEST_SMTP_PASSWORD": "",
        "GITHUB_REF_NAME": "main",
    }
    return subprocess.run(
        ["bash", "-e", "-c", run_script()],
        cwd=runner["work"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workflow_pushes_the_digest_with_its_readme_index(runner: dict[str, Path]) -> None:
    result = run_step(runner, "2025-05")

    assert result.returncode == 0, result.stderr
    origin = runner["origin"]
    assert git(origin, "log", "--format=%s", "main").splitlines() == ["digest: 2025-05", "start"]
    assert git(origin, "show", "--name-only", "--format=", "main").split() == [
        "README.md",
        "digests/2025/2025-05.json",
        "digests/2025/2025-05.md",
    ]
    assert "[full digest](digests/2025/2025-05.md)" in git(origin, "show", "main:README.md")


def test_workflow_rebases_and_pushes_when_the_branch_moved_while_it_ran(
    runner: dict[str, Path],
) -> None:
    # Someone pushes after the checkout, while the month is being fetched (which
    # takes many minutes against arXiv): the runner's commit must not be lost with the
    # runner, and the job still fails so that the refused first push is seen.
    seed = runner["seed"]
    (seed / "NOTES.md").write_text("meeting notes\n")
    git(seed, "add", "NOTES.md")
    git(seed, "-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-qm", "notes")
    git(seed, "push", "-q", "origin", "main")

    result = run_step(runner, "2025-05")

    assert result.returncode == 5
    assert "trenddigest: error: git push failed in " in result.stderr
    assert result.stdout.endswith("pushed the digest commit after rebasing it onto main\n")
    assert git(runner["origin"], "log", "--format=%s", "main").splitlines() == [
        "digest: 2025-05",
        "notes",
        "start",
    ]


def test_workflow_run_again_for_the_same_month_pushes_no_new_commit(
    runner: dict[str, Path],
) -> None:
    assert run_step(runner, "2025-05").returncode == 0
    head = git(runner["origin"], "rev-parse", "main")

    again = run_step(runner, "2025-05")

    assert again.returncode == 0, again.stderr
    assert "nothing new to commit" in again.stdout
    assert git(runner["origin"], "rev-parse", "main") == head


def test_workflow_fails_with_the_runs_exit_code_when_the_push_is_refused(
    runner: dict[str, Path],
) -> None:
    # A remote that refuses every update (a protected branch, say): the job must fail.
    hook = runner["origin"] / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)

    result = run_step(runner, "2025-05")

    assert result.returncode == 1  # git's own push failure ends the script (bash -e)
    assert "protected branch" in result.stderr
    assert git(runner["origin"], "log", "--format=%s", "main").splitlines() == ["start"]


def test_the_workflows_first_commit_keeps_the_projects_readme_prose() -> None:
    # The workflow commits the index into this repository's own README, whose
    # "Commit, README index, email" paragraph quotes both markers.
    from trenddigest.deliver import INDEX_END, INDEX_START, readme_with_index

    readme = REPO / "README.md"
    original = readme.read_text(encoding="utf-8")
    quoted = f"`{INDEX_START}` and `{INDEX_END}`"
    assert quoted in original

    updated = readme_with_index(original, readme, [], 12)

    assert quoted in updated


# -- email: a run by hand (the recovery the README gives) mails nobody unless asked ----


def email_config(work: Path, port: int) -> None:
    """``[email] enabled`` in the checkout's config, to a local SMTP server."""
    (work / "config").mkdir()
    (work / "config" / "trenddigest.toml").write_text(
        f'[email]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'sender = "digest@example.org"\nto = ["lab@example.org"]\n'
    )


def test_run_workflow_offers_an_email_box_that_is_off_unless_ticked() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key "on" as true
    email = triggers["workflow_dispatch"]["inputs"]["email"]
    assert (email["type"], email["default"]) == ("boolean", False)


def test_a_run_by_hand_of_a_month_already_emailed_mails_no_one_again(
    runner: dict[str, Path],
) -> None:
    # Each workflow run starts from a fresh store, which does not know the scheduled
    # run emailed the month before its push was refused: the manual re-run would mail
    # the lab a second time.
    recorder = Recorder()
    with serving(recorder) as controller:
        email_config(runner["work"], controller.port)
        result = run_step(runner, "2025-05", event="workflow_dispatch", email="false")
    assert result.returncode == 0, result.stderr
    assert recorder.envelopes == []
    assert git(runner["origin"], "log", "--format=%s", "main").splitlines()[0] == "digest: 2025-05"


def test_a_run_by_hand_with_the_email_box_ticked_mails_the_digest(
    runner: dict[str, Path],
) -> None:
    recorder = Recorder()
    with serving(recorder) as controller:
        email_config(runner["work"], controller.port)
        result = run_step(runner, "2025-05", event="workflow_dispatch", email="true")
    assert result.returncode == 0, result.stderr
    assert [e.rcpt_tos for e in recorder.envelopes] == [["lab@example.org"]]


def test_the_scheduled_run_mails_the_digest_as_the_config_says(runner: dict[str, Path]) -> None:
    recorder = Recorder()
    with serving(recorder) as controller:
        email_config(runner["work"], controller.port)
        result = run_step(runner, "2025-05")
    assert result.returncode == 0, result.stderr
    assert [e.rcpt_tos for e in recorder.envelopes] == [["lab@example.org"]]
