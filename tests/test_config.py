"""Configuration: validated keys and types, and the order in which sources override."""

import pytest

from trenddigest.config import DEFAULT_ARXIV_CATEGORIES, load_config
from trenddigest.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "td.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_follow_the_documented_arxiv_categories():
    config = load_config(env={})
    assert config.arxiv.categories == DEFAULT_ARXIV_CATEGORIES
    assert config.digest.output == "digests/{year}/{year}-{month}.md"


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
