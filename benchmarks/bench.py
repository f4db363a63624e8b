"""Speed and memory of every stage, side by side with arxiv-sanity-lite, and at arXiv scale.

Run from the repository root (about 8 minutes on 2 cores; ``--quick`` about 4)::

    python benchmarks/bench.py            # real 2025 block + 20k, 100k, 500k, 2.7M papers
    python benchmarks/bench.py --quick    # no 2.7M step, fewer repeats
    python benchmarks/bench.py --sizes 20000,100000 --repeats 3

It writes ``benchmarks/results/bench.md`` (tables, targets, the README text),
``bench.json`` (every measurement) and ``scale.png``.  The real data is read from
``../shared/data/arxiv`` (or ``$TRENDDIGEST_SHARED/data/arxiv``); every file the
benchmark makes (stores, an API Atom copy of the records, the resampled JSON Lines
files) lives in a temporary folder and is deleted at the end.

What is measured, and how
-------------------------
* Every trenddigest command runs as a real subprocess of the CLI
  (``python -m trenddigest ...``), so times include start-up and imports.  Wall
  time and CPU time (user + system, from ``os.wait4``) are both kept: on a shared
  machine CPU time is the steadier of the two.  Peak memory is the child's own
  ``VmHWM`` (``/proc/self/status``), read at exit by a tiny wrapper that runs the
  command through ``runpy``: the child's ``ru_maxrss`` is no good, as Linux carries
  into it the pages the benchmark process itself held when it forked the child
  (with 300 MB live in the parent, ``python -c pass`` reported 325 MB).  The
  benchmark checks this at start and records it.
* Every child gets the same environment: no ``TRENDDIGEST_*`` variable,
  ``PYTHONHASHSEED=0``, bytecode written to and read from a folder of the work
  directory (``PYTHONPYCACHEPREFIX``; ``PYTHONDONTWRITEBYTECODE`` is dropped), and
  a warm-up (imports, a run, both import formats) compiles it before any timing.
* How many runs each figure is the median of is said next to it in ``bench.md``:
  ``--repeats`` (3; ``--quick`` 2) for the real block and arxiv-sanity-lite, one
  fewer for the scale series' history-cached and repeated runs, one for the scale
  imports, fully cold scale runs and stage probes.
* Import: the real 2025 block (19,682 papers, 2025-04..07 plus 363 of 2025-03) as
  JSON Lines, and the same records written as arXiv API Atom pages of 2,000 entries.
  Throughput is papers per second of ``import_files`` (timed inside the child, the
  target's definition); the child's whole wall time, start-up included, is reported
  next to it.
* ``run --offline`` for each of the four months, store already filled: fully cold
  (the whole cache emptied before each month), cold with the earlier months' results
  cached (the cache is emptied before 2025-04 only and the months run in order, as in
  monthly use; the target's reading) and a repeated run of the unchanged month.  A second
  pass in a probe child times the stages inside one run (loading papers, ranking,
  trends, rendering, writing) so a slow run says where its time goes.
* arxiv-sanity-lite's feature computation (``compute.py``: ``TfidfVectorizer`` with
  its exact settings, fit then transform, ``float32``) on the same 19,682 papers, in
  its own child, both on title + summary + author names (what compute.py feeds it)
  and on title + abstract only.  Our ratio is taken against the faster of the two.
* Scale: stores of 20k, 100k, 500k and 2.7M papers made by resampling the 19,682
  real records with new ids and dates, 13,500 papers a month (a chosen size, about
  the configured categories' monthly volume; arXiv as a whole takes more), so 2.7M
  papers is 200 months.  The months share abstracts: each draws its papers from the
  same 19,682 records.  For each: import time and peak memory, store size on disk,
  and one month's run (the newest, always a full month): fully cold (nothing cached,
  so the trends section ranks the trailing months too), cold with the earlier months
  already cached (the monthly steady state after an import: the month's own results
  and the store-wide per-month counts are dropped) and repeated.  Whether a run costs
  in proportion to its month is read from the time inside the run (probe children),
  not the whole process, whose start-up is the same at every size.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
REAL_FILE = "daily-arxiv-ai-enhanced/derived/papers_2025-04_to_2025-07.derived.jsonl.gz"
REAL_MONTHS = ("2025-04", "2025-05", "2025-06", "2025-07")
SIZES = (20_000, 100_000, 500_000, 2_700_000)
MONTH_SIZE = 13_500
NEWEST_MONTH = (2025, 7)
ATOM_PAGE = 2_000

# Targets (see the issue): import >= 20k papers/s; 4 cold months <= 1/3 of
# arxiv-sanity-lite; a repeated month >= 10x faster than its first run; < 500 MB.
TARGET_IMPORT_RATE = 20_000
TARGET_ASL_RATIO = 1 / 3
TARGET_REPEAT_SPEEDUP = 10.0
TARGET_PEAK_MB = 500

# arxiv-sanity-lite compute.py (karpathy/arxiv-sanity-lite): its TfidfVectorizer.
ASL_SETTINGS: dict[str, Any] = dict(
    input="content",
    encoding="utf-8",
    decode_error="replace",
    strip_accents="unicode",
    lowercase=True,
    analyzer="word",
    stop_words="english",
    token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    ngram_range=(1, 2),
    max_features=20000,
    norm="l2",
    use_idf=True,
    smooth_idf=True,
    sublinear_tf=True,
    max_df=0.1,
    min_df=5,
)


def shared_data_dir() -> Path:
    return Path(os.environ.get("TRENDDIGEST_SHARED", REPO.parent / "shared")) / "data" / "arxiv"


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- children


@dataclass
class Child:
    """One finished subprocess: wall and CPU seconds, peak memory, its output."""

    wall: float
    cpu: float
    peak_mb: float
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The child's last stdout line, parsed (probes print one JSON object)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


# Runs ``python -m module ...``, ``python -c code ...`` or ``python script ...`` given
# after the file to write to, and writes the process's VmHWM (KiB) there at exit.
# VmHWM belongs to the address space made at exec, so unlike ru_maxrss it holds
# nothing of the parent's pages.
_WRAPPER = """\
import atexit, runpy, sys
_hwm_file = sys.argv.pop(1)
def _write_hwm():
    with open("/proc/self/status") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(_hwm_file, "w") as fh:
        fh.write(kib)
atexit.register(_write_hwm)
_args = sys.argv[1:]
if _args[0] == "-m":
    sys.argv = _args[1:]
    runpy.run_module(_args[1], run_name="__main__", alter_sys=True)
