"""Scenarios from Python: load one, change what it runs, run it.

Core objects:
    :class:`Scenario`: a validated scenario (the pydantic model
        :class:`sclab.scenario.schema.Scenario` as :attr:`Scenario.spec`) with keyword and
        path overrides (:meth:`Scenario.load`, :meth:`Scenario.with_overrides`), other
        policies (:meth:`Scenario.with_policies`) and :meth:`Scenario.run`, which runs it,
        its twin and its replicates and returns the :class:`~sclab.api.runs.Run`.
    :func:`simulate`: load and run in one call.
    :class:`RunObserver`: what a caller sees of a run: nothing by default; the command
        line shows progress bars and tables.

``sclab run`` is this module's :meth:`Scenario.run` with a Rich observer: the same
scenario, twin and replicates give the same directories and tables from either. Cost:
that of the runs themselves (the orchestration reads a manifest or two).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sclab.api.overrides import apply_paths
from sclab.errors import OutputError, ScenarioError
from sclab.run import Reporter, RunResult, resume_run, run_scenario
from sclab.scenario.schema import Scenario as ScenarioSpec
from sclab.store.manifest import Manifest

if TYPE_CHECKING:
    import pyarrow as pa

    from sclab.api.runs import Run

#: Keyword overrides of :meth:`Scenario.load` → the command line's options.
KEYWORDS = {"population": "--population", "days": "--days", "seed": "--seed"}
#: The directory of the k-th replicate (1-based) in a directory of replicates.
REPLICATE = "replicate-"
#: The effects of a run against its twin (or of the replicates against theirs).
EFFECTS = "effects.duckdb"


class RunObserver:
    """What a caller sees of :meth:`Scenario.run`. Every method is an optional no-op.

    Example:
        >>> import sclab, tempfile
        >>> class Count(sclab.RunObserver):
        ...     def finished(self, result, seconds, twin):
        ...         print("twin" if twin else "run", result.scenario.population.size)
        >>> _ = sclab.simulate("demo", population=2_000, days=5, twin="none",
        ...                    out=f"{tempfile.mkdtemp()}/demo", observer=Count())
        run 2000
        twin 2000
    """

    def progress(self, scenario: ScenarioSpec) -> AbstractContextManager[Reporter]:
        """A context that shows the progress of one run of ``scenario``."""
        return nullcontext(Reporter())

    def finished(self, result: RunResult, seconds: float, twin: str | None) -> None:
        """A run finished (``twin`` None), or a twin (``twin``: its policies)."""

    def effects(self, tables: dict[str, pa.Table], path: Path) -> None:
        """The effects of the runs against their twins, written to ``path``."""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to run.

    Attributes:
        spec: The validated scenario model (every field: ``spec.population.size``...).
        origin: How it was loaded (what :meth:`load` was given, then each override and
            change of policies), so that a resumed run can load it again and see whether
            its file changed; None if unknown (a scenario made from a model, or overrides
            that are not JSON values).

    Example:
        >>> import sclab
        >>> s = sclab.Scenario.load("demo", population=2_000, days=10,
        ...                         overrides={"cameras.capture": 0.01})
        >>> (s.name, s.population, s.days)
        ('demo', 2000, 10)
        >>> [c.params["capture"] for c in s.spec.sensors if c.use == "cameras"]
        [0.01]
    """

    spec: ScenarioSpec
    origin: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        population: int | None = None,
        days: int | None = None,
        seed: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Scenario:
        """A built-in scenario (``demo``, ``nanjing``), a scenario file, or a policy pack
        or policy file on the Nanjing world (as ``sclab run X``), with overrides.

        Args:
            name_or_path: What to run.
            population: ``population.size``.
            days: Days to simulate.
            seed: The seed of every random stream.
            overrides: Path → value for any scenario field or component parameter
                (``{"cameras.capture": 0.01, "social_graph.degree.mean": 8}``;
                :mod:`sclab.api.overrides`).

        Raises:
            ScenarioError: the file, a field or an override does not validate (one line,
                as the command line says it: file, ``--population`` or ``overrides``,
                line, field, what was expected).

        Example:
            >>> import sclab
            >>> sclab.Scenario.load("sesame", population=2_000, days=5).policies
            ['sesame', 'court-defaulters']
            >>> sclab.Scenario.load("demo", overrides={"cameras.capturee": 0.1})
            ... # doctest: +ELLIPSIS
            Traceback (most recent call last):
            sclab.api.overrides.OverrideError: overrides: cameras.capturee: unknown ...
        """
        from sclab.targets import load_run_target

        given = {"population": population, "days": days, "seed": seed}
        options = {KEYWORDS[k]: v for k, v in given.items()}
        spec = load_run_target(str(name_or_path), options)
        # As given: a resume loads it again from the directory the run started in, so
        # that the policy files it names (relative or not) come out named the same.
        origin = {"target": str(name_or_path), "options": given, "steps": []}
        return cls(spec, origin).with_overrides(overrides or {})

    @property
    def name(self) -> str:
        """The scenario's name (a run's default directory is ``runs/NAME``)."""
        return self.spec.name

    @property
    def population(self) -> int:
        """The number of synthetic people."""
        return self.spec.population.size

    @property
    def days(self) -> int:
        """The number of days simulated."""
        return self.spec.days

    @property
    def seed(self) -> int:
        """The seed of every random stream."""
        return self.spec.seed

    @property
    def components(self) -> dict[str, list[str]]:
        """The enabled components by stage (``{"sensors": ["records", "cameras"], ...}``)."""
        return {
            stage: [c.use for c in getattr(self.spec, stage) if c.enabled]
            for stage in ("sources", "sensors", "behaviour", "policies")
        }

    @property
    def policies(self) -> list[str]:
        """The policy packs and files the scenario runs, in order."""
        return [str(c.params.get("pack")) for c in self.spec.policies if c.enabled]

    def with_overrides(self, overrides: Mapping[str, Any] | None = None, **fields: Any) -> Scenario:
        """A copy with fields or component parameters set (paths as in :meth:`load`;
        keywords ``population``, ``days``, ``seed``, ``name``).

        Raises:
            OverrideError: an unknown path or a refused value, naming the path.

        Example:
            >>> import sclab
            >>> s = sclab.Scenario.load("demo", population=2_000)
            >>> t = s.with_overrides({"social_graph.degree.mean": 8}, days=3)
            >>> t.spec.social_graph.degree.mean, t.days
            (8.0, 3)
        """
        paths = dict(overrides or {})
        for key, value in fields.items():
            path = {"population": "population.size"}.get(key, key)
            paths[path] = value
        spec = apply_paths(self.spec, paths)
        return Scenario(spec, _then(self.origin, ["overrides", paths]) if paths else self.origin)

    def with_policies(self, *policies: str | Path, name: str | None = None) -> Scenario:
        """The same world and seed with other policies: packs, bundles or policy files
        (and the built-in packs that publish the lists they read); none at all without
        arguments. Two runs that differ only so can be compared (:meth:`Run.compare`).

        Raises:
            SclabError: a policy that is neither a pack nor a policy file, or does not
                validate (one line from the file).

        Example:
            >>> import sclab
            >>> s = sclab.Scenario.load("demo", population=2_000)
            >>> s.with_policies("rongcheng").policies
            ['rongcheng', 'court-defaulters']
            >>> s.with_policies().policies
            []
        """
        from sclab.targets import replace_policies

        named = [str(p) for p in policies]
        return Scenario(
            replace_policies(self.spec, named, name or self.spec.name),
            _then(self.origin, ["policies", named, name]),
        )

    def to_yaml(self) -> str:
        """The scenario as a YAML document (``sclab run FILE`` runs it).

        Example:
            >>> import sclab
            >>> print(sclab.Scenario.load("demo").to_yaml().splitlines()[0])
            name: demo
        """
        import yaml

        return str(yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False))

    def run(
        self,
        out: str | Path | None = None,
        *,
        twin: str | None = None,
        replicates: int = 1,
        force: bool = False,
        check_memory: bool = True,
        observer: RunObserver | None = None,
        checkpoint_every: int | None = None,
    ) -> Run:
        """Generate the population, simulate, and write the run directory.

        Args:
            out: The run directory (default ``runs/NAME``).
            twin: Also run a twin on the same random numbers into ``OUT/twin``: ``"none"``
                (no policy), or a pack or policy file (the baseline); the effects go to
                ``OUT/effects.duckdb`` (docs/effects.md).
            replicates: Run seeds ``seed`` ... ``seed + K - 1`` into
                ``OUT/replicate-1`` ... ``OUT/replicate-K``, each with its twin.
            force: Replace an earlier run in ``out`` (only what sclab wrote).
            check_memory: Refuse a run estimated not to fit in available memory.
            observer: Progress and results as they come (default: silent).
            checkpoint_every: Write a checkpoint after every this many days, so that a
                run killed at any moment continues with :func:`resume` (one run: not
                with ``twin`` or ``replicates``).

        Returns:
            The run (with replicates: the first replicate's; its effects cover all).

        Raises:
            ScenarioError, OutputError: one line, before any work where possible.

        Example:
            >>> import sclab, tempfile
            >>> out = tempfile.mkdtemp()
            >>> run = sclab.Scenario.load("demo", population=2_000, days=5).run(
            ...     f"{out}/demo", twin="none")
            >>> run.table("citizens").num_rows, (run.directory / "twin").is_dir()
            (2000, True)
        """
        from sclab.api.runs import open_run
        from sclab.targets import twin_scenario

        if replicates < 1:
            raise ScenarioError(f"expected at least 1 (got {replicates})", field="replicates")
        if checkpoint_every is not None and (twin is not None or replicates > 1):
            raise ScenarioError(
                "checkpoints cover one run: run without --twin and --replicates, or "
                "without --checkpoint-every",
                field="checkpoint_every",
            )
        watch = observer or RunObserver()
        spec = self.spec
        target = Path(out) if out is not None else Path("runs") / spec.name
        twin_spec = twin_scenario(spec, twin) if twin is not None else None  # errors first
        if replicates > 1:
            check_replicates_dir(target, force, replicates)
        pairs: list[tuple[Path, Path]] = []
        for k in range(replicates):
            one = spec if replicates == 1 else spec.model_copy(update={"seed": spec.seed + k})
            where = target if replicates == 1 else target / f"{REPLICATE}{k + 1}"
            start = time.perf_counter()
            with watch.progress(one) as reporter:
                result = run_scenario(
                    one,
                    where,
                    force=force,
                    reporter=reporter,
                    check_memory=check_memory,
                    checkpoint_every=checkpoint_every,
                    origin=_json_or_none(self.origin),
                )
            watch.finished(result, time.perf_counter() - start, None)
            if twin_spec is None:
                continue
            twin_one = twin_spec.model_copy(update={"seed": one.seed})
            start = time.perf_counter()
            with watch.progress(one) as reporter:
                twin_result = run_scenario(
                    twin_one, where / "twin", reporter=reporter, check_memory=check_memory
                )
            manifest = Manifest.read(where)
            manifest.add_file(twin_result.out, "twin", baseline=twin)
            manifest.write()
            watch.finished(twin_result, time.perf_counter() - start, twin)
            pairs.append((where, twin_result.out))
        if pairs:
            from sclab.audit.effects import paired_effects, save_effects

            tables = paired_effects(pairs)
            path = target / EFFECTS
            save_effects(tables, path)
            if replicates == 1:
                manifest = Manifest.read(target)
                manifest.add_file(path, "effects")
                manifest.write()
            watch.effects(tables, path)
        return open_run(target)


