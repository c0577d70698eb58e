"""The published figures a run is compared with, as data (``figures.yaml``).

Core objects:
    :class:`Figure`: one published figure: value, unit, date, the population it describes,
        its source, its role (calibration or validation) and how its simulated
        counterpart is computed (:class:`Comparison`: a metric and a :data:`Scaling`).
    :func:`load_figures`: the figures of the package's ``figures.yaml`` (or another file
        of the same form), validated.

The figures are kept apart by role: *calibration* figures are the ones the model's
defaults were tuned to, *validation* figures are ones nothing was tuned to. A table of
the first shows that the tuning still holds; only the second tests the model.
*Informational* rows name a metric worth showing beside them for which no figure was
published (no value, no population): the run's number alone, compared with nothing.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sclab.errors import SclabError
from sclab.yamlfile import dotted, read_yaml, validate

#: How a run's number is carried over to the population and period a figure describes:
#:
#: - ``per_capita``: a stock; x (figure's population / run's population).
#: - ``per_capita_period``: a flow over the run; x (figure's population / run's
#:   population) x (figure's period in days / run's days).
#: - ``per_unit_period``: the metric is already per unit per day (per camera-day); x the
#:   figure's units (``population.size``) x its period in days.
#: - ``as_is``: a share or rate compared as it is.
Scaling = Literal["per_capita", "per_capita_period", "per_unit_period", "as_is"]

Role = Literal["calibration", "validation", "informational"]

#: The default band of simulated / published that counts as a match. Assumption: a factor
#: of two, since national figures describe all of China while a run is one synthetic city,
#: and published counts are rounded with loose definitions.
DEFAULT_TOLERANCE = (0.5, 2.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DescribedPopulation(_Strict):
    """Whom or what a figure counts among (China's residents, a city's cameras)."""

    description: str = Field(min_length=1)
    size: float = Field(gt=0, description="Its size, for scaling.")
    unit: str = "people"
    source: str | None = Field(None, description="Where the size comes from.")


class Source(_Strict):
    """Where a figure was published."""

    publication: str = Field(min_length=1)
    date: dt.date
    url: str | None = None


class Period(_Strict):
    """The days a flow was counted over (both included)."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Comparison(_Strict):
    """How the simulated counterpart is computed: a metric, then a scaling rule."""

    metric: str = Field(min_length=1, description="A name in sclab.calibration.metrics.")
    scaling: Scaling


class Figure(_Strict):
    """One published figure and its simulated counterpart."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = Field(min_length=1)
    value: float | None = Field(None, gt=0, description="None only for informational rows.")
    unit: str = Field(min_length=1)
    date: dt.date
    period: Period | None = Field(None, description="For a flow: the days it covers.")
    population: DescribedPopulation | None = Field(
        None, description="Whom the figure counts among (None only for informational rows)."
    )
    source: Source
    role: Role
    compare: Comparison
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Figure:
        low, high = self.tolerance
        if not 0 < low <= 1 <= high:
            raise ValueError(
                f"tolerance must be [low, high] with 0 < low <= 1 <= high, got {[low, high]}"
            )
        if self.compare.scaling.endswith("_period") and self.period is None:
            raise ValueError(f"scaling '{self.compare.scaling}' needs a period (start, end)")
        if self.role == "informational":
            if self.value is not None or self.compare.scaling != "as_is":
                raise ValueError("an informational row has no published value and compares as_is")
        elif self.value is None or self.population is None:
            raise ValueError(f"a {self.role} figure needs its published value and population")
        return self


class FigureFile(_Strict):
    figures: list[Figure] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FigureFile:
        seen: set[str] = set()
        for f in self.figures:
            if f.id in seen:
                raise ValueError(f"figure id '{f.id}' is used twice")
            seen.add(f.id)
        return self


def package_figures_path() -> Path:
    """The package's ``figures.yaml``."""
    return Path(str(resources.files("sclab.calibration").joinpath("figures.yaml")))


def load_figures(path: Path | None = None) -> list[Figure]:
    """The figures of ``path`` (default: the package's ``figures.yaml``), validated.

    Raises:
        SclabError: the file is not valid (one line: file, line, field, what was expected),
            or names a metric that does not exist.
    """
    from sclab.calibration.metrics import METRICS

    path = path or package_figures_path()
    doc = read_yaml(path)
    figures = validate(doc, FigureFile).figures
    for i, f in enumerate(figures):
        if f.compare.metric not in METRICS:
            loc = ("figures", i, "compare", "metric")
            raise SclabError(
                f"unknown metric '{f.compare.metric}' (known: {', '.join(sorted(METRICS))})",
                source=str(path),
                line=doc.line_of(loc),
                field=dotted(loc),
            )
    return figures
