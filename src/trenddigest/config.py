"""Configuration: one TOML file, validated, with environment and flag overrides.

Precedence, lowest first: built-in defaults, the packaged ``trenddigest.toml``, the
file chosen by ``--config`` / ``TRENDDIGEST_CONFIG`` / ``./config/trenddigest.toml``,
environment variables, command-line flags.  Every key is checked: an unknown key is
rejected with the closest known one, and a value of the wrong type is named, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .models import ARXIV_ARCHIVES

# The archives that are one category each (hep-th); the others are split into subjects
# (cs.CV), and the API matches no paper to the archive's name alone ("cs").
SINGLE_CATEGORY_ARCHIVES = frozenset(
    ["gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex", "nucl-th", "quant-ph"]
)
_SUBJECT = re.compile(r"[A-Za-z][A-Za-z-]*")
# The templates a [digest] templates_dir may hold, each shadowing the packaged one.
USER_TEMPLATES = ("digest.md.j2", "trends.md.j2", "email.html.j2")
DEFAULT_ARXIV_CATEGORIES = ["cs.CV", "cs.LG", "cs.AI", "cs.CL", "stat.ML", "eess.IV"]


@dataclass
class ArxivConfig:
    """Where and how politely to talk to arXiv (see arXiv's API terms of use)."""

    categories: list[str] = field(default_factory=lambda: list(DEFAULT_ARXIV_CATEGORIES))
    api_url: str = "https://export.arxiv.org/api/query"
    feed_url: str = "https://rss.arxiv.org/rss/"
    page_size: int = 1000
    delay_seconds: float = 3.0
    max_retries: int = 5
    timeout_seconds: float = 60.0
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 300.0
    user_agent: str = "trenddigest/0.1 (monthly research digest)"


@dataclass
class StoreConfig:
    path: str = "data/trenddigest.sqlite3"
    # How long a run waits for another trenddigest process using the same store.
    lock_timeout_seconds: float = 10.0


@dataclass
class DigestConfig:
    """What a digest contains and where it is written."""

    output: str = "digests/{year}/{year}-{month}.md"
    papers_per_category: int = 10
    threshold: float = 0.0
    categories_file: str = ""
    templates_dir: str = ""
    by: str = "submitted"
    top_picks: int = 10


@dataclass
class RankConfig:
    """Ranker settings; defaults are the measured winners (benchmarks/results/quality.md)."""

    method: str = "bm25"
    title_weight: float = 3.0  # a title word counts as this many abstract words
    k1: float = 5.0  # BM25 saturation: higher lets repeated keywords keep counting
    b: float = 0.75  # BM25 length normalisation
    word_weight: float = 0.25  # each word of a multi-word keyword, as weak evidence
    stemming: str = "prefix"  # "prefix" (distillation ~ distilled), "plural" or "none"
    acronyms: bool = True  # "knowledge distillation (KD)": each later "KD" counts as the phrase
    threshold: float = 0.6  # lowest score (0..1) that places a paper; a category may set its own
    relative_threshold: float = 0.0  # also require this share of the category's top-10 mean
    background_idf: bool = False  # idf also over the two months before the digest's month
    prf_docs: int = 0  # pseudo-relevance feedback: top papers per category (0: off)
    prf_weight: float = 0.0
    lsa_components: int = 0  # latent semantic analysis re-ranking (0: off)
    lsa_weight: float = 0.0
    diversity: float = 1.0  # near-duplicate similarity demoted in a top 20 (1.0: off)
    profile_weight: float = 0.25  # TF-IDF cosine to the whole category profile, in the score


@dataclass
class ScheduleConfig:
    poll_cron: str = "30 6 * * 1-5"
    digest_cron: str = "0 6 1 * *"
    timezone: str = "US/Eastern"
    misfire_grace_seconds: int = 6 * 3600


@dataclass
class GitConfig:
    commit: bool = False
    push: bool = False
    remote: str = "origin"
    readme: str = "README.md"
    index_months: int = 12
    # The branch the digests go on; empty: the remote's default branch (origin/HEAD).
    branch: str = ""


@dataclass
class EmailConfig:
    enabled: bool = False
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = "TRENDDIGEST_SMTP_PASSWORD"
    sender: str = ""
    to: list[str] = field(default_factory=list)
    timeout_seconds: float = 30.0
    # PEM file of a CA to trust besides the system's (a lab's own mail server).
    ca_file: str = ""


@dataclass
class Config:
    arxiv: ArxivConfig = field(default_factory=ArxivConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    rank: RankConfig = field(default_factory=RankConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    git: GitConfig = field(default_factory=GitConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    source: str = "built-in defaults"

    def section(self, name: str) -> Any:
        return getattr(self, name)


SECTIONS = [f.name for f in dataclasses.fields(Config) if f.name != "source"]

# Environment variables that override single keys (documented in README).
ENV_OVERRIDES = {
    "TRENDDIGEST_STORE": ("store", "path"),
    "TRENDDIGEST_ARXIV_API_URL": ("arxiv", "api_url"),
    "TRENDDIGEST_ARXIV_FEED_URL": ("arxiv", "feed_url"),
}


def packaged_config_path() -> Path:
    return Path(str(files("trenddigest.defaults").joinpath("trenddigest.toml")))


def _suggest(word: str, options: list[str], kind: str = "keys") -> str:
    """The closest of ``options`` as a suggestion, else all of them (``kind`` names
    what they are: keys, sections, archives)."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else f" (known {kind}: {', '.join(options)})"


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        return "a list of strings"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, str(tp)
    )


def _value_type(value: Any) -> str:
    """What the user wrote, in TOML's words (the file is TOML, not Python)."""
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((int, "an integer"), (float, "a number"), (str, "a string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against a dataclass field type; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{where} must be a finite number, not {value!r}")
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(tp, type) and isinstance(value, tp) or isinstance(tp, types.UnionType):
        return value
    raise ConfigError(f"{where} must be {_type_name(tp)}, not {_value_type(value)} ({value!r})")


def _apply_section(target: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(target))
    known = [f.name for f in dataclasses.fields(target)]
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, known)}")
        setattr(target, key, _coerce(value, hints[key], f"{where}: '{key}'"))


def apply_mapping(config: Config, data: dict[str, Any], origin: str) -> None:
    """Merge a parsed TOML document into ``config``, validating every key."""
    for name, values in data.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"{origin}: unknown section [{name}]{_suggest(name, SECTIONS, 'sections')}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{name}] must be a table of keys")
        _apply_section(config.section(name), values, f"{origin} [{name}]")


def _read_toml(path: Path, *, from_env: bool = False) -> dict[str, Any]:
    try:
        # An editor's invisible byte-order mark would be a syntax error at line 1.
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        if path.is_symlink():
            raise ConfigError(
                f"config file {path} is a link to {os.readlink(path)}, which does not "
                "exist; fix the link or remove it"
            ) from None
        if from_env:  # the user may not know a variable chose it: name the variable
            raise ConfigError(
                f"config file {path} not found (named by TRENDDIGEST_CONFIG); point "
                "TRENDDIGEST_CONFIG at an existing file or unset it"
            ) from None
        raise ConfigError(
            f"config file {path} not found; pass an existing file to --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start}); save the config file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def find_config_file(explicit: str | None, env: dict[str, str]) -> Path | None:
    """The user's config file, if any: flag, then environment, then ./config/."""
    if explicit:
        return Path(explicit).expanduser()
    if env.get("TRENDDIGEST_CONFIG"):  # quoted in a cron line or a unit file: no shell's ~
        return Path(env["TRENDDIGEST_CONFIG"]).expanduser()
    local = Path("config") / "trenddigest.toml"
    # Anything at that path counts, even a link whose target is gone or a folder: reading
    # it then says what is wrong, where falling back would run on the packaged settings.
    return local if os.path.lexists(local) else None


def load_config(
    path: str | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """Build the effective configuration.

    ``overrides`` holds command-line values as ``{section: {key: value}}``; ``None``
    values mean "flag not given" and are ignored.
    """
    env = dict(os.environ) if env is None else env
    config = Config()
    apply_mapping(config, _read_toml(packaged_config_path()), "packaged trenddigest.toml")
    user_file = find_config_file(path, env)
    if user_file is not None:
        from_env = not path and bool(env.get("TRENDDIGEST_CONFIG"))
        apply_mapping(config, _read_toml(user_file, from_env=from_env), str(user_file))
        config.source = str(user_file)
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            value = env[var]
            # Checked here too, so that the message names where the value came from.
            if key.endswith("_url") and not value.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{var} {value!r} (which sets [{section}] {key}) must be an http:// or "
                    "https:// URL"
                )
            setattr(config.section(section), key, value)
    for section, values in (overrides or {}).items():
        given = {k: v for k, v in values.items() if v is not None}
        _apply_section(config.section(section), given, "command line")
    _expand_home(config)
    validate(config)
    return config


# Paths a user may write as "~/...": the shell expands ~ on a command line, not in a
# config file or a quoted flag, and a folder literally named "~" is never what was meant.
_PATHS = (
    ("store", "path"),
    ("digest", "output"),
    ("digest", "categories_file"),
    ("digest", "templates_dir"),
    ("git", "readme"),
    ("email", "ca_file"),
)


def _expand_home(config: Config) -> None:
    for section, key in _PATHS:
        value = getattr(config.section(section), key)
        if value.startswith("~"):
            setattr(config.section(section), key, os.path.expanduser(value))


# (section, key, lowest, highest, why): numbers outside their range are refused at
# load time rather than producing an empty digest or failing at send time.
_RANGES: list[tuple[str, str, float, float | None, str]] = [
    ("arxiv", "max_retries", 0, None, ""),
    ("arxiv", "timeout_seconds", 0.001, None, ""),
    ("arxiv", "backoff_seconds", 0, None, ""),
    ("arxiv", "max_backoff_seconds", 0, None, ""),
    ("store", "lock_timeout_seconds", 0, None, " (0: fail at once when another run holds it)"),
    ("digest", "papers_per_category", 1, None, ""),
    ("digest", "threshold", 0, 1, " (a score on the digest's 0..1 scale)"),
    ("digest", "top_picks", 0, None, " (0 leaves the top picks out)"),
    ("schedule", "misfire_grace_seconds", 1, None, " (how late a missed job may still run)"),
    ("git", "index_months", 1, None, ""),
    ("email", "port", 1, 65535, ""),
    ("email", "timeout_seconds", 0.001, None, ""),
]
_RANK_RANGES: list[tuple[str, float, float | None, str]] = [
    ("title_weight", 0, None, ""),
    ("k1", 0, None, ""),
    ("b", 0, 1, ""),
    ("word_weight", 0, None, ""),
    ("threshold", 0, 1, " (a score on the 0..1 scale)"),
    ("relative_threshold", 0, 1, " (a share of the category's top-10 mean)"),
    ("prf_docs", 0, None, " (0 turns feedback off)"),
    ("prf_weight", 0, None, ""),
    ("lsa_components", 0, None, " (0 turns LSA off)"),
    ("lsa_weight", 0, None, ""),
    ("diversity", 0, 1, " (1.0 turns demotion off)"),
    ("profile_weight", 0, None, ""),
]
RANK_METHODS = ("bm25", "tfidf")
RANK_STEMMING = ("prefix", "plural", "none")


def _check_range(where: str, value: float, low: float, high: float | None, why: str) -> None:
    if value < low or (high is not None and value > high):
        if high is not None:
            bound = f"between {low:g} and {high:g}"
        elif low == 0:
            bound = "0 or more"
        elif low < 1:
            bound = "more than 0"
        else:
            bound = f"at least {low:g}"
        raise ConfigError(f"{where} must be {bound}{why}, not {value!r}")


def _check_user_agent(agent: str) -> None:
    """HTTP headers carry Latin-1 on one line: anything else fails in the middle of a
    fetch (a crash, or a line break taken for a network fault and retried for minutes)."""
    try:
        agent.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigError(
            f"[arxiv] user_agent {agent!r} has characters an HTTP header cannot carry; "
            "write it in Latin letters, e.g. my-lab-digest (mailto:me@example.org)"
        ) from None
    if any(not ch.isprintable() for ch in agent):
        raise ConfigError(
            f"[arxiv] user_agent {agent!r} has a line break or control character; "
            "write it on one line"
        )


def check_rank(settings: RankConfig) -> None:
    """The [rank] section's values; also checked by the ranker for settings built in code."""
    if settings.method not in RANK_METHODS:
        raise ConfigError(
            f"[rank] method {settings.method!r} is unknown; "
            f"use {' or '.join(map(repr, RANK_METHODS))}"
        )
    if settings.stemming not in RANK_STEMMING:
        raise ConfigError(
            f"[rank] stemming must be one of {', '.join(map(repr, RANK_STEMMING))}, "
            f"not {settings.stemming!r}"
        )
    for key, low, high, why in _RANK_RANGES:
        _check_range(f"[rank] {key}", getattr(settings, key), low, high, why)


def _is_address(text: str) -> bool:
    """One plain or named address ("Lab <lab@example.org>"); a comma or a space inside
    the address would let SMTP split it into recipients nobody meant."""
    from email.utils import getaddresses

    found = getaddresses([text])
    if len(found) != 1:
        return False
    local, at, domain = found[0][1].partition("@")
    return bool(local and at and domain) and " " not in local


def check_email(config: EmailConfig) -> None:
    """What sending needs; checked when the config loads with email on, and again
    before sending (settings built in code)."""
    for key in ("host", "sender"):
        if not getattr(config, key):
            raise ConfigError(f"[email] {key} is empty; set it to send the digest by email")
    if not config.to:
        raise ConfigError("[email] to is empty; list at least one recipient address")
    if config.username and not config.password_env:
        raise ConfigError(
            "[email] password_env is empty but username is set; name the environment "
            "variable that holds the SMTP password, e.g. TRENDDIGEST_SMTP_PASSWORD"
        )
    for key, address in [("sender", config.sender), *(("to", a) for a in config.to)]:
        if not _is_address(address):
            raise ConfigError(
                f"[email] {key} {address!r} is not an email address; write one address "
                "per entry, such as name@example.org"
            )
    if config.ca_file and not Path(config.ca_file).is_file():
        raise ConfigError(
            f"[email] ca_file {config.ca_file!r} is not a file; give the PEM file of the CA "
            "that signed the SMTP server's certificate, or leave it empty to trust the "
            "system's CAs"
        )


def check_schedule(settings: ScheduleConfig) -> None:
    """[schedule]'s crontab lines and time zone, at every load: a typo there must be
    refused by the next ``run`` or ``fetch``, not found months later when someone
    starts ``trenddigest schedule``.  The scheduler owns the parsing (one parser for
    checking and for running).  The built-in defaults, which the packaged file repeats,
    are known good (the scheduler's tests build them): only a schedule of one's own pays
    for importing APScheduler, about 50 ms, half of a repeated month's whole run.
    """
    default = ScheduleConfig()
    own = (settings.poll_cron, settings.digest_cron, settings.timezone)
    if own == (default.poll_cron, default.digest_cron, default.timezone):
        return
    from .schedule import schedule_triggers

    schedule_triggers(settings)


def _check_arxiv_category(category: str) -> None:
    """An ``[arxiv] categories`` entry as arXiv spells it: cs.CV, or hep-th alone."""
    if category != category.strip():
        raise ConfigError(
            f"[arxiv] categories: {category!r} has spaces around it; write {category.strip()!r}"
        )
    archive, dot, subject = category.partition(".")
    if archive not in ARXIV_ARCHIVES:
        raise ConfigError(
            f"[arxiv] categories: {category!r} is not an arXiv category "
            "(archive.SUBJECT such as cs.CV or stat.ML)"
            + _suggest(archive, ARXIV_ARCHIVES, "archives")
        )
    if not dot and archive not in SINGLE_CATEGORY_ARCHIVES:
        raise ConfigError(
            f"[arxiv] categories: {category!r} is an archive, not a category; name its "
            f"subjects, such as {archive}.{_EXAMPLE_SUBJECT.get(archive, 'XX')}"
        )
    if dot and not _SUBJECT.fullmatch(subject):
        raise ConfigError(
            f"[arxiv] categories: {category!r} is not an arXiv category "
            "(archive.SUBJECT such as cs.CV or stat.ML)"
        )


_EXAMPLE_SUBJECT = {
    "astro-ph": "CO", "cond-mat": "stat-mech", "cs": "CV", "econ": "EM", "eess": "IV",
    "math": "ST", "nlin": "AO", "physics": "optics", "q-bio": "NC", "q-fin": "ST", "stat": "ML",
}  # fmt: skip


def validate(config: Config) -> None:
    """Checks of allowed values, and of those that span more than one key."""
    for section, key, low, high, why in _RANGES:
        value = getattr(config.section(section), key)
        _check_range(f"[{section}] {key}", value, low, high, why)
    check_rank(config.rank)
    # Empty names fail late and obscurely otherwise: a stray ".lock" beside no store,
    # "git push '' HEAD", a README that is the working folder.
    if not config.store.path:
        raise ConfigError(
            "[store] path is empty; give the store's file, e.g. data/trenddigest.sqlite3"
        )
    if not config.git.remote or config.git.remote.startswith("-"):
        raise ConfigError(
            f"[git] remote {config.git.remote!r} is not a remote's name; give one such as "
            "origin (git remote -v lists them)"
        )
    if config.git.branch and (
        config.git.branch.startswith("-") or any(c.isspace() for c in config.git.branch)
    ):
        raise ConfigError(
            f"[git] branch {config.git.branch!r} is not a branch's name; give one such as "
            "digests (git branch -a lists them), or leave it empty for the remote's default"
        )
    if not config.arxiv.user_agent.strip():
        raise ConfigError(
            "[arxiv] user_agent is empty; arXiv asks API users to identify themselves: "
            "name your installation and a contact"
        )
    _check_user_agent(config.arxiv.user_agent)
    if not config.git.readme:
        raise ConfigError(
            "[git] readme is empty; give the file the digest index goes into, e.g. README.md"
        )
    if config.email.enabled:
        check_email(config.email)
    check_schedule(config.schedule)
    if config.digest.by not in ("submitted", "announced"):
        raise ConfigError(
            f"[digest] by must be 'submitted' or 'announced', not {config.digest.by!r}"
        )
    if not config.arxiv.categories:
        raise ConfigError("[arxiv] categories must name at least one arXiv category, e.g. cs.CV")
    for category in config.arxiv.categories:
        _check_arxiv_category(category)
    twice = sorted({c for c in config.arxiv.categories if config.arxiv.categories.count(c) > 1})
    if twice:
        raise ConfigError(
            f"[arxiv] categories names {', '.join(twice)} more than once; list each once "
            "(each is polled and fetched once per name)"
        )
    for key in ("api_url", "feed_url"):
        url = getattr(config.arxiv, key)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"[arxiv] {key} {url!r} must be an http:// or https:// URL")
    if config.arxiv.backoff_seconds > config.arxiv.max_backoff_seconds:
        raise ConfigError(
            f"[arxiv] backoff_seconds ({config.arxiv.backoff_seconds:g}) is more than "
            f"max_backoff_seconds ({config.arxiv.max_backoff_seconds:g}); raise the maximum "
            "or lower the first wait"
        )
    if config.arxiv.max_backoff_seconds < config.arxiv.delay_seconds:
        # The client stops a command rather than wait longer than the longest backoff
        # (a wait of hours is better told than slept), so a maximum under the spacing
        # would stop each command that follows another at its first wait.
        raise ConfigError(
            f"[arxiv] max_backoff_seconds ({config.arxiv.max_backoff_seconds:g}) is less "
            f"than delay_seconds ({config.arxiv.delay_seconds:g}), the wait between two "
            f"requests; raise max_backoff_seconds to at least {config.arxiv.delay_seconds:g}"
        )
    if config.arxiv.delay_seconds < 3.0:
        raise ConfigError(
            "[arxiv] delay_seconds must be at least 3 (arXiv's terms of use: "
            "one request every three seconds)"
        )
    if not 1 <= config.arxiv.page_size <= 2000:
        raise ConfigError("[arxiv] page_size must be between 1 and 2000 (arXiv's limit)")
    if config.email.security not in ("starttls", "ssl", "none"):
        raise ConfigError(
            f"[email] security must be 'starttls', 'ssl' or 'none', not {config.email.security!r}"
        )
    tdir = config.digest.templates_dir
    if tdir and not Path(tdir).is_dir():
        raise ConfigError(
            f"[digest] templates_dir {tdir!r} is not a folder; create it with your own "
            "digest.md.j2 (start from a copy of templates/digest.md.j2) or leave the key "
            "out to use the packaged templates"
        )
    if tdir and not any((Path(tdir) / name).is_file() for name in USER_TEMPLATES):
        # Each template missing there is the packaged one: a misnamed file would be
        # ignored without a word.
        raise ConfigError(
            f"[digest] templates_dir {tdir!r} holds none of {', '.join(USER_TEMPLATES)}, so "
            "the packaged templates would be used; name your template so (start from a copy "
            "of templates/digest.md.j2) or leave the key out"
        )
    from .render import check_output_pattern  # the renderer owns what a pattern may hold

    # Real fields, not text: "{{year}}" is a literal "{year}", one file for every month.
    fields = check_output_pattern(config.digest.output)
    for key in ("year", "month"):
        if key not in fields:
            raise ConfigError(
                f"the output pattern (--output or [digest] output) must contain {{{key}}}, e.g. "
                "digests/{year}/{year}-{month}.md"
            )
