"""Configuration: validated keys and types, and the order in which sources override."""

import pytest

from trenddigest.config import DEFAULT_ARXIV_CATEGORIES, SECTIONS, load_config
from trenddigest.errors import ConfigError, TrendDigestError


def write(tmp_path, text):
    path = tmp_path / "td.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_follow_the_documented_arxiv_categories():
    config = load_config(env={})
    assert config.arxiv.categories == DEFAULT_ARXIV_CATEGORIES
    assert config.digest.output == "digests/{year}/{year}-{month}.md"


def test_the_default_user_agent_points_arxiv_at_no_one_elses_page():
    # pypi.org/project/trenddigest is another project's: arXiv would be sent there.
    assert load_config(env={}).arxiv.user_agent == "trenddigest/0.1 (monthly research digest)"


def test_a_file_overrides_the_defaults(tmp_path):
    config = load_config(write(tmp_path, "[digest]\npapers_per_category = 5\n"), env={})
    assert config.digest.papers_per_category == 5


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path):
    path = write(tmp_path, "[digest]\npapers_per_categroy = 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path} [digest]: unknown key 'papers_per_categroy' (did you mean 'papers_per_category'?)"
    )


def test_unknown_section_is_rejected_with_a_suggestion(tmp_path):
    path = write(tmp_path, '[arxv]\napi_url = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown section \[arxv\] \(did you mean 'arxiv'\?\)"):
        load_config(path, env={})


def test_an_unknown_section_with_no_close_name_lists_the_sections(tmp_path):
    path = write(tmp_path, "[zzzz]\nx = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path}: unknown section [zzzz] (known sections: {', '.join(SECTIONS)})"
    )


def test_an_endpoint_from_the_environment_that_is_no_url_names_the_variable(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={"TRENDDIGEST_ARXIV_API_URL": "ftp://x"})
    assert str(err.value) == (
        "TRENDDIGEST_ARXIV_API_URL 'ftp://x' (which sets [arxiv] api_url) must be an http:// "
        "or https:// URL"
    )


def test_wrong_type_is_named(tmp_path):
    path = write(tmp_path, '[digest]\npapers_per_category = "ten"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path} [digest]: 'papers_per_category' must be an integer, not a string ('ten')"
    )


def test_a_list_of_strings_is_checked_item_by_item(tmp_path):
    path = write(tmp_path, '[arxiv]\ncategories = ["cs.CV", 3]\n')
    with pytest.raises(ConfigError, match="'categories' must be a list of strings"):
        load_config(path, env={})


def test_an_integer_is_accepted_where_a_number_is_expected(tmp_path):
    config = load_config(write(tmp_path, "[digest]\nthreshold = 1\n"), env={})
    assert config.digest.threshold == 1.0


def test_a_config_file_saved_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "td.toml"
    path.write_bytes(b"\xef\xbb\xbf[digest]\npapers_per_category = 7\n")
    assert load_config(path).digest.papers_per_category == 7


def test_a_config_file_that_is_not_utf8_is_one_clear_line(tmp_path):
    path = tmp_path / "td.toml"
    path.write_bytes(b"[digest]\n# caf\xe9\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert (
        str(refused.value) == f"{path} is not UTF-8 text (byte 14); save the config file as UTF-8"
    )


def test_an_email_ca_file_that_does_not_exist_is_refused(tmp_path):
    path = write(
        tmp_path,
        '[email]\nenabled = true\nhost = "smtp.example.org"\nsender = "d@example.org"\n'
        'to = ["a@example.org"]\nca_file = "missing-ca.pem"\n',
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "[email] ca_file 'missing-ca.pem' is not a file; give the PEM file of the CA that "
        "signed the SMTP server's certificate, or leave it empty to trust the system's CAs"
    )


def test_invalid_toml_is_one_clear_line(tmp_path):
    path = write(tmp_path, "[digest\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path, env={})


def test_a_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found; pass an existing file to --config"):
        load_config(str(tmp_path / "nope.toml"), env={})


def test_environment_chooses_the_config_file(tmp_path):
    path = write(tmp_path, '[store]\npath = "from-file.sqlite3"\n')
    assert load_config(env={"TRENDDIGEST_CONFIG": path}).store.path == "from-file.sqlite3"


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, '[store]\npath = "from-file.sqlite3"\n')
    env = {
        "TRENDDIGEST_STORE": "from-env.sqlite3",
        "TRENDDIGEST_ARXIV_API_URL": "http://127.0.0.1:9/api",
    }
    config = load_config(path, env=env)
    assert config.store.path == "from-env.sqlite3"
    assert config.arxiv.api_url == "http://127.0.0.1:9/api"


def test_flags_override_environment_and_file(tmp_path):
    path = write(tmp_path, '[store]\npath = "from-file.sqlite3"\n')
    config = load_config(
        path,
        env={"TRENDDIGEST_STORE": "from-env.sqlite3"},
        overrides={"store": {"path": "from-flag.sqlite3"}, "digest": {"by": None}},
    )
    assert config.store.path == "from-flag.sqlite3"
    assert config.digest.by == "submitted"  # a flag that was not given changes nothing


def test_request_spacing_below_arxivs_limit_is_refused(tmp_path):
    path = write(tmp_path, "[arxiv]\ndelay_seconds = 1\n")
    with pytest.raises(ConfigError, match="at least 3"):
        load_config(path, env={})


def test_output_pattern_must_name_year_and_month(tmp_path):
    path = write(tmp_path, '[digest]\noutput = "digest.md"\n')
    with pytest.raises(ConfigError, match=r"must contain \{year\}"):
        load_config(path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[digest]\nthreshold = 5\n",
            "[digest] threshold must be between 0 and 1 (a score on the digest's 0..1 scale), "
            "not 5.0",
        ),
        (
            "[digest]\ntop_picks = -1\n",
            "[digest] top_picks must be 0 or more (0 leaves the top picks out), not -1",
        ),
        ("[email]\nport = 99999\n", "[email] port must be between 1 and 65535, not 99999"),
        ("[git]\nindex_months = 0\n", "[git] index_months must be at least 1, not 0"),
        (
            "[store]\nlock_timeout_seconds = -1\n",
            "[store] lock_timeout_seconds must be 0 or more (0: fail at once when another run "
            "holds it), not -1.0",
        ),
        (
            "[schedule]\nmisfire_grace_seconds = 0\n",
            "[schedule] misfire_grace_seconds must be at least 1 (how late a missed job may "
            "still run), not 0",
        ),
        ("[rank]\nprofile_weight = -1\n", "[rank] profile_weight must be 0 or more, not -1.0"),
        (
            "[rank]\nthreshold = 2\n",
            "[rank] threshold must be between 0 and 1 (a score on the 0..1 scale), not 2.0",
        ),
    ],
)
def test_a_number_outside_its_range_is_refused_with_the_range(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert str(err.value) == message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused(tmp_path, value):
    path = write(tmp_path, f"[digest]\nthreshold = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == f"{path} [digest]: 'threshold' must be a finite number, not {value}"


def test_a_templates_dir_that_does_not_exist_is_refused(tmp_path):
    path = write(tmp_path, f'[digest]\ntemplates_dir = "{tmp_path / "nowhere"}"\n')
    with pytest.raises(ConfigError, match=r"templates_dir '.*nowhere' is not a folder; create"):
        load_config(path, env={})


def test_an_existing_templates_dir_is_accepted(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "trends.md.j2").write_text("{{ report }}\n")
    path = write(tmp_path, f'[digest]\ntemplates_dir = "{tmp_path / "mine"}"\n')
    config = load_config(path, env={})
    assert config.digest.templates_dir == str(tmp_path / "mine")


def test_a_templates_dir_holding_no_template_of_ours_is_refused_naming_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.j2").write_text("MINE\n")  # misnamed
    path = write(tmp_path, '[digest]\ntemplates_dir = "mine"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "[digest] templates_dir 'mine' holds none of digest.md.j2, trends.md.j2, "
        "email.html.j2, so the packaged templates would be used; name your template so "
        "(start from a copy of templates/digest.md.j2) or leave the key out"
    )


def test_an_output_pattern_with_an_unknown_field_is_refused_when_the_config_loads(tmp_path):
    path = write(tmp_path, '[digest]\noutput = "d/{year}/{month}/{foo}.md"\n')
    with pytest.raises(TrendDigestError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "output pattern 'd/{year}/{month}/{foo}.md' has an unknown field {foo}: "
        "use only {year} and {month}"
    )


def test_email_turned_on_without_a_host_is_refused_when_the_config_loads(tmp_path):
    path = write(tmp_path, '[email]\nenabled = true\nsender = "a@example.org"\nto = ["b@x.org"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == "[email] host is empty; set it to send the digest by email"


def test_the_email_flag_is_checked_like_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./config/trenddigest.toml
    with pytest.raises(ConfigError, match=r"^\[email\] host is empty"):
        load_config(None, env={}, overrides={"email": {"enabled": True}})


@pytest.mark.parametrize(
    ("key", "line", "address"),
    [
        ("sender", 'sender = "not an address"', "not an address"),
        ("to", 'to = ["also not, an address"]', "also not, an address"),
        ("to", 'to = ["a@example.org, b@example.org"]', "a@example.org, b@example.org"),
    ],
)
def test_an_email_address_that_is_not_one_address_is_refused(tmp_path, key, line, address):
    base = {"sender": 'sender = "lab@example.org"', "to": 'to = ["me@example.org"]'}
    base[key] = line
    text = '[email]\nenabled = true\nhost = "smtp.example.org"\n' + "\n".join(base.values())
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text + "\n"), env={})
    assert str(err.value) == (
        f"[email] {key} {address!r} is not an email address; write one address per entry, "
        "such as name@example.org"
    )


def test_a_named_email_address_with_a_comma_in_quotes_is_one_address(tmp_path):
    text = (
        '[email]\nenabled = true\nhost = "smtp.example.org"\nsender = "lab@example.org"\n'
        "to = ['\"Doe, Jane\" <jane@example.org>']\n"
    )
    assert load_config(write(tmp_path, text), env={}).email.to == ['"Doe, Jane" <jane@example.org>']


def test_doubled_braces_are_text_not_the_fields_an_output_pattern_needs(tmp_path):
    path = write(tmp_path, '[digest]\noutput = "d/{{year}}-{{month}}.md"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "the output pattern (--output or [digest] output) must contain {year}, e.g. "
        "digests/{year}/{year}-{month}.md"
    )


def test_an_arxiv_category_outside_arxivs_archives_is_refused_with_a_suggestion(tmp_path):
    path = write(tmp_path, '[arxiv]\ncategories = ["cs.CV", "sta.ML"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "[arxiv] categories: 'sta.ML' is not an arXiv category (archive.SUBJECT such as "
        "cs.CV or stat.ML) (did you mean 'stat'?)"
    )


@pytest.mark.parametrize(
    ("arxiv", "message"),
    [
        (
            'user_agent = "数字 digest (mailto:me@example.org)"',
            "[arxiv] user_agent '数字 digest (mailto:me@example.org)' has characters an HTTP "
            "header cannot carry; write it in Latin letters, e.g. my-lab-digest "
            "(mailto:me@example.org)",
        ),
        (
            'user_agent = "lab digest\\nmailto:me@example.org"',
            "[arxiv] user_agent 'lab digest\\nmailto:me@example.org' has a line break or "
            "control character; write it on one line",
        ),
        (
            'categories = ["cs.CV", "cs.LG", "cs.CV"]',
            "[arxiv] categories names cs.CV more than once; list each once (each is polled "
            "and fetched once per name)",
        ),
        (
            'categories = ["cs."]',
            "[arxiv] categories: 'cs.' is not an arXiv category (archive.SUBJECT such as "
            "cs.CV or stat.ML)",
        ),
        (
            'categories = ["cs"]',
            "[arxiv] categories: 'cs' is an archive, not a category; name its subjects, "
            "such as cs.CV",
        ),
        (
            'categories = ["cs.CV "]',
            "[arxiv] categories: 'cs.CV ' has spaces around it; write 'cs.CV'",
        ),
        (
            'categories = ["cs.C V"]',
            "[arxiv] categories: 'cs.C V' is not an arXiv category (archive.SUBJECT such as "
            "cs.CV or stat.ML)",
        ),
    ],
    ids=[
        "agent-not-latin-1",
        "agent-line-break",
        "category-twice",
        "category-no-subject",
        "archive-alone",
        "category-with-a-space",
        "subject-with-a-space",
    ],
)
def test_arxiv_settings_no_request_could_carry_are_refused_when_the_config_loads(
    tmp_path, arxiv, message
):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[arxiv]\n{arxiv}\n"), env={})
    assert str(err.value) == message


def test_a_git_branch_that_is_no_branch_name_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '[git]\nbranch = "my digests"\n'), env={})
    assert str(err.value) == (
        "[git] branch 'my digests' is not a branch's name; give one such as digests (git "
        "branch -a lists them), or leave it empty for the remote's default"
    )


