"""Where a run writes: bad output patterns, folders, broken user templates, file modes.

Every refusal is one line and exit 2, and leaves no digest file (and no README) behind.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic import KD_CATEGORY_TOML, make_papers, write_jsonl
from trenddigest.cli import main

CATEGORIES = KD_CATEGORY_TOML

RUN = ["run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "-q"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Path:
    """A user's folder with a store holding a month of synthetic papers."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "cats.toml").write_text(CATEGORIES)
    write_jsonl(tmp_path / "papers.jsonl.gz", make_papers("2025-05"), gz=True)
    assert main(["import", "papers.jsonl.gz", "-q"]) == 0
    capsys.readouterr()
    return tmp_path


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    yield
    os.umask(old)


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main([*RUN, *argv])
    return code, capsys.readouterr().err


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            "out/{year}/{month}/{foo}.md",
            "output pattern 'out/{year}/{month}/{foo}.md' has an unknown field {foo}: "
            "use only {year} and {month}",
        ),
        (
            "out/{year}/{month}/{}.md",
            "output pattern 'out/{year}/{month}/{}.md' has an unknown field {}: "
            "use only {year} and {month}",
        ),
        (
            "out/{year}-{month}}.md",
            "output pattern 'out/{year}-{month}}.md' has a stray brace: write {{ or }} for a "
            "literal { or }, and use only {year} and {month} as fields",
        ),
        (
            "out/{year}/{month}/",
            "output pattern 'out/{year}/{month}/' names a folder; give a file name such as "
            "out/{year}/{month}/digest.md",
        ),
    ],
    ids=["unknown-field", "positional-field", "stray-brace", "folder"],
)
def test_an_unusable_output_pattern_is_an_input_error_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture, pattern: str, message: str
) -> None:
    before = files_under(workdir)
    code, err = run(capsys, "--output", pattern)
    assert (code, err) == (2, f"trenddigest: error: {message}\n")
    assert files_under(workdir) == before


def test_a_json_twin_that_is_a_folder_leaves_the_earlier_digest_pair_as_it_was(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run(capsys, "--output", "out/x-{year}-{month}.md")[0] == 0
    md, js = workdir / "out/x-2025-05.md", workdir / "out/x-2025-05.json"
    earlier = md.read_bytes()
    (workdir / "cats.toml").write_text(CATEGORIES.replace("Knowledge Distillation", "KD"))
    js.unlink()
    js.mkdir()
    code, err = run(capsys, "--output", "out/x-{year}-{month}.md")
    assert (code, err) == (
        2,
        "trenddigest: error: cannot write the JSON twin out/x-2025-05.json of the 2025-05 "
        "digest: it is a folder; rename or remove it, or choose another output pattern\n",
    )
    assert md.read_bytes() == earlier
    assert files_under(workdir / "out") == ["x-2025-05.md"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "# Digest\n\n{% for x in %}\n",
            "template my/digest.md.j2 line 3: Expected an expression, got 'end of statement block'",
        ),
        (
            "# {{ d.month }}\n\n{{ month }}\n",
            "template my/digest.md.j2 line 3: 'month' is undefined",
        ),
        (
            "# {{ d.month }}\n\n{{ 1 // 0 }}\n",
            "template my/digest.md.j2 line 3: ZeroDivisionError: integer division or modulo "
            "by zero",
        ),
        (
            '# {{ d.month }}\n{% include "digest.md.j2" %}\n',
            "template my/digest.md.j2 line 2: it includes or calls itself without end "
            "(RecursionError)",
        ),
        (
            "\udcff\udcfe# {{ d.month }}\n",  # the bytes ff fe, as a UTF-16 editor starts a file
            "template my/digest.md.j2 is not UTF-8 text: 'utf-8' codec can't decode byte 0xff "
            "in position 0: invalid start byte",
        ),
    ],
    ids=["syntax", "undefined", "division-by-zero", "self-inclusion", "not-utf-8"],
)
def test_a_broken_user_template_is_an_input_error_naming_file_and_line(
    workdir: Path, capsys: pytest.CaptureFixture, template: str, message: str
) -> None:
    (workdir / "my").mkdir()
    (workdir / "my" / "digest.md.j2").write_bytes(template.encode("utf-8", "surrogateescape"))
    (workdir / "my.toml").write_text('[digest]\ntemplates_dir = "my"\n')
    code, err = run(capsys, "--config", "my.toml")
    assert (code, err) == (
        2,
        f"trenddigest: error: {message}; fix the template or remove [digest] templates_dir "
        "to use the packaged one\n",
    )
    assert not (workdir / "digests").exists()