elif _args[0] == "-c":
    sys.argv = ["-c", *_args[2:]]
    exec(compile(_args[1], "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = _args
    sys.path[0] = __import__("os").path.dirname(_args[0])
    runpy.run_path(_args[0], run_name="__main__")
"""

# Set by configure_children() once the work folder exists.
_CHILDREN: dict[str, Any] = {}


def configure_children(work: Path) -> dict[str, Any]:
    """The one environment every child gets, and where its bytecode goes."""
    pycache = work / "pycache"
    pycache.mkdir(exist_ok=True)
    dropped = sorted(
        k for k in os.environ if k.startswith("TRENDDIGEST_") or k == "PYTHONDONTWRITEBYTECODE"
    )
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    _CHILDREN.update(env=env, hwm=work / "hwm")
    return {
        "set": {"PYTHONHASHSEED": "0", "PYTHONPYCACHEPREFIX": "<work dir>/pycache"},
        "dropped": dropped,
        "kept_python_vars": {k: v for k, v in env.items() if k.startswith("PYTHON")
                             and k not in ("PYTHONHASHSEED", "PYTHONPYCACHEPREFIX")},
    }  # fmt: skip


def child_env() -> dict[str, str]:
    return dict(_CHILDREN["env"])


def run_child(args: Sequence[str], cwd: Path) -> Child:
    """Run ``python args...`` in :func:`child_env`: wall time, CPU time from ``os.wait4``
    (its own rusage), peak memory from the child's own VmHWM (see ``_WRAPPER``)."""
    hwm: Path = _CHILDREN["hwm"]
    hwm.unlink(missing_ok=True)
    command = [sys.executable, "-c", _WRAPPER, str(hwm), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    peak_mb = int(hwm.read_text()) / 1024
    return Child(wall, usage.ru_utime + usage.ru_stime, peak_mb, stdout, stderr)


def own_peak_mb() -> float:
    """This process's own peak resident set (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def memory_check(work: Path) -> dict[str, float]:
    """Proof that a child's peak is its own: hold 300 MB here, then run ``pass``."""
    held = b"\x01" * (300 << 20)  # written, so resident
    hwm: Path = _CHILDREN["hwm"]
    hwm.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(hwm), "-c", "pass"],
                            cwd=work, env=child_env())  # fmt: skip
    _, _, usage = os.wait4(proc.pid, 0)
    naive = usage.ru_maxrss / 1024
    child = run_child(["-c", "pass"], work)
    result = {
        "parent_held_mb": len(held) / 2**20,
        "parent_peak_mb": own_peak_mb(),
        "child_pass_peak_mb": child.peak_mb,
        "child_pass_ru_maxrss_mb": naive,
    }
    del held
    if child.peak_mb > 50:
        raise RuntimeError(f"a child's peak includes the parent's: {result}")
    return result


def cli(*args: str) -> list[str]:
    return ["-m", "trenddigest", "-q", *args]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summarise(children: Sequence[Child]) -> dict[str, float]:
    return {
        "wall_s": median([c.wall for c in children]),
        "cpu_s": median([c.cpu for c in children]),
        "peak_mb": max(c.peak_mb for c in children),
        "runs": len(children),
        "walls_s": [round(c.wall, 3) for c in children],  # type: ignore[dict-item]
    }


# --------------------------------------------------------------------------- probes
# Probes run inside a child (``bench.py --probe ...``) and print one JSON line.


def probe_import(path: str, store_path: str) -> dict[str, Any]:
    from trenddigest.sources.files import import_files
    from trenddigest.store import Store

    with Store.open(store_path) as store:
        start = time.perf_counter()
        summary = import_files(store, [Path(path)])
        seconds = time.perf_counter() - start
    read = sum(f.read for f in summary.files)
    return {
        "seconds": seconds,
        "read": read,
        "new": summary.new,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected_count,
    }


def probe_import_many(paths: Sequence[str], store_path: str) -> dict[str, Any]:
    from trenddigest.sources.files import import_files
    from trenddigest.store import Store

    with Store.open(store_path) as store:
        start = time.perf_counter()
        summary = import_files(store, [Path(p) for p in paths])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "read": sum(f.read for f in summary.files), "new": summary.new}


class _StageClock:
    """Inclusive time spent inside chosen functions during one run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.peak_rise_mb: dict[str, float] = {}  # how much the process peak grew inside

    def wrap(self, owner: Any, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None or not callable(original):
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            peak = own_peak_mb()
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
                self.calls[stage] = self.calls.get(stage, 0) + 1
                rise = own_peak_mb() - peak
                self.peak_rise_mb[stage] = self.peak_rise_mb.get(stage, 0.0) + rise

        setattr(owner, attribute, timed)


# (module, attribute, stage): the functions timed inside a run.  The pipeline imports
# its stages where it calls them, so wrapping them in their own modules catches every call.
STAGES = (
    ("store", "Store.papers_for_month", "load papers (all calls)"),
    ("cache", "load_outputs", "look up the saved digest"),
    ("pipeline", "build_month_digest", "build the digest (rank + trends)"),
    ("cache", "cached_ranking", "rank the month: cache or rank"),
    ("rank", "rank_papers", "rank_papers (all calls)"),
    ("render", "render_markdown", "render Markdown + JSON"),
    ("render", "render_json", "render Markdown + JSON"),
    ("render", "write_atomic", "write files"),
    ("trends", "build_trends_section", "trends section"),
    ("trends", "rank_papers", "trends: rank trailing months"),
    ("trends", "month_term_counts", "trends: term counts"),
    ("trends", "_cached_emerging", "trends: emerging topics"),
    ("trends", "top_picks", "trends: top picks"),
    ("trends", "render_trends_section", "trends: render"),
)


def _stage_clock() -> _StageClock:
    """A clock on the :data:`STAGES` of a run."""
    import importlib

    clock = _StageClock()
    for module, attribute, stage in STAGES:
        owner: Any = importlib.import_module(f"trenddigest.{module}")
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        clock.wrap(owner, name, stage)
    return clock


def probe_run(month: str, store_path: str, output: str) -> dict[str, Any]:
    """One ``trenddigest run`` in this process, with the time of each stage inside it."""
    start = time.perf_counter()
    from trenddigest import cli

    imported = time.perf_counter() - start
    start = time.perf_counter()
    clock = _stage_clock()
    imported += time.perf_counter() - start
    start, start_cpu = time.perf_counter(), time.process_time()
    code = cli.main(["-q", "run", "--month", month, "--offline", "--store", store_path,
                     "--output", output])  # fmt: skip
    ran, ran_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "exit": code,
        "import_s": imported,
        "run_s": ran,
        "run_cpu_s": ran_cpu,
        "stages": clock.seconds,
        "calls": clock.calls,
        "peak_rise_mb": clock.peak_rise_mb,
        "peak_mb": own_peak_mb(),
    }


def probe_run_months(store_path: str, output: str, *months: str) -> dict[str, Any]:
    """The same cold runs, one after another in this one process (as ``schedule`` does
    when it catches up missed months): start-up and imports are paid once, so what is
    left is the work of the runs themselves: ranking, trends, rendering, writing."""
    start = time.perf_counter()
    # What the runs import on first use, imported first so that runs_s is work only.
    import jinja2  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401

    from trenddigest import cli

    clock = _stage_clock()
    imported = time.perf_counter() - start
    runs: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for month in months:
        began, began_cpu = time.perf_counter(), time.process_time()
        code = cli.main(["-q", "run", "--month", month, "--offline", "--store", store_path,
                         "--output", output])  # fmt: skip
        if code != 0:
            raise SystemExit(f"run --month {month} exited {code}")
        runs[month] = time.perf_counter() - began
        cpu[month] = time.process_time() - began_cpu
    return {
        "total_s": time.perf_counter() - start,
        "import_s": imported,
        "runs_s": runs,
        "runs_cpu_s": cpu,
        "stages": clock.seconds,
        "peak_mb": own_peak_mb(),
    }


def probe_asl(path: str, corpus: str) -> dict[str, Any]:
    """arxiv-sanity-lite's compute.py on the file's papers: fit, then transform, float32."""
    start = time.perf_counter()
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    imported = time.perf_counter() - start
    start = time.perf_counter()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        papers = [json.loads(line) for line in fh]
    read = time.perf_counter() - start

    def make_corpus() -> Any:
        for d in papers:
            if corpus == "title+summary+authors":
                yield " ".join([d["title"], d["abstract"], " ".join(d["authors"])])
            else:
                yield " ".join([d["title"], d["abstract"]])

    v = TfidfVectorizer(**ASL_SETTINGS)
    cpu = time.process_time()
    start = time.perf_counter()
    v.fit(make_corpus())
    fitted = time.perf_counter() - start
    start = time.perf_counter()
    x = v.transform(make_corpus()).astype(np.float32)
    transformed = time.perf_counter() - start
    return {
        "compute_cpu_s": time.process_time() - cpu,
        "import_s": imported,
        "read_s": read,
        "fit_s": fitted,
        "transform_s": transformed,
        "compute_s": fitted + transformed,
        "papers": len(papers),
        "shape": list(x.shape),
    }


# --------------------------------------------------------------------------- data


def load_real(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def write_atom_pages(records: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """The records as arXiv API response pages (current Atom layout), 2,000 a page."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for page, start in enumerate(range(0, len(records), ATOM_PAGE)):
        chunk = records[start : start + ATOM_PAGE]
        parts = [
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
            f"  <id>https://arxiv.org/api/bench{page:04d}</id>\n"
            "  <title>arXiv Query: search_query=cat:cs.CV&amp;start=0</title>\n"
            "  <updated>2025-08-01T00:00:00Z</updated>\n"
            f"  <opensearch:itemsPerPage>{ATOM_PAGE}</opensearch:itemsPerPage>\n"
            f"  <opensearch:totalResults>{len(records)}</opensearch:totalResults>\n"
            f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
        ]
        for d in chunk:
            day = (d.get("first_seen") or "2025-04-01")[:10]
            stamp = f"{day}T12:00:00Z"
            authors = "".join(
                f"    <author><name>{escape(a)}</name></author>\n" for a in d["authors"]
            )
            cats = "".join(
                f'    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>\n'
                for c in d["categories"]
            )
            comment = (
                f"    <arxiv:comment>{escape(d['comment'])}</arxiv:comment>\n"
                if d.get("comment")
                else ""
            )
            parts.append(
                "  <entry>\n"
                f"    <id>http://arxiv.org/abs/{d['id']}v1</id>\n"
                f"    <title>{escape(d['title'])}</title>\n"
                f"    <updated>{stamp}</updated>\n"
                f'    <link href="https://arxiv.org/abs/{d["id"]}v1" rel="alternate" '
                'type="text/html"/>\n'
                f"    <summary>{escape(d['abstract'])}</summary>\n"
                f"{cats}"
                f"    <published>{stamp}</published>\n"
                f"{comment}"
                f'    <arxiv:primary_category term="{escape(d["primary_category"])}"/>\n'
                f"{authors}"
                "  </entry>\n"
            )
        parts.append("</feed>\n")
        path = folder / f"page{page:04d}.xml"
        path.write_text("".join(parts), encoding="utf-8")
        paths.append(path)
    return paths