def _then(origin: dict[str, Any] | None, step: list[Any]) -> dict[str, Any] | None:
    """``origin`` with one more step (None stays None)."""
    if origin is None:
        return None
    return {**origin, "steps": [*origin["steps"], step]}


def _json_or_none(origin: dict[str, Any] | None) -> dict[str, Any] | None:
    """``origin`` if it is made of JSON values (what a checkpoint can record), else None."""
    import json

    try:
        return None if origin is None else dict(json.loads(json.dumps(origin)))
    except (TypeError, ValueError):
        return None


def load_origin(origin: Mapping[str, Any]) -> ScenarioSpec:
    """The scenario an origin describes, loaded again now (:attr:`Scenario.origin`)."""
    options = origin.get("options") or {}
    scenario = Scenario.load(str(origin["target"]), **{k: options.get(k) for k in KEYWORDS})
    for step in origin.get("steps") or []:
        if step[0] == "overrides":
            scenario = scenario.with_overrides(step[1])
        elif step[0] == "policies":
            scenario = scenario.with_policies(*step[1], name=step[2])
    return scenario.spec


def resume(directory: str | Path, *, observer: RunObserver | None = None) -> Run:
    """Continue a run with checkpoints (``checkpoint_every``) that was stopped or killed,
    from its last complete checkpoint (``sclab resume DIR``).

    The run's tables come out identical in content to a run that was never stopped. The
    scenario is loaded again as the run loaded it, and the policies read again: the
    resume is refused if either changed, or if this is another sclab version.

    Args:
        directory: The run's directory (what ``out`` was).
        observer: Progress and results as they come (default: silent).

    Returns:
        The finished run.

    Raises:
        SclabError: nothing to resume (a finished run, no checkpoint), a damaged
            checkpoint, or a changed scenario, policy or version (one line; nothing on
            disk is changed).

    Example:
        >>> import sclab, tempfile
        >>> sclab.resume(f"{tempfile.mkdtemp()}/nothing")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        sclab.store.checkpoint.ResumeError: .../nothing: has no checkpoint to resume ...
    """
    from sclab.api.runs import open_run
    from sclab.store.checkpoint import Resumable

    target = Path(directory)
    watch = observer or RunObserver()
    try:  # the scenario for the progress display; resume_run itself checks everything
        record = Resumable(target).read_record()
        spec = None if record is None else ScenarioSpec.model_validate(record.scenario)
    except (ValueError, OSError, ScenarioError):
        spec = None
    start = time.perf_counter()
    with nullcontext(Reporter()) if spec is None else watch.progress(spec) as reporter:
        result = resume_run(target, load_again=load_origin, reporter=reporter)
    watch.finished(result, time.perf_counter() - start, None)
    return open_run(result.out)


