"""A corpus of bad input: each costs one line on stderr and exit 2, nothing else.

Every case is a file (or files) and a command line. It must give exit code 2, exactly one
line on stderr naming the file, line and field where there is one, no traceback and no
output on stdout; and the directory it works in (the input files, an earlier run that
``--out ... --force`` points at, a file of the user's) must be byte for byte as it was,
with no staging directory left behind.

Cases run in-process through :func:`sclab.cli.main` (the console entry point, inside
Typer's test isolation) unless they need a process of their own: the YAML bombs run in a
subprocess with a 2 GiB address-space limit and a timeout, so that a regression fails
the test instead of the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tests.conftest import small_scenario
from typer.testing import CliRunner

from sclab import __version__
from sclab.yamlfile import MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENT_BYTES

# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------

ADDRESS_SPACE_LIMIT = 2 << 30  # bytes: ample for sclab, far below what a bomb would take
SUBPROCESS_TIMEOUT = 60  # seconds; every case here ends within a few


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The one line on stderr (asserting there is exactly one and no traceback)."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, self.stderr
        return lines[0]


def invoke(*args: str | Path, cwd: Path | None = None) -> Outcome:
    """``sclab ARGS`` in this process, through the console entry point."""
    from sclab.cli import main

    argv = ["sclab", *map(str, args)]
    old_argv, old_cwd = sys.argv, Path.cwd()
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        sys.argv = argv
        if cwd is not None:
            os.chdir(cwd)
        code: int = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return Outcome(code, stdout, stderr)


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def invoke_subprocess(*args: str | Path, cwd: Path | None = None) -> Outcome:
    """``sclab ARGS`` in a child process with bounded memory and time."""
    proc = subprocess.run(
        [sys.executable, "-m", "sclab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=SUBPROCESS_TIMEOUT,
        preexec_fn=_limit_address_space,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (hidden ones too): ``dir`` or its content's hash."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir() and not path.is_symlink():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Watched:
    """A directory a bad command must leave exactly as it was.

    It holds an earlier run (``previous-run``, the ``--out`` of the run cases, replaced
    only by a successful run with ``--force``) and a file of the user's.
    """

    root: Path

    @property
    def previous_run(self) -> Path:
        return self.root / "previous-run"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


@pytest.fixture
def watched(tmp_path: Path) -> Watched:
    w = Watched(tmp_path / "watched")
    w.previous_run.mkdir(parents=True)
    manifest = {
        "format": "sclab-run",
        "format_version": 1,
        "files": {"manifest.json": {"kind": "manifest"}, "run.duckdb": {"kind": "database"}},
    }
    (w.previous_run / "manifest.json").write_text(json.dumps(manifest) + "\n", encoding="utf-8")
    (w.previous_run / "run.duckdb").write_bytes(b"an earlier run's database")
    (w.root / "notes.txt").write_text("the user's own file\n", encoding="utf-8")
    return w


def assert_refused(
    outcome: Outcome,
    before: dict[str, str],
    watched: Watched,
    *needles: str,
    line: int | None = None,
) -> str:
    """Exit 2, one error line holding ``needles`` (and ``:line:``), nothing changed."""
    text = outcome.error_line()
    assert outcome.code == 2, (outcome.code, outcome.stderr)
    assert text.startswith("error: "), text
    assert outcome.stdout == "", outcome.stdout
    for needle in needles:
        assert needle in text, (needle, text)
    if line is not None:
        assert f":{line}: " in text, (line, text)
    assert snapshot(watched.root) == before
    leftovers = [p for p in watched.root.parent.rglob("*") if ".partial-" in p.name]
    assert not leftovers, leftovers
    return text


def yaml_text(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def with_lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


BASE = yaml_text(small_scenario())


def scenario_with(**top: object) -> str:
    return yaml_text(small_scenario(**top))


def with_source(params: dict) -> str:
    return scenario_with(sources=[{"use": "streets", "params": params}])


def billion_laughs(levels: int = 9) -> str:
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*lol{i - 1}"] * 9)
        lines.append(f"lol{i}: &lol{i} [{refs}]")
    return with_lines(*lines)


POLICY_HEAD = with_lines(
    "id: mine",
    "title: My policy",
    "system: mine",
    "participation: {mode: everyone}",
)

# --------------------------------------------------------------------------------------
# The corpus: files and command lines
# --------------------------------------------------------------------------------------


@dataclass
class Case:
    """A bad input: files to write into the watched directory, and the command.

    ``args`` may contain ``{w}`` (the watched directory) and ``{file}`` (the first file).
    ``needles`` must appear in the error line; ``{file}`` there is the first file's path.
    """

    id: str
    files: dict[str, str | bytes]
    args: tuple[str, ...]
    needles: tuple[str, ...] = ()
    line: int | None = None
    subprocess: bool = False

    def __post_init__(self) -> None:
        if not self.needles and self.files:
            self.needles = ("{file}",)


RUN = ("run", "{file}", "--out", "{w}/previous-run", "--force", "--quiet")
CHECK = ("check-policy", "{file}")
F = "scenario.yaml"


def run_case(id: str, text: str | bytes, *needles: str, line: int | None = None, **kw) -> Case:
    return Case(id, {F: text}, RUN, ("{file}", *needles), line, **kw)


def policy_case(id: str, text: str | bytes, *needles: str, line: int | None = None, **kw) -> Case:
    return Case(id, {"policy.yaml": text}, CHECK, ("{file}", *needles), line, **kw)


CASES: list[Case] = [
    # --- values the YAML syntax accepts but that have no value -------------------------
    run_case(
        "february-30th",
        BASE + "start_date: 2019-02-30\n",
        "start_date",
        "real calendar date",
        "2019-02-30",
        line=BASE.count("\n") + 1,
    ),
    run_case("month-13", BASE + "start_date: 2019-13-01\n", "start_date", "calendar date"),
    run_case("not-a-leap-year", BASE + "start_date: 2021-02-29\n", "start_date", "2021-02-29"),
    run_case("date-in-a-district", BASE.replace("name: Gulou", "name: 2019-02-31"), "districts"),
    run_case(
        "5000-digit-integer", BASE.replace("seed: 7", "seed: " + "9" * 5000), "seed", "digits"
    ),
    policy_case("policy-february-30th", POLICY_HEAD + "title2: 2020-02-30\n", "title2", "date"),
    # --- nesting, aliases and size: bounded before anything is built -----------------
    run_case("100k-nested-lists", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested"),
    run_case("3000-nested-maps", "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested"),
    run_case("3000-nested-block-lists", "- " * 3000 + "1\n", "nested"),
    run_case(
        "nesting-just-over-the-limit",
        "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n",
        f"{MAX_DEPTH} levels",
        line=1,
    ),
    run_case(
        "nesting-through-an-alias",
        with_lines("a: &deep " + "[" * 30 + "]" * 30, "b: [[[[*deep]]]]"),
        "aliases expanded",
        line=2,
    ),
    run_case("billion-laughs-run", billion_laughs(), "aliases expanded", subprocess=True),
    policy_case("billion-laughs-policy", billion_laughs(), "aliases expanded", subprocess=True),
    run_case(
        "billion-laughs-under-a-field",
        BASE + "extra:\n" + "".join(f"  {ln}\n" for ln in billion_laughs().splitlines()),
        "aliases expanded",
        subprocess=True,
    ),
    run_case(
        "mappings-of-aliased-mappings",
        with_lines(
            "a: &a {" + ", ".join(f"k{i}: [x, x, x, x, x, x, x, x]" for i in range(40)) + "}",
            "b0: &b0 {" + ", ".join(f"m{j}: *a" for j in range(8)) + "}",
            *(
                f"b{i}: &b{i} {{" + ", ".join(f"m{j}: *b{i - 1}" for j in range(8)) + "}"
                for i in range(1, 6)
            ),
        ),
        "aliases expanded",
        subprocess=True,
    ),
    run_case(
        "too-many-aliases",
        with_lines("a: &a 1", "b: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]"),
        "aliases",
        line=2,
    ),
    run_case("alias-inside-its-anchor", "a: &x [1, *x]\n", "inside its own anchor", line=1),
    run_case("undefined-alias", BASE + "extra: *nowhere\n", "undefined alias"),
    run_case("duplicate-anchor", "a: &x 1\nb: &x 2\n", "defined twice", line=2),
    run_case(
        "over-1-MiB",
        "# " + "x" * MAX_DOCUMENT_BYTES + "\n" + BASE,
        f"{MAX_DOCUMENT_BYTES >> 10:,} KiB",
    ),
    Case(
        "device-that-never-ends", {}, ("run", "/dev/zero", "--quiet"), ("/dev/zero", "larger than")
    ),
    # --- malformed YAML ---------------------------------------------------------------
    run_case("empty", "", "empty"),
    run_case("only-comments", "# nothing here\n", "empty"),
    run_case("unclosed-list", "name: x\nseed: [1, 2\n", "malformed YAML", line=3),
    run_case("unclosed-quote", 'name: "x\nseed: 1\n', "malformed YAML"),
    run_case("tab-indentation", "geography:\n\tname: x\n", "malformed YAML", line=2),
    run_case("two-documents", BASE + "---\n" + BASE, "single document"),
    run_case("top-level-list", "- 1\n- 2\n", "mapping", line=1),
    run_case("top-level-scalar", "just words\n", "mapping", line=1),
    run_case("duplicate-key", BASE + "seed: 8\n", "seed", "duplicate key"),
    run_case("list-as-key", "? [a, b]\n: 1\n", "plain key", line=1),
    run_case("set-as-key", "? !!set {a: null}\n: 1\n", "plain key", line=1),
    run_case("python-object-tag", 'x: !!python/object/apply:os.system ["true"]\n', "constructor"),
    run_case("local-tag", "x: !mine 1\n", "constructor"),
    run_case("bad-base64", "x: !!binary 'zz'\n", "base64", line=1),
    run_case("latin-1-bytes", "name: Gul\xf6u\n".encode("latin-1"), "not UTF-8"),
    run_case("binary-garbage", b"a: 1\n\x00\x01\x02PK\x03\x04" * 50, "U+0000", line=2),
    # --- schema: fields and cross-references ------------------------------------------
    run_case(
        "camera-share-of-an-unknown-district",
        with_source({"camera_share_by_district": {320106: 0.5, 999999: 0.2}}),
        "sources[0].params.camera_share_by_district[999999]",
        "not in geography.districts",
        "320106",
    ),
    run_case(
        "intersections-of-an-unknown-district",
        with_source({"intersections_by_district": {110101: 3}}),
        "intersections_by_district[110101]",
    ),
    run_case(
        "district-key-that-is-not-a-code",
        with_source({"intersections_by_district": {"Gulou": 3}}),
        "intersections_by_district",
    ),
    run_case(
        "size-zero", scenario_with(population={"size": 0}), "population.size", "greater than 0"
    ),
    run_case(
        "size-over-the-maximum",
        scenario_with(population={"size": 100_000_001}),
        "population.size",
        "less than or equal",
    ),
    run_case(
        "size-beyond-resident-ids",
        scenario_with(population={"size": 60_000_000}),
        "population.size",
        "resident-ID format",
        "sequence numbers",
    ),
    run_case("days-zero", scenario_with(days=0), "days"),
    run_case("start-date-a-number", scenario_with(start_date=5), "start_date"),
    run_case("negative-seed", scenario_with(seed=-1), "seed"),
    run_case(
        "name-with-markup",
        scenario_with(name="[bold]x"),
        "[bold]x",
        "'^[A-Za-z0-9_.-]+$'",
    ),
    run_case(
        "overlapping-age-bands",
        scenario_with(
            population={"size": 10, "demography": {"age_bands": {"0-50": 0.5, "40-99": 0.5}}}
        ),
        "age_bands",
    ),
    run_case("unknown-component", scenario_with(sources=[{"use": "telepathy"}]), "sources[0].use"),
    run_case(
        "unknown-component-parameter",
        with_source({"camera_quota": 3}),
        "sources[0].params.camera_quota",
        "unknown field",
    ),
    run_case(
        "pack-that-does-not-exist",
        scenario_with(policies=[{"use": "pack", "params": {"pack": "no-such-pack"}}]),
        "no-such-pack",
    ),
    policy_case("policy-missing-fields", "id: mine\n", "missing required field"),
    policy_case(
        "policy-nested-too-deep", POLICY_HEAD + "x: " + "[" * 40 + "]" * 40 + "\n", "nested"
    ),
    # --- file names and paths --------------------------------------------------------
    Case(
        "file-name-with-closing-markup",
        {"[/].yaml": "name: ["},
        ("run", "{w}/[/].yaml", "--quiet"),
        ("[/].yaml", "malformed YAML"),
    ),
    Case(
        "file-name-with-opening-markup",
        {"[bold]x.yaml": "name: ["},
        ("run", "{w}/[bold]x.yaml", "--quiet"),
        ("[bold]x.yaml", "malformed YAML"),
    ),
    Case("missing-file", {}, ("run", "{w}/nope.yaml"), ("nope.yaml", "file not found")),
    Case("a-directory", {}, ("run", "{w}/previous-run/", "--quiet"), ("is a directory",)),
    Case("unknown-built-in", {}, ("run", "atlantis"), ("atlantis", "demo", "nanjing")),
    Case("policy-file-missing", {}, ("check-policy", "{w}/nope.yaml"), ("nope.yaml", "not found")),
    # --- command lines ---------------------------------------------------------------
    Case("population-zero", {}, ("run", "demo", "--population", "0"), ("--population",)),
    Case("population-negative", {}, ("run", "demo", "--population", "-5"), ("--population",)),
    Case("population-not-a-number", {}, ("run", "demo", "--population", "many"), ("--population",)),
    Case(
        "population-beyond-resident-ids",
        {},
        ("run", "nanjing", "--population", "100000000", "--out", "{w}/previous-run", "--force"),
        ("--population", "resident-ID format", "at most about"),
    ),
    Case("days-zero-option", {}, ("run", "demo", "--days", "0"), ("--days",)),
    Case("days-too-many", {}, ("run", "demo", "--days", "3651"), ("--days", "3650")),
    Case("seed-negative-option", {}, ("run", "demo", "--seed", "-1"), ("--seed",)),
    Case("unknown-option", {}, ("run", "demo", "--colour", "red"), ("--colour",)),
    Case("missing-argument", {}, ("run",), ("Missing argument",)),
    Case("unknown-command", {}, ("simulate",), ("simulate",)),
    Case(
        "out-name-too-long",
        {},
        ("run", "demo", "--population", "500", "--out", "{w}/" + "n" * 300, "--quiet"),
        ("n" * 50, "too long"),
    ),
    Case(
        "out-is-a-file",
        {},
        ("run", "demo", "--population", "500", "--out", "{w}/notes.txt", "--force", "--quiet"),
        ("notes.txt", "not a directory"),
    ),
    Case(
        "out-under-a-file",
        {},
        ("run", "demo", "--population", "500", "--out", "{w}/notes.txt/run", "--quiet"),
        ("notes.txt", "cannot write"),
    ),
    Case(
        "force-onto-a-directory-that-is-not-a-run",
        {"thesis/chapter1.tex": "precious"},
        ("run", "demo", "--population", "500", "--out", "{w}/thesis", "--force", "--quiet"),
        ("thesis", "is not an sclab run"),
    ),
    Case(
        "out-under-proc",
        {},
        ("run", "demo", "--population", "500", "--out", "/proc/self/sclab-run", "--force"),
        ("/proc/self/sclab-run", "cannot write"),
    ),
    Case(
        "out-under-sys",
        {},
        ("run", "demo", "--population", "500", "--out", "/sys/sclab-run", "--force"),
        ("/sys/sclab-run", "cannot write"),
    ),
    Case(
        "bench-population-zero",
        {},
        ("bench", "--population", "0", "--out", "{w}/b"),
        ("--population",),
    ),
    Case("bench-days-zero", {}, ("bench", "--population", "1000", "--days", "0"), ("--days",)),
    Case(
        "bench-unknown-scenario",
        {},
        ("bench", "--population", "1000", "--scenario", "atlantis", "--out", "{w}/b"),
        ("atlantis",),
    ),
    Case(
        "bench-beyond-resident-ids",
        {},
        ("bench", "--population", "60000000", "--out", "{w}/b"),
        ("--population", "resident-ID format"),
    ),
]


# A valid policy (checked against sclab's own components) that the cases below break in
# one place each: the mistakes that would otherwise change results silently.
GOOD_POLICY = with_lines(
    "id: mine",
    "title: My policy",
    "counters:",
    "  - id: defaults",
    "    events: {kinds: [loan_default]}",
    "    window_days: 365",
    "scores:",
    "  - id: points",
    "    type: points",
    "    base: 1000",
    "    deltas:",
    "      - events: {kinds: [traffic_ticket]}",
    "        delta: -5",
    "    grades:",
    "      - {name: A, min: 960}",
    "      - {name: B}",
    "  - id: factors",
    "    type: factors",
    "    range: [350, 950]",
    "    factors:",
    "      - name: history",
    "        weight: 1",
    "        inputs:",
    "          - {from: events, events: {kinds: [bill_late]}, window_days: 365}",
    "          - {from: platform, kind: purchase_books, half_life_days: 90}",
    "          - {from: attribute, attribute: income_decile}",
    "lists:",
    "  - id: defaulters",
    "    term_days: 365",
    "    delete_on: {kinds: [judgment_performed]}",
    "rules:",
    "  - id: listing",
    "    when: {counter: defaults, above: 1}",
    "    effects:",
    "      - list: {list: defaulters}",
    "  - id: tickets",
    "    when: {events: {kinds: [traffic_ticket]}}",
    "    effects:",
    "      - sanction: {kind: notice, domain: sms}",
    "joint:",
    "  - id: flights",
    "    when: {list: defaulters}",
    "    moments: [flight_ticket]",
    "    effect: blocked",
)
POLICY_LINES = GOOD_POLICY.splitlines()


def broken_policy(id: str, old: str, new: str, *needles: str) -> Case:
    """``GOOD_POLICY`` with one line changed: the error names that line."""
    assert old in GOOD_POLICY, old
    line = next(i + 1 for i, text in enumerate(POLICY_LINES) if old in text)
    return policy_case(id, GOOD_POLICY.replace(old, new, 1), *needles, line=line)


def scenario_running(*policies: str, **top: object) -> str:
    """The small scenario with every source and sensor and the given policy files."""
    sources = [{"use": n} for n in ("payments", "state_data", "streets", "resources")]
    return scenario_with(
        sources=sources,
        sensors=[{"use": "records"}, {"use": "cameras"}],
        policies=[{"use": "pack", "params": {"pack": p}} for p in policies],
        **top,
    )


POLICY_CASES: list[Case] = [
    broken_policy(
        "misspelt-counter-kind", "[loan_default]", "[loan_defualt]", "did you mean 'loan_default'"
    ),
    broken_policy(
        "misspelt-delta-kind",
        "      - events: {kinds: [traffic_ticket]}",
        "      - events: {kinds: [trafic_ticket]}",
        "trafic_ticket",
        "did you mean 'traffic_ticket'",
    ),
    broken_policy(
        "misspelt-rule-kind",
        "    when: {events: {kinds: [traffic_ticket]}}",
        "    when: {events: {kinds: [traffic_tickets]}}",
        "traffic_tickets",
    ),
    broken_policy(
        "misspelt-delete-on-kind", "[judgment_performed]", "[judgement_performed]", "judgment"
    ),
    broken_policy("misspelt-factor-event-kind", "[bill_late]", "[bill_lately]", "bill_late"),
    broken_policy(
        "misspelt-platform-kind", "kind: purchase_books", "kind: purchase_bookz", "books"
    ),
    broken_policy(
        "misspelt-attribute", "attribute: income_decile", "attribute: income_decil", "decile"
    ),
    broken_policy("misspelt-moment", "[flight_ticket]", "[flight_tickets]", "flight_ticket"),
    broken_policy(
        "company-kind-counted-for-people",
        "[loan_default]",
        "[company_tax_arrears]",
        "company_tax_arrears",
    ),
    broken_policy("infinite-delta", "delta: -5", "delta: -.inf", "finite number"),
    broken_policy("infinite-positive-delta", "delta: -5", "delta: .inf", "finite number"),
    broken_policy("not-a-number-base", "base: 1000", "base: .nan", "finite number"),
    broken_policy("infinite-grade-bound", "min: 960", "min: .inf", "finite number"),
    broken_policy("delta-beyond-float32", "delta: -5", "delta: -1e12", "-1000000"),
    broken_policy("infinite-factor-weight", "weight: 1", "weight: .inf", "finite number"),
    broken_policy("infinite-score-range", "[350, 950]", "[350, .inf]", "finite number"),
    broken_policy(
        "threshold-on-an-unknown-counter", "counter: defaults,", "counter: default,", "default"
    ),
    broken_policy(
        "list-effect-on-an-unknown-list",
        "list: {list: defaulters}",
        "list: {list: defaulter}",
        "defaulter",
    ),
]

COMPONENT_CASES: list[Case] = [
    Case(
        "same-pack-twice",
        {F: scenario_running("mine.yaml", "mine.yaml"), "mine.yaml": GOOD_POLICY},
        RUN,
        ("{file}", "listed twice"),
    ),
    Case(
        "two-packs-with-one-id",
        {
            F: scenario_running("mine.yaml", "also-mine.yaml"),
            "mine.yaml": GOOD_POLICY,
            "also-mine.yaml": GOOD_POLICY,
        },
        RUN,
        ("{file}", "policy id 'mine'", "listed twice"),
    ),
    run_case(
        "same-source-twice",
        scenario_with(sources=[{"use": "payments"}, {"use": "payments"}]),
        "sources[1].use",
        "listed twice",
    ),
    run_case(
        "cameras-without-streets",
        scenario_with(sources=[{"use": "payments"}], sensors=[{"use": "cameras"}]),
        "sensors[0]",
        "streets",
    ),
    run_case(
        "matcher-names-an-ethnic-group-not-in-the-scenario",
        scenario_with(
            sources=[{"use": "streets"}],
            sensors=[{"use": "cameras", "params": {"matcher": {"ethnic_fmr": {"uyghur": 2}}}}],
        ),
        "sensors[0].params.matcher.ethnic_fmr.uyghur",
        "han",
    ),
    Case(
        "policy-reads-a-kind-no-component-produces",
        {
            F: scenario_with(
                sources=[{"use": "streets"}],
                policies=[{"use": "pack", "params": {"pack": "nanjing"}}],
            )
        },
        RUN,
        ("jaywalk_identified", "sensors:cameras", "does not run"),
    ),
    run_case(
        "deterrence-of-a-misspelt-kind",
        scenario_with(behaviour=[{"use": "deterrence", "params": {"kinds": ["jaywalks"]}}]),
        "behaviour[0].params.kinds",
        "jaywalk",
    ),
    run_case(
        "records-of-a-misspelt-kind",
        scenario_with(sensors=[{"use": "records", "params": {"ignore": ["bill_lat"]}}]),
        "sensors[0].params.ignore",
        "bill_late",
    ),
    Case(
        "rerun-of-a-directory-that-is-not-a-run",
        {"thesis/chapter1.tex": "precious"},
        ("rerun", "{w}/thesis", "--out", "{w}/again"),
        ("thesis",),
    ),
    Case(
        "rerun-into-its-own-directory",
        {},
        ("rerun", "{w}/previous-run", "--out", "{w}/previous-run"),
        ("previous-run",),
    ),
    Case("misspelt-pack", {}, ("check-policy", "sesamee"), ("sesamee",)),
]

CASES += POLICY_CASES + COMPONENT_CASES


def _fill(text: str, w: Watched, first: Path | None) -> str:
    return text.replace("{w}", str(w.root)).replace("{file}", str(first) if first else "")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_costs_one_line(case: Case, watched: Watched) -> None:
    paths = [watched.write(name, content) for name, content in case.files.items()]
    first = paths[0] if paths else None
    args = [_fill(a, watched, first) for a in case.args]
    before = snapshot(watched.root)
    run: Callable[..., Outcome] = invoke_subprocess if case.subprocess else invoke
    outcome = run(*args, cwd=watched.root)
    needles = [_fill(n, watched, first) for n in case.needles]
    assert_refused(outcome, before, watched, *needles, line=case.line)


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------------------
# Read-only output locations
# --------------------------------------------------------------------------------------


def _read_only_mount(path: Path) -> list[str] | None:
    """A command prefix that runs with ``path`` as a read-only tmpfs (its own mount
    namespace, so nothing outside the child sees it), or None where that is not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run(
        [unshare, "--mount", "--", "sh", "-c", f"mount -t tmpfs -o ro tmpfs '{path}'"],
        capture_output=True,
        check=False,
        timeout=SUBPROCESS_TIMEOUT,
    )
    return [unshare, "--mount", "--"] if probe.returncode == 0 else None