def month_list(count: int) -> list[tuple[int, int]]:
    """``count`` consecutive months ending at NEWEST_MONTH, oldest first."""
    year, month = NEWEST_MONTH
    index = year * 12 + month - 1
    return [((i // 12), (i % 12) + 1) for i in range(index - count + 1, index + 1)]


def write_resampled(records: Sequence[dict[str, Any]], size: int, path: Path) -> dict[str, Any]:
    """``size`` papers made of the real records with new ids and dates, 13,500 a month.

    Each month draws its papers from the real records without replacement (a month
    never holds the same abstract twice), numbers them ``YYMM.NNNNN`` and dates them
    within the month.  The oldest month takes the remainder, so the newest month,
    the one the benchmark runs, is always full.
    """
    rng = random.Random(size)
    keep = [k for k in records[0] if k not in ("id", "first_seen", "id_yymm", "seen_dates")]
    tails = [json.dumps({k: r.get(k) for k in keep}, ensure_ascii=False)[1:] for r in records]
    n_months = math.ceil(size / MONTH_SIZE)
    months = month_list(n_months)
    counts = [MONTH_SIZE] * n_months
    counts[0] = size - MONTH_SIZE * (n_months - 1)
    with path.open("w", encoding="utf-8", buffering=8 * 1024 * 1024) as fh:
        for (year, month), count in zip(months, counts, strict=True):
            yymm = f"{year % 100:02d}{month:02d}"
            chosen = rng.sample(range(len(records)), count)
            fh.write(
                "".join(
                    f'{{"id": "{yymm}.{j + 1:05d}", '
                    f'"first_seen": "{year}-{month:02d}-{1 + j % 28:02d}", {tails[i]}\n'
                    for j, i in enumerate(chosen)
                )
            )
    newest = months[-1]
    return {
        "papers": size,
        "months": n_months,
        "month_size": MONTH_SIZE,
        "newest_month": f"{newest[0]}-{newest[1]:02d}",
        "first_month": f"{months[0][0]}-{months[0][1]:02d}",
        "file_mb": path.stat().st_size / 1e6,
    }


def store_size_mb(path: Path) -> float:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = 0
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        total += p.stat().st_size if p.exists() else 0
    return total / 1e6


def clear_cache(store: Path, month: str | None = None) -> None:
    """Empty the cache, or drop what a monthly run after an import would not find:
    the month's own results and the store-wide per-month counts (``month_counts:*``,
    which an import of new papers invalidates)."""
    with sqlite3.connect(store) as conn:
        if month is None:
            conn.execute("DELETE FROM cache")
        else:
            conn.execute(
                "DELETE FROM cache WHERE key LIKE ? OR key LIKE 'month_counts:%'", (f"%:{month}",)
            )


def query_plans(store: Path, month: str) -> dict[str, str]:
    """How SQLite answers the per-month queries (they must use the month index)."""
    queries = {
        "papers_for_month": "SELECT id FROM papers WHERE month = ? ORDER BY id",
        "month_fingerprint": "SELECT COUNT(*), MAX(rev) FROM papers WHERE month = ?",
        "month_counts": (
            "SELECT month, COUNT(*) FROM papers WHERE month IS NOT NULL GROUP BY month"
        ),
    }
    plans = {}
    with sqlite3.connect(store) as conn:
        for name, sql in queries.items():
            params = (month,) if "?" in sql else ()
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            plans[name] = "; ".join(r[-1] for r in rows)
    return plans


def timed_sql(store: Path, sql: str, params: tuple = ()) -> float:
    with sqlite3.connect(store) as conn:
        start = time.perf_counter()
        conn.execute(sql, params).fetchall()
        return time.perf_counter() - start


# --------------------------------------------------------------------------- stages


def bench_imports(real: Path, records: list[dict[str, Any]], work: Path, repeats: int) -> dict:
    log(f"import: JSON Lines x{repeats}")
    jsonl_runs, probes, again = [], [], []
    for r in range(repeats):
        store = work / f"import-{r}.sqlite3"
        child = run_child([__file__, "--probe", "import", str(real), str(store)], work)
        jsonl_runs.append(child)
        probes.append(child.json())
        if r == 0:
            again_child = run_child([__file__, "--probe", "import", str(real), str(store)], work)
            again.append(again_child.json())
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    pages = write_atom_pages(records, work / "atom")
    log(f"import: API Atom ({len(pages)} pages) x{repeats}")
    atom_runs, atom_probes = [], []
    for r in range(repeats):
        store = work / f"atom-{r}.sqlite3"
        args = [__file__, "--probe", "import-many", str(store), *map(str, pages)]
        child = run_child(args, work)
        atom_runs.append(child)
        atom_probes.append(child.json())
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    atom_mb = sum(p.stat().st_size for p in pages) / 1e6
    shutil.rmtree(work / "atom")
    n = probes[0]["read"]
    return {
        "papers": n,
        "jsonl": {
            "file_mb": real.stat().st_size / 1e6,
            "seconds": median([p["seconds"] for p in probes]),
            "papers_per_s": n / median([p["seconds"] for p in probes]),
            "process": summarise(jsonl_runs),
            "reimport_unchanged_papers_per_s": n / again[0]["seconds"],
            "reimport_counts": {k: again[0][k] for k in ("new", "updated", "unchanged")},
        },
        "atom": {
            "pages": len(pages),
            "file_mb": atom_mb,
            "seconds": median([p["seconds"] for p in atom_probes]),
            "papers_per_s": atom_probes[0]["read"] / median([p["seconds"] for p in atom_probes]),
            "process": summarise(atom_runs),
        },
    }


def bench_months(real: Path, work: Path, repeats: int) -> dict:
    store = work / "real.sqlite3"
    log("months: filling the store")
    run_child(cli("import", str(real), "--store", str(store)), work)
    out = str(work / "out" / "{year}-{month}.md")
    counts = {}
    with sqlite3.connect(store) as conn:
        for month in REAL_MONTHS:
            counts[month] = conn.execute(
                "SELECT COUNT(*) FROM papers WHERE month = ?", (month,)
            ).fetchone()[0]
    fully_cold: dict[str, list[Child]] = {m: [] for m in REAL_MONTHS}
    cold: dict[str, list[Child]] = {m: [] for m in REAL_MONTHS}
    repeated: dict[str, list[Child]] = {m: [] for m in REAL_MONTHS}
    for r in range(repeats):
        log(f"months: pass {r + 1}/{repeats} (4 fully cold runs, 4 cold, then 4 repeated)")
        for month in REAL_MONTHS:
            clear_cache(store)
            args = cli("run", "--month", month, "--offline", "--store", str(store), "--output", out)
            fully_cold[month].append(run_child(args, work))
        clear_cache(store)
        for month in REAL_MONTHS:
            args = cli("run", "--month", month, "--offline", "--store", str(store), "--output", out)
            cold[month].append(run_child(args, work))
        for month in REAL_MONTHS:
            args = cli("run", "--month", month, "--offline", "--store", str(store), "--output", out)
            repeated[month].append(run_child(args, work))
    log("months: the four cold runs in one process")
    one_process = []
    for _ in range(repeats):
        clear_cache(store)
        child = run_child([__file__, "--probe", "run-months", str(store), out, *REAL_MONTHS], work)
        one_process.append({**child.json(), "wall_s": child.wall})
    log("months: stage probes (cold, then repeated)")
    stages: dict[str, dict[str, Any]] = {"cold": {}, "repeated": {}}
    clear_cache(store)
    for kind in ("cold", "repeated"):
        for month in REAL_MONTHS:
            child = run_child([__file__, "--probe", "run", month, str(store), out], work)
            stages[kind][month] = {**child.json(), "wall_s": child.wall}
    months = {}
    for month in REAL_MONTHS:
        c, rep = summarise(cold[month]), summarise(repeated[month])
        months[month] = {
            "papers": counts[month],
            "fully_cold": summarise(fully_cold[month]),
            "cold": c,
            "repeated": rep,
            "speedup": c["wall_s"] / rep["wall_s"],
        }
    plans = query_plans(store, REAL_MONTHS[-1])
    return {
        "months": months,
        "stages": stages,
        "plans": plans,
        "import_costs": import_costs(work, repeats),
        "one_process": {
            "wall_s": median([r["wall_s"] for r in one_process]),
            "runs_s": median([sum(r["runs_s"].values()) for r in one_process]),
            "runs_cpu_s": median([sum(r["runs_cpu_s"].values()) for r in one_process]),
            "per_month_s": {m: median([r["runs_s"][m] for r in one_process]) for m in REAL_MONTHS},
            "peak_mb": max(r["peak_mb"] for r in one_process),
            "stages": {
                stage: median([r["stages"].get(stage, 0.0) for r in one_process])
                for stage in one_process[0]["stages"]
            },
        },
        "cold_total_s": sum(m["cold"]["wall_s"] for m in months.values()),
        "fully_cold_total_s": sum(m["fully_cold"]["wall_s"] for m in months.values()),
        "fully_cold_total_cpu_s": sum(m["fully_cold"]["cpu_s"] for m in months.values()),
        "cold_total_cpu_s": sum(m["cold"]["cpu_s"] for m in months.values()),
        "repeated_total_s": sum(m["repeated"]["wall_s"] for m in months.values()),
        "store": str(store),
    }


# What a cold run pays before any work: the interpreter with the package's CLI, the
# numeric stack the ranker and the term counts need, and scikit-learn, which the
# emerging-topics clustering (NMF) loads.  Each is a fresh process.
IMPORT_PROBES = {
    "python + trenddigest CLI": "import trenddigest.cli",
    "+ numpy, scipy.sparse": "import trenddigest.cli, numpy, scipy.sparse",
    "+ scikit-learn (NMF)": "import trenddigest.cli, numpy, scipy.sparse, sklearn.decomposition",
}


def import_costs(work: Path, repeats: int) -> dict[str, float]:
    """Wall time of each fresh process of :data:`IMPORT_PROBES` (median)."""
    log("months: import costs of a fresh process")
    return {
        label: median([run_child(["-c", code], work).wall for _ in range(repeats)])
        for label, code in IMPORT_PROBES.items()
    }


# What the warm-up imports, so that every module's bytecode is compiled before timing.
WARM_IMPORTS = """\
import json, pkgutil, sys, importlib
import trenddigest
for info in pkgutil.walk_packages(trenddigest.__path__, "trenddigest."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
import numpy, scipy.sparse, sklearn.decomposition, sklearn.feature_extraction.text
import jinja2, feedparser, lxml.etree
print(json.dumps({"sys.flags": {k: getattr(sys.flags, k) for k in dir(sys.flags)
                                if not k.startswith("_") and k not in ("count", "index")},
                  "pycache_prefix": sys.pycache_prefix,
                  "dont_write_bytecode": sys.dont_write_bytecode}))
"""


def warm_up(real: Path, records: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """Compile every module the timed children load (into PYTHONPYCACHEPREFIX) by
    running each kind of child once: imports, an import of both formats, a run."""
    log("warm-up: compiling bytecode (imports, imports of both formats, a run)")
    folder = work / "warm"
    folder.mkdir()
    report = run_child(["-c", WARM_IMPORTS], folder).json()
    store = folder / "store.sqlite3"
    run_child(cli("import", str(real), "--store", str(store)), folder)
    pages = write_atom_pages(records[:50], folder / "atom")
    run_child([__file__, "--probe", "import-many", str(folder / "atom.sqlite3"),
               *map(str, pages)], folder)  # fmt: skip
    out = str(folder / "out" / "{year}-{month}.md")
    args = cli("run", "--month", REAL_MONTHS[-1], "--offline", "--store", str(store),
               "--output", out)  # fmt: skip
    run_child(args, folder)
    run_child(args, folder)
    run_child([__file__, "--probe", "run", REAL_MONTHS[0], str(store), out], folder)
    shutil.rmtree(folder)
    return report


def bench_asl(real: Path, work: Path, repeats: int) -> dict:
    results = {}
    for corpus in ("title+summary+authors", "title+abstract"):
        log(f"arxiv-sanity-lite compute.py ({corpus}) x{repeats}")
        runs, probes = [], []
        for _ in range(repeats):
            child = run_child([__file__, "--probe", "asl", str(real), corpus], work)
            runs.append(child)
            probes.append(child.json())
        results[corpus] = {
            "compute_s": median([p["compute_s"] for p in probes]),
            "compute_cpu_s": median([p["compute_cpu_s"] for p in probes]),
            "fit_s": median([p["fit_s"] for p in probes]),
            "transform_s": median([p["transform_s"] for p in probes]),
            "import_s": median([p["import_s"] for p in probes]),
            "read_s": median([p["read_s"] for p in probes]),
            "shape": probes[0]["shape"],
            "process": summarise(runs),
        }
    return results


def bench_scale(
    records: list[dict[str, Any]], sizes: Sequence[int], work: Path, repeats: int
) -> list[dict]:
    rows = []
    for size in sizes:
        folder = work / f"scale-{size}"
        folder.mkdir()
        data = folder / "papers.jsonl"
        log(f"scale {size:,}: writing {math.ceil(size / MONTH_SIZE)} months of papers")
        start = time.perf_counter()
        info = write_resampled(records, size, data)
        info["generate_s"] = time.perf_counter() - start
        store = folder / "store.sqlite3"
        log(f"scale {size:,}: import ({info['file_mb']:.0f} MB)")
        imported = run_child(cli("import", str(data), "--store", str(store)), folder)
        info["import"] = summarise([imported])
        info["import"]["papers_per_s"] = size / imported.wall
        data.unlink()
        info["store_mb"] = store_size_mb(store)
        month = info["newest_month"]
        info["month_queries_s"] = {
            "papers_for_month": timed_sql(
                store, "SELECT * FROM papers WHERE month = ? ORDER BY id", (month,)
            ),
            "month_counts": timed_sql(store, "SELECT month, COUNT(*) FROM papers GROUP BY month"),
        }
        out = str(folder / "out" / "{year}-{month}.md")
        args = cli("run", "--month", month, "--offline", "--store", str(store), "--output", out)
        log(f"scale {size:,}: runs of {month} (fully cold, history cached, repeated, probes)")
        fully_cold = run_child(args, folder)
        steady, again = [], []
        for _ in range(repeats):
            clear_cache(store, month)
            steady.append(run_child(args, folder))
            again.append(run_child(args, folder))
        info["run_fully_cold"] = summarise([fully_cold])
        info["run_cold"] = summarise(steady)
        info["run_repeated"] = summarise(again)
        # The same history-cached run inside a probe child: the time inside the run,
        # without the start-up that every size pays alike.
        probes = []
        for _ in range(repeats):
            clear_cache(store, month)
            probe = run_child([__file__, "--probe", "run", month, str(store), out], folder)
            probes.append({**probe.json(), "wall_s": probe.wall, "cpu_s": probe.cpu})
        info["stages"] = probes[0]
        info["in_run"] = {
            "run_s": median([p["run_s"] for p in probes]),
            "run_cpu_s": median([p["run_cpu_s"] for p in probes]),
            "runs": len(probes),
        }
        info["plans"] = query_plans(store, month)
        rows.append(info)
        shutil.rmtree(folder)
    return rows


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    versions = {}
    for package in ("numpy", "scipy", "scikit-learn", "jinja2", "lxml", "feedparser"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_before": os.getloadavg(),
    }


# --------------------------------------------------------------------------- report


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_n(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{n / 1e3:.0f}k"
    return f"{n:.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def targets(results: dict) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    imp = results.get("imports")
    if imp:
        rate = imp["jsonl"]["papers_per_s"]
        rows.append(
            {
                "target": f"JSON Lines import >= {TARGET_IMPORT_RATE:,} papers/s",
                "measured": f"{rate:,.0f} papers/s",
                "met": rate >= TARGET_IMPORT_RATE,
                "gap": f"{rate / TARGET_IMPORT_RATE:.2f}x of target",
            }
        )
    months, asl = results.get("months"), results.get("asl")
    if months and asl:
        reference = min(v["compute_s"] for v in asl.values())
        ratio = months["cold_total_s"] / reference
        cpu_reference = min(v["compute_cpu_s"] for v in asl.values())
        cpu_ratio = months["cold_total_cpu_s"] / cpu_reference
        fully = months.get("fully_cold_total_s")
        fully_text = f"; each fully cold: {fmt_s(fully)} = {fully / reference:.2f}" if fully else ""
        rows.append(
            {
                "target": "4 cold month runs <= 1/3 of arxiv-sanity-lite's feature computation",
                "measured": f"{fmt_s(months['cold_total_s'])} (earlier months' results cached) "
                f"vs {fmt_s(reference)} = {ratio:.2f}{fully_text}",
                "met": ratio <= TARGET_ASL_RATIO,
                "gap": f"{ratio / TARGET_ASL_RATIO:.2f}x of the allowed time; in CPU time "
                f"the ratio is {cpu_ratio:.2f} ({cpu_ratio / TARGET_ASL_RATIO:.2f}x)",
            }
        )
    if months:
        speedups = [m["speedup"] for m in months["months"].values()]
        worst = min(speedups)
        cpu_worst = min(
            m["cold"]["cpu_s"] / m["repeated"]["cpu_s"] for m in months["months"].values()
        )
        rows.append(
            {
                "target": f"repeated run of an unchanged month >= {TARGET_REPEAT_SPEEDUP:.0f}x "
                "faster than its first",
                "measured": f"{worst:.1f}x (worst month), "
                f"{fmt_s(months['cold_total_s'])} -> {fmt_s(months['repeated_total_s'])} "
                "for all four",
                "met": worst >= TARGET_REPEAT_SPEEDUP,
                "gap": f"{worst / TARGET_REPEAT_SPEEDUP:.2f}x of target; in CPU time the "
                f"worst speed-up is {cpu_worst:.1f}x ({cpu_worst / TARGET_REPEAT_SPEEDUP:.2f}x)",
            }
        )
        peak = max(
            m[kind]["peak_mb"]
            for m in months["months"].values()
            for kind in ("fully_cold", "cold", "repeated")
            if kind in m
        )
        rows.append(
            {
                "target": f"peak memory < {TARGET_PEAK_MB} MB (4-month store, any run)",
                "measured": f"{peak:.0f} MB",
                "met": peak < TARGET_PEAK_MB,
                "gap": f"{peak / TARGET_PEAK_MB:.2f}x of the limit",
            }
        )
    scale = results.get("scale")
    if scale and len(scale) > 1:
        # Compare stores that both hold a full trends history (12 trailing months):
        # below that, a bigger store also means more history to compare with.
        full = [s for s in scale if s["months"] >= 13]
        small, big = (full[0], full[-1]) if len(full) > 1 else (scale[-2], scale[-1])
        # Time inside the run (probe children), not the whole process, whose start-up
        # is the same at every size; CPU time, as on a shared machine wall time also
        # measures the neighbours.
        growth = big["in_run"]["run_cpu_s"] / small["in_run"]["run_cpu_s"]
        wall_growth = big["in_run"]["run_s"] / small["in_run"]["run_s"]
        store_growth = big["papers"] / small["papers"]
        caveat = "" if len(full) > 1 else "; the smaller store has less trends history"
        rows.append(
            {
                "target": "a month's run costs in proportion to the month, not the store",
                "measured": f"{growth:.2f}x the CPU time inside the run ({wall_growth:.2f}x "
                f"its wall time) for a {store_growth:.1f}x larger store "
                f"({fmt_n(small['papers'])} -> {fmt_n(big['papers'])}, "
                f"13,500-paper month{caveat})",
                "met": growth < 1.25,
                "gap": "",
            }
        )
        peak = max(s["run_cold"]["peak_mb"] for s in scale)
        rows.append(
            {
                "target": f"peak memory < {TARGET_PEAK_MB} MB for a 13,500-paper month "
                "(history cached)",
                "measured": f"{peak:.0f} MB",
                "met": peak < TARGET_PEAK_MB,
                "gap": f"{peak / TARGET_PEAK_MB:.2f}x of the limit",
            }
        )
        mem = [s["import"]["peak_mb"] for s in scale]
        rows.append(
            {
                "target": "import streams: memory flat as the file grows",
                "measured": (
                    f"peak {min(mem):.0f} MB"
                    if round(min(mem)) == round(max(mem))
                    else f"peak {min(mem):.0f}-{max(mem):.0f} MB"
                )
                + " from "
                f"{fmt_n(scale[0]['papers'])} to {fmt_n(scale[-1]['papers'])} papers",
                "met": max(mem) < 1.5 * min(mem) + 20,
                "gap": "",
            }
        )
    return rows


def stage_table(stages: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for info in stages.values():
        for name in info["stages"]:
            if name not in names:
                names.append(name)
    lines = [
        "| stage | " + " | ".join(stages) + " |",
        "|---|" + "---:|" * len(stages),
        "| start-up + imports (process wall - run) | "
        + " | ".join(fmt_s(i["wall_s"] - i["run_s"]) for i in stages.values())
        + " |",
        "| whole run (in process) | "
        + " | ".join(fmt_s(i["run_s"]) for i in stages.values())
        + " |",
    ]
    for name in names:
        lines.append(
            f"| {name} | "
            + " | ".join(fmt_s(i["stages"].get(name, 0.0)) for i in stages.values())
            + " |"
        )
    return lines


def peak_table(stages: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for info in stages.values():
        for name in info.get("peak_rise_mb", {}):
            if name not in names:
                names.append(name)
    lines = [
        "| stage | " + " | ".join(stages) + " |",
        "|---|" + "---:|" * len(stages),
        "| process peak | " + " | ".join(f"{i['peak_mb']:.0f}" for i in stages.values()) + " |",
    ]
    for name in names:
        lines.append(
            f"| {name} | "
            + " | ".join(f"{i['peak_rise_mb'].get(name, 0.0):.0f}" for i in stages.values())
            + " |"
        )
    return lines


def mermaid_chart(scale: list[dict]) -> list[str]:
    labels = ", ".join(f'"{fmt_n(s["papers"])}"' for s in scale)
    imports = ", ".join(f"{s['import']['wall_s']:.1f}" for s in scale)
    runs = ", ".join(f"{s['run_cold']['wall_s']:.1f}" for s in scale)
    top = max(max(max(s["import"]["wall_s"], s["run_cold"]["wall_s"]) for s in scale), 1.0)
    return [
        "```mermaid",
        "xychart-beta",
        '    title "Import time (bars) and one month\'s run (line), seconds"',
        f'    x-axis "papers in the store" [{labels}]',
        f'    y-axis "seconds" 0 --> {math.ceil(top * 1.1)}',
        f"    bar [{imports}]",
        f"    line [{runs}]",
        "```",
    ]


def scale_table(scale: list[dict]) -> list[str]:
    lines = [
        "| papers | months | import (process) | papers/s | import peak | store on disk "
        "| month run (history cached) | its peak | repeated | fully cold | its peak |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scale:
        lines.append(
            f"| {s['papers']:,} | {s['months']} | {fmt_s(s['import']['wall_s'])} "
            f"| {s['import']['papers_per_s']:,.0f}/s | {s['import']['peak_mb']:.0f} MB "
            f"| {s['store_mb']:,.0f} MB | {fmt_s(s['run_cold']['wall_s'])} "
            f"| {s['run_cold']['peak_mb']:.0f} MB | {fmt_s(s['run_repeated']['wall_s'])} "
            f"| {fmt_s(s['run_fully_cold']['wall_s'])} "
            f"| {s['run_fully_cold']['peak_mb']:.0f} MB |"
        )
    return lines


def readme_text(results: dict) -> list[str]:
    lines = ["## Performance", ""]
    m = results.get("machine", {})
    lines.append(
        f"Measured by `python benchmarks/bench.py` on {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('date', '')[:10]}; full results in "
        "[benchmarks/results/bench.md](benchmarks/results/bench.md)."
    )
    lines.append("")
    rows = targets(results)
    if rows:
        lines += ["| target | measured | |", "|---|---|---|"]
        lines += [f"| {r['target']} | {r['measured']} | {verdict(r['met'])} |" for r in rows]
        lines.append("")
    scale = results.get("scale")
    if scale:
        lines += [
            "How cost grows with the store (the 19,682 real papers resampled, 13,500 a "
            "month, a chosen size; the month run is the newest month with the earlier "
            "months' results cached, as in monthly use):",
            "",
            *scale_table(scale),
            "",
            *mermaid_chart(scale),
            "",
            "![Cost as the store grows](benchmarks/results/scale.png)",
            "",
        ]
    return lines


def runs_text(results: dict) -> list[str]:
    """How each figure was made: runs per figure, peak memory, the children's setup."""
    n = results["repeats"]
    scale_n = max(1, n - 1)
    lines = [
        "- every run is a separate process. Medians of: "
        f"{n} runs for each import, each month's fully cold / cold / repeated run, the "
        f"four cold runs in one process, the fresh-process import costs and "
        f"arxiv-sanity-lite; the re-import of an unchanged file 1 run; the stage probes "
        f"of the real months 1 run each. Scale series: import 1 run, fully cold 1 run, "
        f"history-cached and repeated {scale_n} runs each, in-run probes {scale_n} runs "
        "(stage tables from the first), SQL query timings 1 run",
    ]
    children = results["machine"].get("children")
    if children:
        check = children.get("memory_check", {})
        flags = children.get("sys.flags", {})
        lines += [
            "- peak memory is the child's own peak resident set (`VmHWM` read at exit; "
            "`ru_maxrss` from wait4 counts the parent's pages). Check: with "
            f"{check.get('parent_held_mb', 0):.0f} MB held in the benchmark process, "
            f"`python -c pass` peaked at {check.get('child_pass_peak_mb', 0):.0f} MB "
            f"(its ru_maxrss said {check.get('child_pass_ru_maxrss_mb', 0):.0f} MB)",
            "- every child: environment without "
            + (", ".join(f"`{k}`" for k in children.get("dropped", [])) or "(nothing)")
            + "; "
            + ", ".join(f"`{k}={v}`" for k, v in children.get("set", {}).items())
            + "; a warm-up compiled the bytecode first; in the child "
            f"`sys.dont_write_bytecode={children.get('dont_write_bytecode')}`, "
            + ", ".join(
                f"`{k}={flags[k]}`"
                for k in ("hash_randomization", "optimize", "isolated", "no_site", "utf8_mode")
                if k in flags
            ),
        ]
    return lines


def write_report(results: dict, path: Path) -> None:
    m = results["machine"]
    lines = [
        "# Performance benchmark",
        "",
        "`" + " ".join(["python benchmarks/bench.py", *results["argv"]]) + "`",
        "",
        f"- date: {m['date']}; commit {m['commit']}"
        + (" (with uncommitted changes)" if m["uncommitted_changes"] else ""),
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}, "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in m['load_before'])}"
        f"; after: {', '.join(f'{x:.2f}' for x in m['load_after'])}",
        *runs_text(results),
        f"- total benchmark time: {results['elapsed_s'] / 60:.1f} min",
        "",
        "## Targets",
        "",
        "| target | measured | | |",
        "|---|---|---|---|",
    ]
    for r in targets(results):
        lines.append(f"| {r['target']} | {r['measured']} | {verdict(r['met'])} | {r['gap']} |")
    lines.append("")
    notes = results.get("notes") or []
    if notes:
        lines += ["### Where a target is missed, and why", ""]
        lines += [f"- {n}" for n in notes]
        lines.append("")
    imp = results.get("imports")
    if imp:
        j, a = imp["jsonl"], imp["atom"]
        lines += [
            "## Import (real 2025 block)",
            "",
            "| input | papers | size | import_files | papers/s | whole process | process peak |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| JSON Lines (.jsonl.gz) | {imp['papers']:,} | {j['file_mb']:.1f} MB "
            f"| {fmt_s(j['seconds'])} | {j['papers_per_s']:,.0f} "
            f"| {fmt_s(j['process']['wall_s'])} | {j['process']['peak_mb']:.0f} MB |",
            f"| API Atom ({a['pages']} pages) | {imp['papers']:,} | {a['file_mb']:.1f} MB "
            f"| {fmt_s(a['seconds'])} | {a['papers_per_s']:,.0f} "
            f"| {fmt_s(a['process']['wall_s'])} | {a['process']['peak_mb']:.0f} MB |",
            "",
            f"Importing the same JSON Lines file again (every paper unchanged): "
            f"{j['reimport_unchanged_papers_per_s']:,.0f} papers/s "
            f"({j['reimport_counts']}).",
            "",
        ]
    months, asl = results.get("months"), results.get("asl")
    if months:
        lines += [
            "## `run --offline`, one process per run (real 2025 block)",
            "",
            "Fully cold: the whole cache emptied before the month's run. Cold (earlier "
            "months' results cached, as in monthly use): the month's own ranking, term "
            "counts and topics are not cached, but the months run in order after one "
            "emptying of the cache, so a month's trailing months are; the target uses "
            "this reading. Repeated: the same command again, nothing changed. Speed-up: "
            f"cold / repeated. Medians of {results['repeats']} runs each.",
            "",
            "| month | papers | fully cold | its peak | cold (earlier months' results "
            "cached, as in monthly use) | its CPU | its peak | repeated | repeated peak "
            "| speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for month, info in months["months"].items():
            f, c, r = info["fully_cold"], info["cold"], info["repeated"]
            lines.append(
                f"| {month} | {info['papers']:,} | {fmt_s(f['wall_s'])} | {f['peak_mb']:.0f} MB "
                f"| {fmt_s(c['wall_s'])} | {fmt_s(c['cpu_s'])} "
                f"| {c['peak_mb']:.0f} MB | {fmt_s(r['wall_s'])} | {r['peak_mb']:.0f} MB "
                f"| {info['speedup']:.1f}x |"
            )
        lines += [
            f"| **all four** | {sum(i['papers'] for i in months['months'].values()):,} "
            f"| **{fmt_s(months['fully_cold_total_s'])}** | "
            f"| **{fmt_s(months['cold_total_s'])}** | {fmt_s(months['cold_total_cpu_s'])} | "
            f"| **{fmt_s(months['repeated_total_s'])}** | | |",
            "",
        ]
        if months.get("import_costs"):
            lines += [
                *(
                    [
                        f"The four cold runs again, one after another in one process "
                        f"(imports paid once): {fmt_s(months['one_process']['wall_s'])} "
                        f"for the process, {fmt_s(months['one_process']['runs_s'])} inside "
                        "the runs ("
                        + ", ".join(
                            f"{m} {fmt_s(v)}"
                            for m, v in months["one_process"]["per_month_s"].items()
                        )
                        + f"), peak {months['one_process']['peak_mb']:.0f} MB.",
                        "",
                    ]
                    if months.get("one_process")
                    else []
                ),
                "What a fresh process pays for its imports before any work (wall, median):",
                "",
                "| imports | wall |",
                "|---|---:|",
                *[f"| {k} | {fmt_s(v)} |" for k, v in months["import_costs"].items()],
                "",
            ]
    if asl:
        lines += [
            "## arxiv-sanity-lite's feature computation on the same 19,682 papers",
            "",
            "`compute.py`'s `TfidfVectorizer` (its settings: word 1-2-grams, "
            "`max_features=20000`, `min_df=5`, `max_df=0.1`, sublinear tf, accents "
            "stripped), fit then transform, `float32`; one process per run.",
            "",
            "| corpus | fit | transform | fit + transform | its CPU "
            "| process (with import, reading) | peak |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for corpus, info in asl.items():
            lines.append(
                f"| {corpus} | {fmt_s(info['fit_s'])} | {fmt_s(info['transform_s'])} "
                f"| **{fmt_s(info['compute_s'])}** | {fmt_s(info['compute_cpu_s'])} "
                f"| {fmt_s(info['process']['wall_s'])} "
                f"| {info['process']['peak_mb']:.0f} MB |"
            )
        if months:
            reference = min(v["compute_s"] for v in asl.values())
            lines += [
                "",
                f"Ours / theirs: {fmt_s(months['cold_total_s'])} for the four cold month "
                f"runs (earlier months' results cached; whole processes: start-up, ranking, "
                f"trends, rendering, writing) / {fmt_s(reference)} (their feature "
                f"computation alone) = **{months['cold_total_s'] / reference:.2f}**. "
                f"Each month fully cold: {fmt_s(months['fully_cold_total_s'])} = "
                f"{months['fully_cold_total_s'] / reference:.2f}.",
                "",
            ]
    if months:
        lines += ["## Where a run's time goes (one probe run per month)", ""]
        for kind in ("cold", "repeated"):
            lines += [f"{kind.capitalize()}:", "", *stage_table(months["stages"][kind]), ""]
        lines += [
            "Growth of the process's peak memory inside each stage (MB, cold probes):",
            "",
            *peak_table(months["stages"]["cold"]),
            "",
        ]
        lines += [
            "Stages are inclusive (a trends stage contains its own ranking and loading). "
            "Start-up + imports is the child's wall time minus the time inside "
            "`cli.main`.",
            "",
            "Per-month queries (EXPLAIN QUERY PLAN on the real store):",
            "",
        ]
        lines += [f"- `{k}`: {v}" for k, v in months["plans"].items()]
        lines.append("")
    scale = results.get("scale")
    if scale:
        lines += [
            "## Scale: resampled real papers, 13,500 a month",
            "",
            *scale_table(scale),
            "",
            "13,500 papers a month is a chosen size (about the configured categories' "
            "monthly volume; arXiv as a whole takes more). The months share abstracts: "
            "each is drawn from the same 19,682 real records, with new ids and dates. "
            "Month run (history cached): the newest month's first run when the earlier "
            "months' results are cached but the store-wide per-month counts are not (as "
            "after the monthly import). Fully cold: the first run on a fresh store, which "
            "also ranks and counts the trailing months for the trends section. Repeated: "
            "again, unchanged. Runs: import 1, fully cold 1, history cached and repeated "
            f"{max(1, results['repeats'] - 1)} each (median; peak memory is the largest).",
            "",
            "Inside the history-cached run (probe children, median of "
            f"{scale[0]['in_run']['runs']}; what the proportionality target reads):",
            "",
            "| papers | run (wall, in process) | run (CPU, in process) |",
            "|---:|---:|---:|",
            *[
                f"| {s['papers']:,} | {fmt_s(s['in_run']['run_s'])} "
                f"| {fmt_s(s['in_run']['run_cpu_s'])} |"
                for s in scale
            ],
            "",
            "| papers | JSONL file | generate | papers_for_month query | month_counts query |",
            "|---:|---:|---:|---:|---:|",
        ]
        for s in scale:
            q = s["month_queries_s"]
            lines.append(
                f"| {s['papers']:,} | {s['file_mb']:,.0f} MB | {fmt_s(s['generate_s'])} "
                f"| {q['papers_for_month'] * 1000:.0f} ms | {q['month_counts'] * 1000:.0f} ms |"
            )
        lines += [
            "",
            "Where the month run's time goes (history cached; the first probe run per size):",
            "",
            *stage_table({fmt_n(s["papers"]): s["stages"] for s in scale}),
            "",
            "Growth of the process's peak memory inside each stage (MB, same runs):",
            "",
            *peak_table({fmt_n(s["papers"]): s["stages"] for s in scale}),
        ]
        lines += ["", "Query plans at the largest size:", ""]
        lines += [f"- `{k}`: {v}" for k, v in scale[-1]["plans"].items()]
        lines += ["", "![Cost as the store grows](scale.png)", ""]
    lines += ["## README text", "", "````markdown", *readme_text(results), "````", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def plot(scale: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    papers = [s["papers"] for s in scale]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110)
    ax = axes[0]
    ax.plot(papers, [s["import"]["wall_s"] for s in scale], "o-", label="import")
    ax.plot(papers, [s["run_cold"]["wall_s"] for s in scale], "s-", label="one month's run")
    ax.plot(papers, [s["run_repeated"]["wall_s"] for s in scale], "^-", label="repeated run")
    ax.set(xscale="log", yscale="log", xlabel="papers in store", ylabel="seconds", title="Time")
    ax.legend()
    ax = axes[1]
    ax.plot(papers, [s["import"]["peak_mb"] for s in scale], "o-", label="import")
    ax.plot(papers, [s["run_cold"]["peak_mb"] for s in scale], "s-", label="one month's run")
    ax.axhline(TARGET_PEAK_MB, color="grey", ls="--", lw=1, label="500 MB")
    ax.set(xscale="log", xlabel="papers in store", ylabel="MB", title="Peak memory")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax = axes[2]
    ax.plot(papers, [s["store_mb"] / 1000 for s in scale], "o-")
    ax.set(xscale="log", yscale="log", xlabel="papers in store", ylabel="GB",
           title="Store on disk")  # fmt: skip
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("trenddigest cost as the store grows (13,500 papers a month)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def explain(results: dict) -> list[str]:
    """For each missed target: which stage, by how much, and why (from the stage probes)."""
    notes = []
    for row in targets(results):
        if row["met"]:
            continue
        notes.append(f"{row['target']}: {row['measured']} ({row['gap']}).")
    months, asl = results.get("months"), results.get("asl")
    if months and asl:
        cold = months["stages"]["cold"]
        trends = sum(p["stages"].get("trends section", 0.0) for p in cold.values())
        rank = sum(p["stages"].get("rank the month: cache or rank", 0.0) for p in cold.values())
        startup = sum(p["wall_s"] - p["run_s"] for p in cold.values())
        reference = min(v["compute_s"] for v in asl.values())
        without = sum(p["wall_s"] for p in cold.values()) - trends
        notes.append(
            f"Cold runs: ranking the four months takes {fmt_s(rank)} "
            f"({rank / reference:.2f} of arxiv-sanity-lite's {fmt_s(reference)}), start-up "
            f"{fmt_s(startup)}, the trends section {fmt_s(trends)} (stage probes). Without "
            f"the trends section the four probe runs would take about {fmt_s(without)} "
            f"= {without / reference:.2f} of arxiv-sanity-lite."
        )
        costs = months.get("import_costs")
        if costs:
            base = costs["python + trenddigest CLI"]
            numeric = costs["+ numpy, scipy.sparse"] - base
            sklearn = costs["+ scikit-learn (NMF)"] - costs["+ numpy, scipy.sparse"]
            allowed = TARGET_ASL_RATIO * reference
            n = len(cold)
            notes.append(
                f"Fixed costs of a cold run, measured in fresh processes: Python with the CLI "
                f"{fmt_s(base)}, numpy + scipy.sparse {fmt_s(numeric)} more, scikit-learn "
                f"(loaded for the emerging-topics NMF, which the trends issue asks to do "
                f"with scikit-learn) {fmt_s(sklearn)} more. For {n} runs that is "
                f"{fmt_s(n * (base + numeric + sklearn))} of the {fmt_s(allowed)} the target "
                f"allows ({n * (base + numeric + sklearn) / allowed:.0%}), scikit-learn "
                f"alone {fmt_s(n * sklearn)} ({n * sklearn / allowed:.0%}), before a paper is "
                "read: the target cannot be met while every cold run clusters with "
                "scikit-learn, and the work itself (ranking, term counts, NMF, rendering) "
                "would have to fit in what is left."
            )
        one = months.get("one_process")
        if one:
            allowed = TARGET_ASL_RATIO * reference
            share = {
                label: one["stages"].get(stage, 0.0) / one["runs_s"]
                for label, stage in (
                    ("ranking", "rank the month: cache or rank"),
                    ("counting every term and phrase", "trends: term counts"),
                    ("clustering", "trends: emerging topics"),
                )
            }
            work = ", ".join(f"{label} {v:.0%}" for label, v in share.items())
            verdict_text = (
                "So the target is missed even with no start-up at all: the work of the "
                f"cold runs ({work} of it) would have to "
                f"shrink by a further {1 - allowed / one['runs_s']:.0%}."
                if one["runs_s"] > allowed
                else "Without start-up the runs fit in the time the target allows."
            )
            notes.append(
                f"The same four cold runs in one process (imports paid once, as `schedule` "
                f"does when it catches up missed months): {fmt_s(one['wall_s'])} in all = "
                f"{one['wall_s'] / reference:.2f} of arxiv-sanity-lite; the runs themselves "
                f"(ranking, trends, rendering, writing; no start-up) {fmt_s(one['runs_s'])} "
                f"= {one['runs_s'] / reference:.2f}, {one['runs_s'] / allowed:.2f}x the "
                f"{fmt_s(allowed)} the target allows. " + verdict_text
            )
        repeated = months["stages"]["repeated"]
        startup = sum(p["wall_s"] - p["run_s"] for p in repeated.values())
        inside = sum(p["run_s"] for p in repeated.values())
        cached = sum(
            p["stages"].get("rank the month: cache or rank", 0.0) for p in repeated.values()
        )
        trends = sum(p["stages"].get("trends section", 0.0) for p in repeated.values())
        notes.append(
            f"Repeated runs, in the probe that times their stages: {fmt_s(startup)} of "
            f"start-up (Python, the package and the probe's own timing code) and "
            f"{fmt_s(inside)} inside the run, of which the cached ranking "
            f"{fmt_s(cached)} and the trends section {fmt_s(trends)} (what it does not "
            "cache: top picks, rising terms and their examples, the chart)."
        )
    if months:
        for kind in ("cold", "repeated"):
            probe = months["stages"][kind]
            total = sum(p["wall_s"] for p in probe.values())
            startup = sum(p["wall_s"] - p["run_s"] for p in probe.values())
            by_stage: dict[str, float] = {}
            for p in probe.values():
                for name, seconds in p["stages"].items():
                    by_stage[name] = by_stage.get(name, 0.0) + seconds
            top = sorted(by_stage.items(), key=lambda kv: -kv[1])[:4]
            parts = ", ".join(f"{name} {fmt_s(s)}" for name, s in top)
            notes.append(
                f"{kind} runs, four months, {fmt_s(total)} in the probe: start-up + imports "
                f"{fmt_s(startup)}; {parts}."
            )
    for size in results.get("scale") or []:
        probe = size["stages"]
        slow = sorted(probe["stages"].items(), key=lambda kv: -kv[1])[:3]
        heavy = sorted(probe["peak_rise_mb"].items(), key=lambda kv: -kv[1])[:3]
        notes.append(
            f"{fmt_n(size['papers'])} store, one 13,500-paper month (history cached), "
            f"{fmt_s(probe['wall_s'])}, peak {probe['peak_mb']:.0f} MB: start-up + imports "
            f"{fmt_s(probe['wall_s'] - probe['run_s'])}; "
            + ", ".join(f"{n} {fmt_s(t)}" for n, t in slow)
            + "; peak grew most in "
            + ", ".join(f"{n} (+{m:.0f} MB)" for n, m in heavy)
            + "."
        )
    return notes


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="no 2.7M step, fewer repeats")
    parser.add_argument("--sizes", help="comma-separated store sizes (papers) for the scale series")
    parser.add_argument("--repeats", type=int, help="runs per measurement (default 3, quick 2)")
    parser.add_argument("--skip", default="", help="comma list of: imports,months,asl,scale")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--workdir", type=Path, help="temporary files here (default: system)")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite bench.md and scale.png from bench.json"
    )
    parser.add_argument("--probe", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((args.out / "bench.json").read_text())
        results["notes"] = explain(results)
        if results.get("scale"):
            plot(results["scale"], args.out / "scale.png")
        write_report(results, args.out / "bench.md")
        return 0
    if args.probe:
        kind, *rest = args.probe
        probes: dict[str, Callable[..., dict[str, Any]]] = {
            "import": probe_import,
            "import-many": lambda store, *paths: probe_import_many(paths, store),
            "run": probe_run,
            "run-months": probe_run_months,
            "asl": probe_asl,
        }
        print(json.dumps(probes[kind](*rest)))
        return 0

    repeats = args.repeats or (2 if args.quick else 3)
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    else:
        sizes = [s for s in SIZES if not (args.quick and s > 1_000_000)]
    skip = set(filter(None, args.skip.split(",")))
    real = shared_data_dir() / REAL_FILE
    if not real.is_file():
        print(f"real data not found at {real} (set TRENDDIGEST_SHARED)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else argv,
        "repeats": repeats,
        "machine": machine(),
    }
    records = load_real(real)
    with tempfile.TemporaryDirectory(prefix="trenddigest-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        children = configure_children(work)
        children["memory_check"] = memory_check(work)
        children.update(warm_up(real, records, work))
        results["machine"]["children"] = children
        if "imports" not in skip:
            results["imports"] = bench_imports(real, records, work, repeats)
        if "months" not in skip:
            results["months"] = bench_months(real, work, repeats)
        if "asl" not in skip:
            results["asl"] = bench_asl(real, work, repeats)
        if "scale" not in skip and sizes:
            results["scale"] = bench_scale(records, sizes, work, max(1, repeats - 1))
    results["machine"]["load_after"] = os.getloadavg()
    results["elapsed_s"] = time.perf_counter() - started
    results["self_peak_mb"] = own_peak_mb()
    results["notes"] = explain(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if results.get("scale"):
        plot(results["scale"], args.out / "scale.png")
    write_report(results, args.out / "bench.md")
    log(f"done in {results['elapsed_s'] / 60:.1f} min: {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