def check_replicates_dir(target: Path, force: bool, replicates: int) -> None:
    """The directory of replicates: absent, empty, or (with ``force``) one holding only
    replicate directories and effects.duckdb; replicates beyond the K asked for (run
    directories, checked as ``force`` checks them) are removed.

    Raises:
        OutputError: anything else is in the way (nothing is removed then).
    """
    if not target.exists():
        target.mkdir(parents=True)
        return
    if not target.is_dir():
        raise OutputError("exists and is not a directory", source=str(target))
    names = [p.name for p in target.iterdir()]
    if not names:
        return
    if not force:
        raise OutputError(
            "already exists; pass --force to replace it or choose another --out",
            source=str(target),
        )
    foreign = [n for n in names if not (n.startswith(REPLICATE) or n == EFFECTS)]
    if foreign:
        raise OutputError(
            f"holds files sclab did not write ({', '.join(sorted(foreign))}); refusing to "
            "replace it",
            source=str(target),
        )
    from sclab.store.output import check_replaceable

    stale = [
        target / n
        for n in names
        if n.startswith(REPLICATE)
        and not (n.removeprefix(REPLICATE).isdigit() and int(n[len(REPLICATE) :]) <= replicates)
    ]
    for path in stale:
        check_replaceable(path, force=True)  # only a run directory sclab wrote
    for path in stale:
        shutil.rmtree(path)


def simulate(
    name_or_path: str | Path,
    *,
    population: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    twin: str | None = None,
    replicates: int = 1,
    force: bool = False,
    check_memory: bool = True,
    observer: RunObserver | None = None,
    checkpoint_every: int | None = None,
) -> Run:
    """Load a scenario (:meth:`Scenario.load`) and run it (:meth:`Scenario.run`).

    Example:
        >>> import sclab, tempfile
        >>> run = sclab.simulate("composite", population=2_000, days=5, seed=1,
        ...                      out=f"{tempfile.mkdtemp()}/composite")
        >>> run.scenario.policies
        ['court-defaulters', 'corporate', 'nanjing', 'rongcheng', 'sesame']
    """
    scenario = Scenario.load(
        name_or_path, population=population, days=days, seed=seed, overrides=overrides
    )
    return scenario.run(
        out,
        twin=twin,
        replicates=replicates,
        force=force,
        check_memory=check_memory,
        observer=observer,
        checkpoint_every=checkpoint_every,
    )
