"""Delivering to git: committing the digest, pushing, and the README index."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthetic import make_papers, write_jsonl
from trenddigest import deliver as deliver_module
from trenddigest.cli import main
from trenddigest.config import GitConfig
from trenddigest.deliver import (
    INDEX_END,
    INDEX_START,
    IndexEntry,
    check_commit_targets,
    commit_digest,
    deliver_to_git,
    index_entries_for_pattern,
    index_entry_from_json,
    readme_with_index,
    render_index,
    update_readme_index,
)
from trenddigest.errors import DeliveryError


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Git with a known identity and none of the developer's own configuration."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Digest Bot")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "bot@example.org")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# My reading\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "start")
    return root


def write_digest(repo: Path, month: str = "2025-05", text: str = "# Digest\n") -> Path:
    path = repo / "digests" / month[:4] / f"{month}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_sidecar(md_path: Path, month: str, picks: list[tuple[str, str]]) -> Path:
    data = {
        "month": month,
        "top_picks": [{"id": i, "title": t} for i, t in picks],
        "categories": [{"name": "Detection", "papers": []}],
    }
    path = md_path.with_suffix(".json")
    path.write_text(json.dumps(data))
    return path


def may_with_twin(repo: Path) -> tuple[Path, Path]:
    """May's digest and its JSON twin (one pick), written in ``repo``."""
    md = write_digest(repo)
    return md, write_sidecar(md, "2025-05", [("2505.00001", "Pick")])


# -- commit -----------------------------------------------------------------------------


def test_commit_adds_the_digest_with_a_digest_message(repo: Path) -> None:
    digest = write_digest(repo)
    commit = commit_digest([digest], "2025-05")
    assert commit == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%s").strip() == "digest: 2025-05"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "digests/2025/2025-05.md"
    ]


def test_commit_finds_the_repository_from_the_digest_folder_not_the_cwd(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    commit_digest([write_digest(repo)], "2025-05")
    assert git(repo, "log", "-1", "--format=%s").strip() == "digest: 2025-05"


def test_unchanged_digest_is_not_an_error_and_makes_no_commit(repo: Path) -> None:
    digest = write_digest(repo)
    commit_digest([digest], "2025-05")
    head = git(repo, "rev-parse", "HEAD")
    assert commit_digest([digest], "2025-05") is None
    assert git(repo, "rev-parse", "HEAD") == head


def test_commit_refuses_when_other_changes_are_staged(repo: Path) -> None:
    (repo / "notes.txt").write_text("half-finished work\n")
    git(repo, "add", "notes.txt")
    with pytest.raises(DeliveryError, match=r"changes are already staged .*\(notes\.txt\)"):
        commit_digest([write_digest(repo)], "2025-05")
    assert git(repo, "log", "-1", "--format=%s").strip() == "start"
    assert "notes.txt" in git(repo, "diff", "--cached", "--name-only")


def test_unstaged_edits_elsewhere_stay_out_of_the_commit(repo: Path) -> None:
    (repo / "README.md").write_text("# My reading, edited\n")
    commit_digest([write_digest(repo)], "2025-05")
    assert "README.md" not in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert git(repo, "status", "--porcelain").strip() == "M README.md"


def test_commit_outside_a_git_repository_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    digest = write_digest(tmp_path / "plain")
    with pytest.raises(DeliveryError) as caught:
        commit_digest([digest], "2025-05")
    message = str(caught.value)
    assert "is not inside a git repository" in message and "\n" not in message


def test_a_digest_outside_the_repository_the_command_runs_in_names_that_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    outside = tmp_path / "elsewhere"
    digest = write_digest(outside)
    with pytest.raises(DeliveryError) as caught:
        commit_digest([digest], "2025-05")
    assert str(caught.value).startswith(
        f"cannot commit the digest: {digest.parent} is outside the git repository "
        f"{repo} this command runs in; choose a [digest] output inside it, "
    )


def test_an_ignored_digest_is_refused_naming_the_gitignore_rule(repo: Path) -> None:
    (repo / ".gitignore").write_text("# generated\n*.json\n")
    md = repo / "digests" / "2025" / "2025-05.md"
    with pytest.raises(DeliveryError) as caught:
        check_commit_targets([md, md.with_suffix(".json"), repo / "README.md"])
    assert str(caught.value) == (
        "cannot commit the digest: git ignores digests/2025/2025-05.json (.gitignore line 2: "
        "*.json); un-ignore it there, or choose paths it does not ignore ([digest] output, "
        "[git] readme), or stop committing: --no-commit, or [git] commit and push off"
    )


def test_a_path_ignored_by_a_folder_rule_but_let_in_again_is_committed(repo: Path) -> None:
    (repo / ".gitignore").write_text("digests/*\n!digests/2025/\n")
    commit_digest([write_digest(repo)], "2025-05")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "digests/2025/2025-05.md"
    ]


def test_a_tracked_digest_matching_an_ignore_rule_is_committed(repo: Path) -> None:
    digest = write_digest(repo)
    git(repo, "add", str(digest))
    git(repo, "commit", "-q", "-m", "first")
    (repo / ".gitignore").write_text("digests/\n")
    digest.write_text("# Digest, again\n")
    assert commit_digest([digest], "2025-05") == git(repo, "rev-parse", "HEAD").strip()