def test_an_archive_that_is_one_category_is_accepted_alone(tmp_path):
    path = write(tmp_path, '[arxiv]\ncategories = ["hep-th", "quant-ph", "math.ST"]\n')
    assert load_config(path, env={}).arxiv.categories == ["hep-th", "quant-ph", "math.ST"]


def test_an_accented_user_agent_is_accepted(tmp_path):
    path = write(tmp_path, '[arxiv]\nuser_agent = "Université lab digest (mailto:a@b.fr)"\n')
    assert load_config(path, env={}).arxiv.user_agent.startswith("Université")


def test_a_local_config_link_whose_target_is_gone_is_an_error_not_the_defaults(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trenddigest.toml").symlink_to(tmp_path / "moved.toml")
    with pytest.raises(ConfigError) as err:
        load_config(env={})
    assert str(err.value) == (
        f"config file config/trenddigest.toml is a link to {tmp_path / 'moved.toml'}, "
        "which does not exist; fix the link or remove it"
    )


def test_paths_written_from_the_home_folder_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write(
        tmp_path,
        '[store]\npath = "~/td/store.sqlite3"\n[digest]\noutput = "~/dg/{year}-{month}.md"\n'
        '[git]\nreadme = "~/README.md"\n',
    )
    config = load_config(path, env={}, overrides={"digest": {"categories_file": "~/c.toml"}})
    assert (config.store.path, config.digest.output, config.git.readme) == (
        f"{tmp_path}/td/store.sqlite3",
        f"{tmp_path}/dg/{{year}}-{{month}}.md",
        f"{tmp_path}/README.md",
    )
    assert config.digest.categories_file == f"{tmp_path}/c.toml"


def test_an_api_url_that_is_not_http_is_refused(tmp_path):
    path = write(tmp_path, '[arxiv]\napi_url = "ftp://example.org/api"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "[arxiv] api_url 'ftp://example.org/api' must be an http:// or https:// URL"
    )


def test_a_first_wait_longer_than_the_longest_is_refused(tmp_path):
    path = write(tmp_path, "[arxiv]\nbackoff_seconds = 500\nmax_backoff_seconds = 10\n")
    with pytest.raises(ConfigError, match=r"backoff_seconds \(500\) is more than"):
        load_config(path, env={})


def test_a_longest_wait_shorter_than_the_spacing_is_refused(tmp_path):
    # The client stops a run rather than wait longer than max_backoff_seconds, so one
    # under the 3 s between requests would stop a command at its first wait for the last.
    path = write(
        tmp_path, "[arxiv]\nbackoff_seconds = 1\nmax_backoff_seconds = 2\ndelay_seconds = 3\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        "[arxiv] max_backoff_seconds (2) is less than delay_seconds (3), the wait between "
        "two requests; raise max_backoff_seconds to at least 3"
    )


def test_a_config_file_named_by_the_environment_that_is_missing_names_the_variable(tmp_path):
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(ConfigError) as err:
        load_config(env={"TRENDDIGEST_CONFIG": missing})
    assert str(err.value) == (
        f"config file {missing} not found (named by TRENDDIGEST_CONFIG); point "
        "TRENDDIGEST_CONFIG at an existing file or unset it"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[store]\npath = ""\n',
            "[store] path is empty; give the store's file, e.g. data/trenddigest.sqlite3",
        ),
        (
            '[git]\nremote = ""\n',
            "[git] remote '' is not a remote's name; give one such as origin "
            "(git remote -v lists them)",
        ),
        (
            '[git]\nremote = "--force"\n',
            "[git] remote '--force' is not a remote's name; give one such as origin "
            "(git remote -v lists them)",
        ),
        (
            '[git]\nreadme = ""\n',
            "[git] readme is empty; give the file the digest index goes into, e.g. README.md",
        ),
        (
            '[arxiv]\nuser_agent = " "\n',
            "[arxiv] user_agent is empty; arXiv asks API users to identify themselves: "
            "name your installation and a contact",
        ),
    ],
    ids=["store-path", "git-remote-empty", "git-remote-option", "git-readme", "user-agent"],
)
def test_an_empty_path_or_name_is_refused_when_the_config_loads(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert str(err.value) == message


def test_an_smtp_login_without_a_password_variable_is_refused_when_the_config_loads(tmp_path):
    text = (
        '[email]\nenabled = true\nhost = "smtp.example.org"\nsender = "lab@example.org"\n'
        'to = ["me@example.org"]\nusername = "bot"\npassword_env = ""\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert str(err.value) == (
        "[email] password_env is empty but username is set; name the environment variable "
        "that holds the SMTP password, e.g. TRENDDIGEST_SMTP_PASSWORD"
    )


def test_the_documented_config_file_lists_every_key_with_its_default():
    import dataclasses
    import tomllib
    from pathlib import Path

    from trenddigest.config import SECTIONS, Config

    documented = tomllib.loads(
        (Path(__file__).parent.parent / "config" / "trenddigest.toml").read_text("utf-8")
    )
    defaults = Config()
    assert list(documented) == SECTIONS
    for name in SECTIONS:
        section = defaults.section(name)
        expected = {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
        assert documented[name] == expected, name


# -- [schedule] is checked whenever the config loads, not only by `schedule` ------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'poll_cron = "30 20 * *"',
            "[schedule] poll_cron = '30 20 * *' is not a valid crontab line: expected 5 fields "
            "(minute hour day month weekday), got 4",
        ),
        (
            'poll_cron = "61 20 * * 0-4"',
            "[schedule] poll_cron = '61 20 * * 0-4' is not a valid crontab line: minute '61': "
            "the last value (61) is higher than the maximum value (59)",
        ),
        (
            'digest_cron = "0 6 0 * *"',
            "[schedule] digest_cron = '0 6 0 * *' is not a valid crontab line: day '0': "
            "the first value (0) is lower than the minimum value (1)",
        ),
        (
            'poll_cron = "30 20 * * 0-9"',
            "[schedule] poll_cron = '30 20 * * 0-9' is not a valid crontab line: weekday '0-9': "
            "bad day of week '9' (use 0-7 or sun..sat)",
        ),
        (
            'digest_cron = "0 6 31 2 *"',
            "[schedule] digest_cron = '0 6 31 2 *' is not a valid crontab line: it names a date "
            "that never comes (such as 31 February)",
        ),
        (
            'timezone = "Mars/Olympus"',
            "[schedule] timezone 'Mars/Olympus' is not a known time zone (e.g. US/Eastern, UTC)",
        ),
    ],
    ids=["fields", "minute", "day", "weekday", "never", "timezone"],
)
def test_a_bad_schedule_setting_is_refused_when_the_config_loads(tmp_path, line, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[schedule]\n{line}\n"), env={})
    assert str(err.value) == message


def test_an_unknown_schedule_key_is_refused_with_a_suggestion(tmp_path):
    path = write(tmp_path, '[schedule]\ndigest_crom = "0 6 1 * *"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path} [schedule]: unknown key 'digest_crom' (did you mean 'digest_cron'?)"
    )


def test_a_valid_schedule_of_ones_own_is_accepted(tmp_path):
    text = (
        '[schedule]\npoll_cron = "0 21 * * mon-fri"\ndigest_cron = "0 7 3 * *"\ntimezone = "UTC"\n'
    )
    config = load_config(write(tmp_path, text), env={})
    assert (config.schedule.poll_cron, config.schedule.digest_cron) == (
        "0 21 * * mon-fri",
        "0 7 3 * *",
    )


def test_fetch_refuses_a_bad_digest_cron_before_doing_anything(tmp_path, capsys, monkeypatch):
    from arxiv_server import unused_port
    from trenddigest.cli import main

    monkeypatch.chdir(tmp_path)
    nowhere = f"http://127.0.0.1:{unused_port()}/api/query"  # should it get that far
    text = f'[arxiv]\napi_url = "{nowhere}"\n[schedule]\ndigest_cron = "0 6 1 13 *"\n'
    path = write(tmp_path, text)
    assert main(["--config", path, "fetch", "--month", "2025-05"]) == 2
    assert capsys.readouterr().err == (
        "trenddigest: error: [schedule] digest_cron = '0 6 1 13 *' is not a valid crontab "
        "line: month '13': the last value (13) is higher than the maximum value (12)\n"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "td.toml"]  # no store, no lock