#: The manifest of a run directory holding nothing else: what --force may replace.
RUN_MANIFEST = json.dumps(
    {"format": "sclab-run", "format_version": 1, "files": {"manifest.json": {"kind": "manifest"}}}
)


def test_force_at_a_read_only_location(watched: Watched) -> None:
    """``--out`` in a read-only directory, with ``--force`` and an earlier run there: one
    line, the earlier run intact. Non-root users get a chmod-ed directory; root (whom
    chmod does not stop) a read-only tmpfs in a private mount namespace."""
    target = watched.root / "locked"
    earlier = target / "run"
    earlier.mkdir(parents=True)
    (earlier / "manifest.json").write_text(RUN_MANIFEST + "\n", encoding="utf-8")
    before = snapshot(watched.root)
    args = ["run", "demo", "--population", "500", "--days", "1", "--force", "--quiet"]
    if os.geteuid() != 0:
        target.chmod(0o555)
        try:
            outcome = invoke(*args, "--out", earlier)
        finally:
            target.chmod(0o755)
        assert_refused(outcome, before, watched, str(earlier), "cannot write")
        return
    prefix = _read_only_mount(target)
    if prefix is None:
        pytest.skip("no way to make a read-only directory here (root, and no mount namespace)")
    # Inside the namespace the tmpfs hides the earlier run: make one there first, then
    # remount read-only, then run.
    script = (
        f"mount -t tmpfs tmpfs '{target}' && mkdir '{earlier}' && "
        f"echo '{RUN_MANIFEST}' > '{earlier}/manifest.json' && "
        f"mount -o remount,ro '{target}' && "
        f"exec '{sys.executable}' -m sclab.cli {' '.join(args)} --out '{earlier}'"
    )
    proc = subprocess.run(
        [*prefix, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert_refused(outcome, before, watched, str(earlier), "Read-only file system")


# --------------------------------------------------------------------------------------
# Memory: refused before any work, unless the user says otherwise
# --------------------------------------------------------------------------------------


def test_a_run_that_does_not_fit_in_memory_is_refused(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sclab.feasibility

    monkeypatch.setattr(sclab.feasibility, "available_memory_bytes", lambda: 100 * 2**20)
    path = watched.write(F, BASE)
    before = snapshot(watched.root)
    outcome = invoke("run", path, "--out", watched.previous_run, "--force", "--quiet")
    text = assert_refused(outcome, before, watched, "population.size", "0.1 GiB available")
    assert "--skip-memory-check" in text
    # With the option the run goes ahead (and replaces the earlier run, as --force says).
    outcome = invoke(
        "run", path, "--out", watched.previous_run, "--force", "--quiet", "--skip-memory-check"
    )
    assert outcome.code == 0, outcome.stderr
    assert (watched.previous_run / "run.duckdb").stat().st_size > 1000


def test_the_memory_check_reads_this_machine() -> None:
    from sclab.feasibility import available_memory_bytes

    available = available_memory_bytes()
    assert available is None or 0 < available < 1 << 50


# --------------------------------------------------------------------------------------
# Good input stays good; the smaller promises
# --------------------------------------------------------------------------------------


def test_user_text_in_rich_output_is_printed_as_it_is(watched: Watched) -> None:
    from sclab.policy.loader import pack_text

    text = pack_text("nanjing").replace(
        "title: Nanjing face-recognition jaywalking rule (from 8 July 2019)",
        "title: '[bold]Mine[/] [/]'",
    )
    assert "[bold]Mine" in text
    path = watched.write("[red]policy.yaml", text)
    outcome = invoke("check-policy", path)
    assert outcome.code == 0, outcome.stderr
    assert "[bold]Mine[/] [/]" in outcome.stdout


def test_version() -> None:
    outcome = invoke("--version")
    assert outcome.code == 0
    assert outcome.stdout.strip() == f"sclab {__version__}"


def test_bare_sclab_shows_help_without_an_error() -> None:
    outcome = invoke()
    assert outcome.code == 0
    assert "error" not in outcome.stderr.lower()
    assert "run" in outcome.stdout + outcome.stderr


def test_merge_keys_still_work(tmp_path: Path) -> None:
    """The bounds keep YAML's own reuse working: a merged mapping, its own keys winning."""
    from sclab.yamlfile import load_yaml

    doc = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "t.yaml")
    assert doc.data == {"base": {"x": 1, "y": 2}, "c": {"x": 1, "y": 3}}
    assert doc.lines[("c", "y")] == 4