def test_the_digest_and_its_twin_get_the_mode_of_any_new_file(
    workdir: Path, capsys: pytest.CaptureFixture, umask_027: None
) -> None:
    assert run(capsys)[0] == 0
    for name in ("2025-05.md", "2025-05.json"):
        assert (workdir / "digests/2025" / name).stat().st_mode & 0o777 == 0o640


def test_commit_from_outside_the_repository_writes_no_readme_there(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(workdir / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = workdir / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    code, err = run(capsys, "--commit", "--output", "repo/digests/{year}/{year}-{month}.md")
    assert (code, err) == (
        5,
        f"trenddigest: error: cannot commit README.md: it is outside the git repository "
        f"{repo.resolve()}; choose paths inside it ([digest] output, [git] readme), or stop "
        "committing: --no-commit, or [git] commit and push off\n",
    )
    assert not (workdir / "README.md").exists()


TRENDS = ["trends", "--from", "2025-04", "--to", "2025-05", "--categories", "cats.toml", "-q"]


@pytest.mark.parametrize("argv", [RUN, TRENDS], ids=["run", "trends"])
def test_an_exception_in_a_user_trends_template_is_an_input_error_naming_file_and_line(
    workdir: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    (workdir / "my").mkdir()
    (workdir / "my" / "trends.md.j2").write_text("# Trends\n\n{{ 1 // 0 }}\n")
    (workdir / "my.toml").write_text('[digest]\ntemplates_dir = "my"\n')
    before = files_under(workdir)
    code = main(["--config", "my.toml", *argv])
    assert (code, capsys.readouterr().err) == (
        2,
        "trenddigest: error: template my/trends.md.j2 line 3: ZeroDivisionError: integer "
        "division or modulo by zero; fix the template or remove [digest] templates_dir to use "
        "the packaged one\n",
    )
    assert files_under(workdir) == before


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "report",
            "--output report needs a file extension, such as report.md "
            "(the PNG chart takes the same name with .png)",
        ),
        (
            "t.json",
            "--output t.json ends in .json, but the report is Markdown; give it a .md name "
            "such as t.md",
        ),
        (
            "x.PNG",
            "--output x.PNG is where the report's PNG chart goes; give the report a .md name",
        ),
    ],
    ids=["no-extension", "json", "png-upper-case"],
)
def test_a_trends_output_name_the_report_cannot_use_is_refused_and_nothing_written(
    workdir: Path, capsys: pytest.CaptureFixture, output: str, message: str
) -> None:
    before = files_under(workdir)
    code = main([*TRENDS, "--output", output])
    assert (code, capsys.readouterr()) == (2, ("", f"trenddigest: error: {message}\n"))
    assert files_under(workdir) == before


def test_a_one_month_trends_report_writes_no_chart_it_does_not_show(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("matplotlib")
    code = main([*TRENDS[:1], "--from", "2025-05", "--to", "2025-05", *TRENDS[5:]])
    assert (code, capsys.readouterr().out) == (0, "wrote digests/trends-2025-05-to-2025-05.md\n")
    assert files_under(workdir / "digests") == ["trends-2025-05-to-2025-05.md"]