def test_push_sends_the_commit_to_the_remote(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    commit = commit_digest([write_digest(repo)], "2025-05", push=True)
    assert git(remote, "rev-parse", "main").strip() == commit


def test_failed_push_is_a_delivery_error_after_the_commit(repo: Path) -> None:
    with pytest.raises(DeliveryError, match=r"^git push failed in .*nowhere"):
        commit_digest([write_digest(repo)], "2025-05", push=True, remote="nowhere")
    assert git(repo, "log", "-1", "--format=%s").strip() == "digest: 2025-05"


def test_a_detached_head_is_refused_before_anything_is_staged_or_committed(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(DeliveryError) as caught:
        commit_digest([write_digest(repo)], "2025-05", push=True)
    assert str(caught.value) == (
        f"cannot commit the digest: {repo.resolve()} has a detached HEAD (no branch checked "
        "out), where a commit belongs to no branch; check out the branch the digests go on "
        "(git switch BRANCH), or stop committing: --no-commit, or [git] commit and push off"
    )
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "diff", "--cached", "--name-only") == ""


def test_a_refused_commit_unstages_its_files_so_the_next_month_is_not_blocked(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    may = write_digest(repo, "2025-05")
    with pytest.raises(DeliveryError, match=r"^git commit failed in .*: lint says no$"):
        commit_digest([may], "2025-05")
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert may.is_file()
    hook.unlink()
    commit_digest([write_digest(repo, "2025-06")], "2025-06")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "digests/2025/2025-06.md"
    ]


def test_a_digest_path_with_glob_characters_commits_only_that_file(repo: Path) -> None:
    lookalike = repo / "dig1" / "2025-05.md"  # what "dig[1]/2025-05.md" matches as a glob
    lookalike.parent.mkdir()
    lookalike.write_text("someone's draft\n")
    digest = repo / "dig[1]" / "2025-05.md"
    digest.parent.mkdir()
    digest.write_text("# Digest\n")
    commit_digest([digest], "2025-05")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["dig[1]/2025-05.md"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all").split() == [
        "??",
        "dig1/2025-05.md",
    ]


def test_a_path_that_stages_more_than_itself_is_refused_and_unstaged(repo: Path) -> None:
    folder = repo / "digests"  # a folder: "git add" would take every file in it
    write_digest(repo, "2025-05")
    write_digest(repo, "2025-06")
    with pytest.raises(DeliveryError) as caught:
        commit_digest([folder], "2025-05")
    assert str(caught.value) == (
        "refusing to commit the digest: staging it also staged what is not the digest's in "
        f"{repo.resolve()} (digests/2025/2025-05.md, digests/2025/2025-06.md); nothing was "
        "committed, and the digest's paths were unstaged again"
    )
    assert git(repo, "log", "-1", "--format=%s").strip() == "start"
    assert git(repo, "diff", "--cached", "--name-only") == ""


def test_a_failed_push_says_the_digest_is_committed_and_how_to_deliver_it(repo: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        commit_digest([write_digest(repo)], "2025-05", push=True, remote="nowhere")
    head = git(repo, "rev-parse", "HEAD").strip()  # the run's summary is lost with the error
    assert str(caught.value).endswith(
        f"; the digest is committed as {head}: fix the remote, then run again with --push "
        "(or: git push nowhere HEAD)"
    )


# -- the branch the digests go on --------------------------------------------------------


@pytest.fixture
def clone(repo: Path, tmp_path: Path) -> Path:
    """A clone of a bare remote holding ``repo``'s history: origin/HEAD names main."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    work = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    return work


def branches_of(remote: Path) -> list[str]:
    return git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def test_a_branch_other_than_the_remotes_default_is_refused_and_nothing_is_pushed(
    clone: Path, tmp_path: Path
) -> None:
    git(clone, "switch", "-q", "-c", "wip")
    (clone / "private.txt").write_text("not for the lab\n")
    git(clone, "add", "private.txt")
    git(clone, "commit", "-q", "-m", "private")
    head = git(clone, "rev-parse", "HEAD")
    with pytest.raises(DeliveryError) as caught:
        commit_digest([write_digest(clone)], "2025-05", push=True)
    assert str(caught.value) == (
        f"cannot commit the digest: the branch checked out in {clone.resolve()} is wip, "
        "but the digests go on main, the default branch of origin (or set [git] branch); "
        "switch to it (git switch main), or stop committing: --no-commit, or [git] commit "
        "and push off"
    )
    assert git(clone, "rev-parse", "HEAD") == head
    assert git(clone, "diff", "--cached", "--name-only") == ""
    assert branches_of(tmp_path / "remote.git") == ["main"]


def test_a_branch_tracking_another_branch_of_the_remote_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    # No origin/HEAD (a remote added by hand, a CI checkout): the upstream tells.
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "switch", "-q", "-c", "wip", "--track", "origin/main")
    with pytest.raises(DeliveryError) as caught:
        check_commit_targets([repo / "digests" / "2025" / "2025-05.md"])
    assert str(caught.value) == (
        f"cannot commit the digest: the branch checked out in {repo.resolve()} is wip, "
        "but the digests go on main, the branch it tracks on origin (or set [git] branch); "
        "switch to it (git switch main), or stop committing: --no-commit, or [git] commit "
        "and push off"
    )


def test_a_dedicated_digests_branch_named_in_the_config_is_committed_to(
    clone: Path, tmp_path: Path
) -> None:
    git(clone, "switch", "-q", "-c", "digests")
    git(clone, "push", "-q", "-u", "origin", "digests")
    commit = commit_digest([write_digest(clone)], "2025-05", push=True, branch="digests")
    assert git(tmp_path / "remote.git", "rev-parse", "digests").strip() == commit
    assert git(tmp_path / "remote.git", "log", "-1", "--format=%s", "main").strip() == "start"


def test_a_pushed_feature_branch_is_refused_like_a_private_one(clone: Path, tmp_path: Path) -> None:
    git(clone, "switch", "-q", "-c", "wip")
    git(clone, "push", "-q", "-u", "origin", "wip")
    with pytest.raises(DeliveryError) as caught:
        commit_digest([write_digest(clone)], "2025-05", push=True)
    assert str(caught.value) == (
        f"cannot commit the digest: the branch checked out in {clone.resolve()} is wip, "
        "but the digests go on main, the default branch of origin (or set [git] branch); "
        "switch to it (git switch main), or stop committing: --no-commit, or [git] commit "
        "and push off"
    )


def test_the_branch_named_in_the_config_refuses_the_remotes_default_one(clone: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        commit_digest([write_digest(clone)], "2025-05", branch="digests")
    assert "is main, but the digests go on digests, [git] branch; switch to it" in str(caught.value)


def test_a_commit_stopped_by_ctrl_c_leaves_nothing_staged_to_refuse_the_next_one(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_git = deliver_module._git

    def interrupted_commit(args: list[str], cwd: Path, **kwargs: Any) -> str:
        if args[:1] == ["commit"]:
            raise KeyboardInterrupt
        return real_git(args, cwd, **kwargs)

    monkeypatch.setattr(deliver_module, "_git", interrupted_commit)
    with pytest.raises(KeyboardInterrupt):
        commit_digest([write_digest(repo)], "2025-05")
    assert git(repo, "diff", "--cached", "--name-only") == ""
    monkeypatch.setattr(deliver_module, "_git", real_git)
    assert commit_digest([write_digest(repo)], "2025-05") is not None


def test_a_clone_on_its_default_branch_commits_and_pushes_there(
    clone: Path, tmp_path: Path
) -> None:
    commit = commit_digest([write_digest(clone)], "2025-05", push=True)
    assert git(tmp_path / "remote.git", "rev-parse", "main").strip() == commit


def test_a_repository_without_commits_or_remote_commits_the_first_digest(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "digests")
    commit = commit_digest([write_digest(fresh)], "2025-05")
    assert git(fresh, "rev-parse", "digests").strip() == commit


def test_deliver_to_git_names_the_branch_it_committed_on_and_where_it_pushed(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(clone)
    md, sidecar = may_with_twin(clone)
    delivered = deliver_to_git(GitConfig(), OLD_PATTERN, "2025-05", [md, sidecar], True)
    head = git(clone, "rev-parse", "HEAD").strip()
    assert delivered.notes == [f"committed {head} on main", "pushed to origin main"]


def test_deliver_to_git_of_an_unchanged_month_says_nothing_new_and_pushes(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(clone)
    md, sidecar = may_with_twin(clone)
    deliver_to_git(GitConfig(), OLD_PATTERN, "2025-05", [md, sidecar], False)
    delivered = deliver_to_git(GitConfig(), OLD_PATTERN, "2025-05", [md, sidecar], True)
    assert delivered.notes == ["nothing new to commit on main", "pushed to origin main"]


# -- README index ---------------------------------------------------------------------------


def entry(repo: Path, month: str, picks: list[tuple[str, str]]) -> IndexEntry:
    return IndexEntry(month, repo / "digests" / month[:4] / f"{month}.md", picks)


def test_index_lists_months_newest_first_in_the_seed_style(tmp_path: Path) -> None:
    entries = [
        entry(tmp_path, "2024-12", [("2412.00001", "Old Paper")]),
        entry(tmp_path, "2025-01", [("2501.00002", "New Paper"), ("2501.00003", "Another")]),
    ]
    assert render_index(entries, tmp_path).splitlines() == [
        INDEX_START,
        "<!-- Written by trenddigest from the digests; edits here are replaced. -->",
        "",
        "### 2025",
        "",
        "**January, 2025** · [full digest](digests/2025/2025-01.md)",
        "- [New Paper](https://arxiv.org/abs/2501.00002)",
        "- [Another](https://arxiv.org/abs/2501.00003)",
        "",
        "### 2024",
        "",
        "**December, 2024** · [full digest](digests/2024/2024-12.md)",
        "- [Old Paper](https://arxiv.org/abs/2412.00001)",
        INDEX_END,
    ]


def test_index_keeps_only_the_newest_months(tmp_path: Path) -> None:
    entries = [entry(tmp_path, f"2025-0{n}", []) for n in range(1, 6)]
    text = render_index(entries, tmp_path, max_months=2)
    assert "May, 2025" in text and "April, 2025" in text and "March, 2025" not in text


def test_index_links_are_relative_to_the_readme_and_titles_inert(tmp_path: Path) -> None:
    digest = tmp_path / "my digests" / "2025-05.md"
    entries = [IndexEntry("2025-05", digest, [("2505.1", "A [bracketed]\n  $x_1$ title")])]
    text = render_index(entries, tmp_path / "docs")
    assert "[full digest](../my%20digests/2025-05.md)" in text
    assert r"- [A \[bracketed\] \$x\_1\$ title](https://arxiv.org/abs/2505.1)" in text


def test_readme_without_markers_gets_a_section_appended_rest_untouched(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = b"# Reading list\r\n\r\nSome notes \xc3\xa9 without newline"
    readme.write_bytes(original)
    assert update_readme_index(readme, [entry(tmp_path, "2025-05", [("2505.00001", "T")])])
    data = readme.read_bytes()
    assert data.startswith(original + b"\r\n\r\n## Research Trends\r\n\r\n" + INDEX_START.encode())
    assert data.endswith(INDEX_END.encode() + b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # the file's line endings are kept


def test_a_readme_with_old_mac_line_endings_keeps_them(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes(b"# Reading list\r\rSome notes\r")
    assert update_readme_index(readme, [entry(tmp_path, "2025-05", [("2505.00001", "T")])])
    data = readme.read_bytes()
    assert data.startswith(b"# Reading list\r\rSome notes\r\r## Research Trends\r\r")
    assert b"\n" not in data


def test_readme_index_is_replaced_between_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    before = "# Title\n\n## Research Trends\n\n"
    after = "\n\n## License\n\nMIT\n"
    readme.write_text(f"{before}{INDEX_START}\nstale hand edit\n{INDEX_END}{after}")
    update_readme_index(readme, [entry(tmp_path, "2025-05", [("2505.00001", "Fresh")])])
    text = readme.read_text()
    assert text.startswith(before + INDEX_START) and text.endswith(INDEX_END + after)
    assert "stale hand edit" not in text and "[Fresh](https://arxiv.org/abs/2505.00001)" in text


def test_updating_the_index_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    entries = [entry(tmp_path, "2025-05", [("2505.00001", "T")])]
    assert update_readme_index(readme, entries) is True
    first = readme.read_bytes()
    assert update_readme_index(readme, entries) is False
    assert readme.read_bytes() == first


def test_missing_readme_is_created_with_the_index(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    update_readme_index(readme, [])
    assert readme.read_text() == (
        f"## Research Trends\n\n{INDEX_START}\n"
        "<!-- Written by trenddigest from the digests; edits here are replaced. -->\n\n"
        f"_No digests yet._\n{INDEX_END}\n"
    )


def test_a_lone_marker_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n{INDEX_START}\nno end marker\n")
    with pytest.raises(DeliveryError, match="only one of the markers"):
        update_readme_index(readme, [])
    assert readme.read_text() == f"# T\n{INDEX_START}\nno end marker\n"


def test_index_entry_is_read_from_the_json_twin(tmp_path: Path) -> None:
    md = write_digest(tmp_path)
    sidecar = write_sidecar(md, "2025-05", [("2505.00001", "First"), ("2505.00002", "Second")])
    assert index_entry_from_json(sidecar, max_picks=1) == IndexEntry(
        "2025-05", md, [("2505.00001", "First")]
    )


def test_digest_without_top_picks_indexes_each_categorys_best_paper(tmp_path: Path) -> None:
    path = tmp_path / "2025-05.json"
    data = {
        "month": "2025-05",
        "top_picks": [],
        "categories": [
            {"name": "A", "papers": [{"id": "1", "title": "A1"}, {"id": "2", "title": "A2"}]},
            {"name": "B", "papers": []},
            {"name": "C", "papers": [{"id": "3", "title": "C1"}]},
        ],
    }
    path.write_text(json.dumps(data))
    assert index_entry_from_json(path).picks == [("1", "A1"), ("3", "C1")]


def test_malformed_json_twin_is_a_delivery_error(tmp_path: Path) -> None:
    path = tmp_path / "2025-05.json"
    path.write_text('{"top_picks": []}')
    with pytest.raises(DeliveryError, match="is not a trenddigest JSON digest"):
        index_entry_from_json(path)


def test_index_entries_are_found_through_the_output_pattern(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for month in ("2025-04", "2025-05"):
        write_sidecar(write_digest(tmp_path, month), month, [("x", month)])
    (tmp_path / "digests" / "2025" / "orphan.json").write_text("{}")  # no .md beside it
    entries = index_entries_for_pattern("digests/{year}/{year}-{month}.md")
    assert [e.month for e in entries] == ["2025-04", "2025-05"]
    absolute = index_entries_for_pattern(str(tmp_path / "digests/{year}/{year}-{month}.md"))
    assert [e.month for e in absolute] == ["2025-04", "2025-05"]


def test_an_unreadable_json_twin_is_left_out_of_the_index_with_one_warning(
    repo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(repo)
    may = write_digest(repo, "2025-05")
    deliver_to_git(
        GitConfig(), OLD_PATTERN, "2025-05", [may, write_sidecar(may, "2025-05", [])], False
    )
    twin = may.with_suffix(".json")
    twin.write_text("<<<<<<< HEAD\n" + twin.read_text())  # a merge conflict left in it
    june = write_digest(repo, "2025-06")
    with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
        delivered = deliver_to_git(
            GitConfig(), OLD_PATTERN, "2025-06", [june, write_sidecar(june, "2025-06", [])], False
        )
    assert delivered.commit == git(repo, "rev-parse", "HEAD").strip()
    readme = git(repo, "show", "HEAD:README.md")
    assert "**June, 2025**" in readme and "May, 2025" not in readme
    assert [r.getMessage() for r in caplog.records] == [
        "leaving digests/2025/2025-05.md out of the README index: digests/2025/2025-05.json "
        "is not a trenddigest JSON digest (JSONDecodeError: Expecting value: line 1 column 1 "
        "(char 0)); repair it, or delete it and run that month again"
    ]


def test_index_entries_for_the_pattern_skip_an_unreadable_twin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for month in ("2025-04", "2025-05"):
        write_sidecar(write_digest(tmp_path, month), month, [("x", month)])
    (tmp_path / "digests" / "2025" / "2025-04.json").write_text("{}")
    entries = index_entries_for_pattern("digests/{year}/{year}-{month}.md")
    assert [e.month for e in entries] == ["2025-05"]


@pytest.mark.parametrize("folder", ["dig[1]", "a*b", "what?", "[0-9]"])
def test_index_entries_are_found_when_the_output_folder_has_glob_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for month in ("2025-04", "2025-05"):
        md = tmp_path / folder / f"{month}.md"
        md.parent.mkdir(exist_ok=True)
        md.write_text("# Digest\n")
        write_sidecar(md, month, [("x", month)])
    (tmp_path / "5").mkdir()  # what the unescaped [0-9] would match instead
    write_sidecar(tmp_path / "5" / "2025-06.md", "2025-06", [("y", "2025-06")])
    (tmp_path / "5" / "2025-06.md").write_text("# Another digest\n")
    pattern = folder + "/{year}-{month}.md"
    assert [e.month for e in index_entries_for_pattern(pattern)] == ["2025-04", "2025-05"]
    absolute = index_entries_for_pattern(str(tmp_path / pattern))
    assert [e.digest_path for e in absolute] == [
        tmp_path / folder / "2025-04.md",
        tmp_path / folder / "2025-05.md",
    ]


def test_deliver_to_git_commits_digest_twin_and_refreshed_readme(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    md, sidecar = may_with_twin(repo)
    deliver_to_git(GitConfig(), "digests/{year}/{year}-{month}.md", "2025-05", [md, sidecar], False)
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "README.md",
        "digests/2025/2025-05.json",
        "digests/2025/2025-05.md",
    ]
    readme = (repo / "README.md").read_text()
    assert readme.startswith("# My reading\n\n## Research Trends\n")
    assert "**May, 2025** · [full digest](digests/2025/2025-05.md)" in readme


def test_the_index_leaves_out_a_digest_on_disk_that_was_never_committed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    pattern = "digests/{year}/{year}-{month}.md"
    may = write_digest(repo, "2025-05")
    deliver_to_git(GitConfig(), pattern, "2025-05", [may, write_sidecar(may, "2025-05", [])], False)
    june = write_digest(repo, "2025-06")  # its commit was refused, or made without --commit
    write_sidecar(june, "2025-06", [])
    july = write_digest(repo, "2025-07")
    deliver_to_git(
        GitConfig(), pattern, "2025-07", [july, write_sidecar(july, "2025-07", [])], False
    )
    readme = git(repo, "show", "HEAD:README.md")
    assert "**July, 2025**" in readme and "**May, 2025**" in readme
    assert "June, 2025" not in readme


def test_a_readme_outside_the_repository_is_refused_before_it_is_written(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    md, sidecar = may_with_twin(repo)
    head = git(repo, "rev-parse", "HEAD")
    pattern = str(repo / "digests/{year}/{year}-{month}.md")
    with pytest.raises(DeliveryError) as caught:
        deliver_to_git(GitConfig(), pattern, "2025-05", [md, sidecar], False)
    assert str(caught.value) == (
        f"cannot commit README.md: it is outside the git repository {repo.resolve()}; choose "
        "paths inside it ([digest] output, [git] readme), or stop committing: --no-commit, or "
        "[git] commit and push off"
    )
    assert list(elsewhere.iterdir()) == []
    assert git(repo, "rev-parse", "HEAD") == head


def test_staged_changes_are_refused_before_the_readme_is_touched(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    md, sidecar = may_with_twin(repo)
    (repo / "notes.txt").write_text("half-finished\n")
    git(repo, "add", "notes.txt")
    with pytest.raises(DeliveryError, match="changes are already staged"):
        deliver_to_git(
            GitConfig(), "digests/{year}/{year}-{month}.md", "2025-05", [md, sidecar], False
        )
    assert (repo / "README.md").read_text() == "# My reading\n"


def test_a_staged_readme_draft_is_refused_before_the_readme_is_touched(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    md, sidecar = may_with_twin(repo)
    (repo / "README.md").write_text("# My reading\nA paragraph I am still wri\n")
    git(repo, "add", "README.md")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(DeliveryError) as caught:
        deliver_to_git(GitConfig(), OLD_PATTERN, "2025-05", [md, sidecar], False)
    assert str(caught.value) == (
        f"refusing to commit the digest: changes are already staged in {repo.resolve()} "
        "(README.md); commit or unstage them first"
    )
    assert (repo / "README.md").read_text() == "# My reading\nA paragraph I am still wri\n"
    assert git(repo, "diff", "--cached", "--name-only").split() == ["README.md"]
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_staged_change_to_the_digests_own_file_is_refused_not_committed_over(
    repo: Path,
) -> None:
    digest = write_digest(repo, text="# Digest, annotated by hand\n")
    git(repo, "add", "digests")
    with pytest.raises(DeliveryError, match=r"already staged .*\(digests/2025/2025-05\.md\)"):
        check_commit_targets([digest, repo / "README.md"])
    assert git(repo, "diff", "--cached", "--name-only").split() == ["digests/2025/2025-05.md"]


def test_unstaged_readme_edits_stay_out_of_the_digest_commit_and_in_the_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / "README.md").write_text("# My reading\nA paragraph I am still writing.\n")
    md, sidecar = may_with_twin(repo)
    deliver_to_git(GitConfig(), "digests/{year}/{year}-{month}.md", "2025-05", [md, sidecar], False)
    committed = git(repo, "show", "HEAD:README.md")
    assert committed.startswith("# My reading\n\n## Research Trends\n\n" + INDEX_START)
    assert "still writing" not in committed
    on_disk = (repo / "README.md").read_text()
    assert on_disk.startswith("# My reading\nA paragraph I am still writing.\n\n## Research")
    assert on_disk.endswith(committed.split("# My reading\n", 1)[1])
    assert git(repo, "status", "--porcelain").splitlines() == [" M README.md"]


def test_a_rerun_with_unstaged_readme_edits_makes_no_second_commit(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    md, sidecar = may_with_twin(repo)
    pattern = "digests/{year}/{year}-{month}.md"
    deliver_to_git(GitConfig(), pattern, "2025-05", [md, sidecar], False)
    head = git(repo, "rev-parse", "HEAD")
    with (repo / "README.md").open("a") as fh:
        fh.write("Notes for later.\n")
    assert deliver_to_git(GitConfig(), pattern, "2025-05", [md, sidecar], False).commit is None
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "README.md").read_text().endswith("Notes for later.\n")


def test_commit_targets_are_checked_for_files_not_written_yet(repo: Path) -> None:
    targets = check_commit_targets([repo / "digests" / "2025" / "2025-05.md", repo / "README.md"])
    assert targets.root == repo.resolve()
    assert targets.relative == ["digests/2025/2025-05.md", "README.md"]
    assert targets.branch == "main"
    assert not (repo / "digests").exists()


def test_updating_the_readme_keeps_its_file_mode(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# T\n")
    readme.chmod(0o664)
    update_readme_index(readme, [])
    assert readme.stat().st_mode & 0o777 == 0o664


# -- the same through the command line --------------------------------------------------


@pytest.fixture
def digest_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The user's digest repository as the working folder, with a month of papers."""
    monkeypatch.chdir(repo)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    write_jsonl(repo / "papers.jsonl.gz", make_papers("2025-05"), gz=True)
    return repo


def test_run_with_commit_commits_the_digest_and_the_readme_index(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert git(digest_repo, "log", "-1", "--format=%s").strip() == "digest: 2025-05"
    assert sorted(git(digest_repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "README.md",
        "digests/2025/2025-05.json",
        "digests/2025/2025-05.md",
    ]
    readme = (digest_repo / "README.md").read_text()
    assert readme.startswith("# My reading\n\n## Research Trends\n\n" + INDEX_START)
    assert "**May, 2025** · [full digest](digests/2025/2025-05.md)" in readme
    assert git(digest_repo, "status", "--porcelain", "--", "README.md", "digests") == ""


def test_run_with_commit_refuses_staged_changes_before_replacing_the_earlier_digest(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = digest_repo / "digests" / "2025" / "2025-05.md"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("EARLIER DIGEST\n")
    (digest_repo / "notes.txt").write_text("half-finished\n")
    git(digest_repo, "add", "notes.txt")
    head = git(digest_repo, "rev-parse", "HEAD")
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        "trenddigest: error: refusing to commit the digest: changes are already "
        f"staged in {digest_repo.resolve()} (notes.txt); commit or unstage them first\n"
    )
    assert earlier.read_text() == "EARLIER DIGEST\n"
    assert not earlier.with_suffix(".json").exists()
    assert git(digest_repo, "rev-parse", "HEAD") == head
    assert git(digest_repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]


def test_run_with_commit_refuses_a_staged_readme_draft_before_writing_the_digest(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (digest_repo / "README.md").write_text("# My reading\nHalf a paragr\n")
    git(digest_repo, "add", "README.md")
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        "trenddigest: error: refusing to commit the digest: changes are already "
        f"staged in {digest_repo.resolve()} (README.md); commit or unstage them first\n"
    )
    assert not (digest_repo / "digests").exists()
    assert git(digest_repo, "log", "-1", "--format=%s").strip() == "start"


def test_run_with_commit_delivers_a_month_though_an_earlier_json_twin_is_unreadable(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"]
    assert main(argv) == 0
    twin = digest_repo / "digests" / "2025" / "2025-05.json"
    twin.write_text("<<<<<<< HEAD\n" + twin.read_text(encoding="utf-8"), encoding="utf-8")
    write_jsonl(digest_repo / "june.jsonl.gz", make_papers("2025-06"), gz=True)
    capsys.readouterr()
    code = main(["run", "--month", "2025-06", "--from", "june.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert git(digest_repo, "log", "-1", "--format=%s").strip() == "digest: 2025-06"
    (warning,) = err.splitlines()
    assert warning.endswith(
        "WARNING trenddigest.deliver: leaving digests/2025/2025-05.md out of the README "
        "index: digests/2025/2025-05.json is not a trenddigest JSON digest (JSONDecodeError: "
        "Expecting value: line 1 column 1 (char 0)); repair it, or delete it and run that "
        "month again"
    )


def test_run_with_commit_passes_a_pre_commit_hook_that_refuses_trailing_whitespace(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As pre-commit's trailing-whitespace hook does: the commit fails on a line
    # ending in blanks (git's own check here: "trailing whitespace.").
    hook = digest_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexec git diff --cached --check\n")
    hook.chmod(0o755)
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert git(digest_repo, "log", "-1", "--format=%s").strip() == "digest: 2025-05"


def test_run_with_commit_refuses_an_ignored_json_twin_before_writing_the_digest(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (digest_repo / ".gitignore").write_text("*.json\n")
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        "trenddigest: error: cannot commit the digest: git ignores digests/2025/2025-05.json "
        "(.gitignore line 1: *.json); un-ignore it there, or choose paths it does not ignore "
        "([digest] output, [git] readme), or stop committing: --no-commit, or [git] commit "
        "and push off\n"
    )
    assert not (digest_repo / "digests").exists()


def test_run_with_commit_indexes_a_digest_in_a_folder_named_with_brackets(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = ["--output", "dig[1]/{year}-{month}.md"]
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", *output, "--commit"])
    _, err = capsys.readouterr()
    assert code == 0, err
    readme = (digest_repo / "README.md").read_text()
    assert "**May, 2025** · [full digest](dig%5B1%5D/2025-05.md)" in readme
    assert "_No digests yet._" not in readme


def test_run_with_commit_on_a_detached_head_is_one_line_and_writes_nothing(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(digest_repo, "checkout", "-q", "--detach")
    head = git(digest_repo, "rev-parse", "HEAD")
    code = main(["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"])
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        f"trenddigest: error: cannot commit the digest: {digest_repo.resolve()} has a detached "
        "HEAD (no branch checked out), where a commit belongs to no branch; check out the "
        "branch the digests go on (git switch BRANCH), or stop committing: --no-commit, or "
        "[git] commit and push off\n"
    )
    assert not (digest_repo / "digests").exists()
    assert (digest_repo / "README.md").read_text() == "# My reading\n"
    assert git(digest_repo, "rev-parse", "HEAD") == head


@pytest.fixture
def papers_beside(clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clone as the working folder, and a month of papers beside it."""
    monkeypatch.chdir(clone)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    papers = tmp_path / "papers.jsonl.gz"
    write_jsonl(papers, make_papers("2025-05"), gz=True)
    return papers


def test_run_with_push_on_a_private_branch_is_one_line_and_writes_nothing(
    clone: Path, tmp_path: Path, papers_beside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    papers = papers_beside
    git(clone, "switch", "-q", "-c", "wip")
    argv = ["run", "--month", "2025-05", "--from", str(papers), "--commit", "--push", "-q"]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        f"trenddigest: error: cannot commit the digest: the branch checked out in "
        f"{clone.resolve()} is wip, but the digests go on main, the default branch of origin "
        "(or set [git] branch); switch to it (git switch main), or stop committing: "
        "--no-commit, or [git] commit and push off\n"
    )
    assert not (clone / "digests").exists()
    assert branches_of(tmp_path / "remote.git") == ["main"]


def test_run_with_push_says_on_which_branch_it_committed_and_where_it_pushed(
    clone: Path, papers_beside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    papers = papers_beside
    argv = ["run", "--month", "2025-05", "--from", str(papers), "--commit", "--push", "-q"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    head = git(clone, "rev-parse", "HEAD").strip()
    assert out.splitlines()[-2:] == [f"committed {head} on main", "pushed to origin main"]


def test_a_rerun_refuses_to_overwrite_and_commit_over_a_digest_annotated_by_hand(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"]
    assert main(argv) == 0
    digest = digest_repo / "digests/2025/2025-05.md"
    annotated = digest.read_text(encoding="utf-8") + "\n> Editor's note\n"
    digest.write_text(annotated, encoding="utf-8")
    git(digest_repo, "commit", "-qam", "note")
    head = git(digest_repo, "rev-parse", "HEAD")
    capsys.readouterr()
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert err == (
        "trenddigest: error: digests/2025/2025-05.md was changed after this store's run "
        "wrote it (by hand, or by another run's output arriving through git), and this run "
        "would overwrite it: keep a change you want elsewhere, or delete the file to have it "
        "written again\n"
    )
    assert digest.read_text(encoding="utf-8") == annotated
    assert git(digest_repo, "rev-parse", "HEAD") == head


def test_a_json_only_run_commits_its_json_and_leaves_the_readme_index_alone(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--format", "json"]
    assert main([*argv, "--commit", "-q"]) == 0
    assert git(digest_repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "digests/2025/2025-05.json"
    ]
    assert (digest_repo / "README.md").read_text() == "# My reading\n"


def test_run_commits_on_the_branch_git_branch_names(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (digest_repo / "config").mkdir()
    (digest_repo / "config" / "trenddigest.toml").write_text('[git]\nbranch = "digests"\n')
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"]
    assert main(argv) == 5  # on main: refused before anything is written
    assert "the digests go on digests, [git] branch" in capsys.readouterr().err
    git(digest_repo, "switch", "-q", "-c", "digests")
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(" on digests")


def test_run_says_what_it_imported_then_what_it_wrote_then_what_it_committed(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    imported, summary, committed = out.splitlines()
    assert imported.startswith("imported 1 file: ")
    assert summary.startswith("2025-05: ")
    assert committed == f"committed {git(digest_repo, 'rev-parse', 'HEAD').strip()} on main"


def test_run_with_commit_says_what_it_committed_and_a_rerun_that_nothing_changed(
    digest_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    head = git(digest_repo, "rev-parse", "HEAD").strip()
    assert out.splitlines()[-1] == f"committed {head} on main"
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == "nothing new to commit on main"
    assert git(digest_repo, "rev-parse", "HEAD").strip() == head


def test_index_markers_quoted_in_prose_or_a_code_block_are_not_the_index(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = (
        f"# Project\n\nThe index lives between `{INDEX_START}` and `{INDEX_END}`.\n\n"
        f"```markdown\n{INDEX_START}\n(the index)\n{INDEX_END}\n```\n"
    )
    text = readme_with_index(original, readme, [])
    assert text.startswith(original)  # nothing of it rewritten: the index is appended
    assert text.count(INDEX_START) == 3 and text.count(INDEX_END) == 3


@pytest.mark.parametrize(
    "code",
    [
        f"Example:\n\n    {INDEX_START}\n    {INDEX_END}\n",  # indented code block
        f"\t{INDEX_START}\n\t{INDEX_END}\n",  # a tab indents to column 4
        f"```\n~~~\n{INDEX_START}\n{INDEX_END}\n```\n",  # tildes do not close backticks
        f"~~~\n```\n{INDEX_START}\n{INDEX_END}\n~~~\n",  # nor backticks tildes
        f"````md\n```\n{INDEX_START}\n{INDEX_END}\n```\n````\n",  # nor a shorter run
        f"```\n``` not a closing fence\n{INDEX_START}\n{INDEX_END}\n```\n",  # nor one with text
        f"```\n    ```\n{INDEX_START}\n{INDEX_END}\n```\n",  # nor one indented 4 spaces
    ],
    ids=[
        "indented",
        "tab-indented",
        "tildes-in-backticks",
        "backticks-in-tildes",
        "shorter-run",
        "text-after",
        "indented-close",
    ],
)
def test_index_markers_inside_a_code_block_are_not_the_index(tmp_path: Path, code: str) -> None:
    original = f"# Project\n\n{code}\nMore prose.\n"
    text = readme_with_index(original, tmp_path / "README.md", [])
    assert text.startswith(original)  # nothing of it rewritten: the index is appended
    assert text.count(INDEX_START) == 2 and text.count(INDEX_END) == 2


@pytest.mark.parametrize(
    "before",
    [
        "```\ncode\n`````\n",  # a longer run closes the fence
        "~~~~\ncode\n   ~~~~  \n",  # indented up to 3 spaces, trailing spaces after
        "``` info`with`backticks\n",  # not a fence: backtick info may hold no backtick
    ],
    ids=["longer-close", "indented-close", "not-a-fence"],
)
def test_index_markers_after_what_is_not_an_open_code_block_are_the_index(
    tmp_path: Path, before: str
) -> None:
    original = f"# Project\n\n{before}\n{INDEX_START}\nold index\n{INDEX_END}\n\nMore prose.\n"
    text = readme_with_index(original, tmp_path / "README.md", [])
    assert "old index" not in text
    assert text.startswith(f"# Project\n\n{before}\n{INDEX_START}\n")
    assert text.endswith(f"{INDEX_END}\n\nMore prose.\n") and text.count(INDEX_START) == 1


def test_a_readme_starting_with_a_byte_order_mark_keeps_it_and_its_index_is_replaced(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes(f"\ufeff{INDEX_START}\nold index\n{INDEX_END}\nMore prose.\n".encode())
    update_readme_index(readme, [])
    expected = (
        f"\ufeff{INDEX_START}\n"
        "<!-- Written by trenddigest from the digests; edits here are replaced. -->\n\n"
        f"_No digests yet._\n{INDEX_END}\nMore prose.\n"
    )
    assert readme.read_bytes() == expected.encode()


def test_index_markers_on_lines_of_their_own_are_replaced(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = f"# Project\n\n  {INDEX_START}\nold index\n{INDEX_END}\n\nMore prose.\n"
    text = readme_with_index(original, readme, [])
    assert "old index" not in text
    assert text.endswith("\n\nMore prose.\n") and text.count(INDEX_START) == 1


OLD_PATTERN = "digests/{year}/{year}-{month}.md"
NEW_PATTERN = "reports/{year}-{month}.md"


def deliver_month(repo: Path, pattern: str, month: str) -> None:
    """Write ``month``'s digest and its twin where ``pattern`` puts them; commit both."""
    md = repo / pattern.format(year=month[:4], month=month[5:])
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text("# Digest\n")
    deliver_to_git(GitConfig(), pattern, month, [md, write_sidecar(md, month, [])], False)


def test_a_new_output_pattern_keeps_the_months_indexed_under_the_old_one(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    deliver_month(repo, OLD_PATTERN, "2025-05")
    deliver_month(repo, NEW_PATTERN, "2025-06")
    readme = git(repo, "show", "HEAD:README.md")
    assert "**June, 2025** · [full digest](reports/2025-06.md)" in readme
    assert "**May, 2025** · [full digest](digests/2025/2025-05.md)" in readme


def test_a_month_indexed_under_an_old_pattern_whose_digest_was_deleted_leaves_the_index(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    deliver_month(repo, OLD_PATTERN, "2025-05")
    git(repo, "rm", "-q", "digests/2025/2025-05.md", "digests/2025/2025-05.json")
    git(repo, "commit", "-q", "-m", "drop May")
    deliver_month(repo, NEW_PATTERN, "2025-06")
    readme = git(repo, "show", "HEAD:README.md")
    assert "**June, 2025**" in readme and "May, 2025" not in readme


def test_the_current_pattern_wins_for_a_month_indexed_under_both(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    deliver_month(repo, OLD_PATTERN, "2025-05")
    deliver_month(repo, NEW_PATTERN, "2025-05")
    readme = git(repo, "show", "HEAD:README.md")
    assert readme.count("**May, 2025**") == 1
    assert "**May, 2025** · [full digest](reports/2025-05.md)" in readme
