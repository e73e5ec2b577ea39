"""National A&E benchmarking from NHS England's monthly A&E statistics.

Every month NHS England publishes each provider's A&E attendances, how many of them spent
more than four hours from arrival to admission, transfer or discharge (the *breaches* of
the four-hour standard) and its emergency admissions via A&E, by department type: type 1
(major, consultant-led, 24-hour A&E), type 2 (single-specialty, e.g. eye casualty) and
types 3 and 4 (minor injury units, walk-in centres, urgent treatment centres: "other").

This module reads those figures in the tidy form of NHS-R's ``ae_attendances`` (one row
per month, provider and type), refuses malformed rows, and computes four-hour performance
for England, a provider or a type, and a provider's place among its peers. Where the data
comes from, how it was checked against NHS England's published figures, and how an ICS
refreshes it: ``docs/oversight-national.md``.

The figures are counts for whole organisations: there is no patient-level data here.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = [
    "COLUMNS",
    "DEPARTMENT_TYPES",
    "SCHEMA",
    "DepartmentType",
    "MonthRate",
    "NationalAe",
    "PeerComparison",
    "PeriodRate",
    "ProviderRate",
    "combine",
    "four_hour_performance",
    "peer_comparison",
    "peer_series",
    "read_ae_attendances",
    "read_national",
    "write_national",
]

#: A&E department type as the tidy file codes it; "other" is types 3 and 4 together.
DepartmentType = Literal["1", "2", "other"]
DEPARTMENT_TYPES: Final[tuple[DepartmentType, ...]] = ("1", "2", "other")

#: One row per month, provider (ODS code) and department type.
SCHEMA: Final = pa.schema(
    [
        pa.field("period", pa.date32(), nullable=False),
        pa.field("org_code", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("attendances", pa.int64(), nullable=False),
        pa.field("breaches", pa.int64(), nullable=False),
        pa.field("admissions", pa.int64(), nullable=False),
    ]
)
COLUMNS: Final[tuple[str, ...]] = tuple(SCHEMA.names)
_COUNTS: Final = ("attendances", "breaches", "admissions")
_KEY: Final = ("period", "org_code", "type")

# NHS trusts have 3-character ODS codes, sites and independent-sector providers 5, GP
# practices and the "Y" codes of other care providers 6: the national file has all four.
_ODS_CODE: Final = r"[A-Z0-9]{3,6}"
_MONTH: Final = re.compile(r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?")
_WHOLE_NUMBER: Final = re.compile(r"[0-9]+")


# ---------------------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NationalAe:
    """NHS England's monthly A&E figures by provider and type, checked.

    ``table`` is a pyarrow Table with exactly the columns of :data:`SCHEMA`; it is checked
    on construction (no missing values, months as their first day, ODS codes, department
    types, counts ≥ 0, breaches ≤ attendances, one row per month, provider and type), so
    a value of this class is always usable. Emergency admissions are not compared with
    attendances: NHS England's returns have rows with more (RTX's type 2 department in
    October 2018: 74 attendances, 92 admissions).
    """

    table: Any  # pyarrow.Table

    def __post_init__(self) -> None:
        _check_table(self.table)

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @property
    def months(self) -> tuple[date, ...]:
        """The months the data covers, earliest first."""
        return tuple(sorted(pc.unique(self.table["period"]).to_pylist()))

    @property
    def providers(self) -> tuple[str, ...]:
        """Every provider's ODS code, in order."""
        return tuple(sorted(pc.unique(self.table["org_code"]).to_pylist()))


def read_ae_attendances(path: str | os.PathLike[str]) -> NationalAe:
    """Read and check a tidy A&E CSV (``period, org_code, type, attendances, breaches, admissions``).

    ``period`` is a month (``2019-03-01`` or ``2019-03``), ``org_code`` the provider's ODS
    code, ``type`` ``1``, ``2`` or ``other``, and the counts whole numbers. A bad value is
    refused with a ValueError naming the file, its line and its column.
    """
    path = Path(path)
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    first_line: dict[tuple[date, str, str], int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(
                f"{path.name}: the file is empty; expected the header {', '.join(COLUMNS)}"
            )
        position = _header_positions([name.strip() for name in header], where=f"{path.name} line 1")
        for values in reader:
            if not values:
                continue  # a blank line
            where = f"{path.name} line {reader.line_num}"
            if len(values) != len(header):
                raise ValueError(f"{where}: {len(values)} values, expected {len(header)}")
            row = _parse_row({name: values[i].strip() for name, i in position.items()}, where=where)
            key = (row[0], row[1], row[2])
            if key in first_line:
                raise ValueError(
                    f"{where}: a second row for {row[1]} type {row[2]} in {row[0]:%Y-%m} "
                    f"(the first is on line {first_line[key]})"
                )
            first_line[key] = reader.line_num
            for name, value in zip(COLUMNS, row, strict=True):
                columns[name].append(value)
    if not first_line:
        raise ValueError(f"{path.name}: no rows after the header")
    table = pa.table(columns, schema=SCHEMA).sort_by([(name, "ascending") for name in _KEY])
    return NationalAe(table)


def write_national(data: NationalAe, path_out: str | os.PathLike[str]) -> Path:
    """Write the figures as Parquet at ``path_out`` (whole or not at all); return the path."""
    path = Path(path_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and moved into place, so a reader never sees half a file.
    partial = path.with_name(path.name + ".partial")
    pq.write_table(data.table, partial)
    os.replace(partial, path)
    return path


def read_national(path: str | os.PathLike[str]) -> NationalAe:
    """Read figures written by :func:`write_national`, checked as on first reading."""
    table = pq.read_table(Path(path))
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise ValueError(f"{Path(path).name}: no column {', '.join(missing)}")
    return NationalAe(table.select(list(COLUMNS)))


# ---------------------------------------------------------------------------------------
# Four-hour performance
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthRate:
    """A month's attendances and how many left A&E within four hours of arriving."""

    month: date
    attendances: int
    within_4_hours: int

    def __post_init__(self) -> None:
        if self.month.day != 1:
            raise ValueError(f"a month is given by its first day, not {self.month}")
        _check_rate(self.attendances, self.within_4_hours)

    @property
    def breaches(self) -> int:
        """Attendances that spent more than four hours in A&E."""
        return self.attendances - self.within_4_hours

    @property
    def share(self) -> float:
        """The four-hour performance: the share (0 to 1) within four hours."""
        return self.within_4_hours / self.attendances


@dataclass(frozen=True, slots=True)
class PeriodRate:
    """Four-hour performance over consecutive months (a quarter, a year, a winter)."""

    first_month: date
    last_month: date
    months: int
    attendances: int
    within_4_hours: int

    def __post_init__(self) -> None:
        if self.last_month < self.first_month or self.months < 1:
            raise ValueError(f"no months from {self.first_month} to {self.last_month}")
        _check_rate(self.attendances, self.within_4_hours)

    @property
    def breaches(self) -> int:
        """Attendances that spent more than four hours in A&E."""
        return self.attendances - self.within_4_hours

    @property
    def share(self) -> float:
        """The four-hour performance: the share (0 to 1) within four hours."""
        return self.within_4_hours / self.attendances


def four_hour_performance(
    data: NationalAe, *, org: str | None = None, type: DepartmentType | None = None
) -> list[MonthRate]:
    """Four-hour performance month by month, earliest first.

    All providers (England) unless ``org`` names one; all department types unless ``type``
    picks one (NHS England's headline figure is all types). A month in which the selection
    has no attendances is left out.
    """
    table = _select(data, org=org, type=type)
    grouped = table.group_by("period").aggregate([("attendances", "sum"), ("breaches", "sum")])
    grouped = grouped.sort_by("period")
    return [
        MonthRate(month=month, attendances=attendances, within_4_hours=attendances - breaches)
        for month, attendances, breaches in zip(
            grouped["period"].to_pylist(),
            grouped["attendances_sum"].to_pylist(),
            grouped["breaches_sum"].to_pylist(),
            strict=True,
        )
        if attendances > 0
    ]


def combine(rates: Iterable[MonthRate]) -> PeriodRate:
    """Several months' performance as one figure: attendances and breaches are summed.

    The months must be consecutive and each appear once (a quarter is three months in a
    row), so a gap in the data is not silently averaged over.
    """
    ordered = sorted(rates, key=lambda rate: rate.month)
    if not ordered:
        raise ValueError("no months to combine")
    for before, after in itertools.pairwise(ordered):
        if _next_month(before.month) != after.month:
            raise ValueError(
                f"the months are not consecutive: {before.month:%Y-%m}, {after.month:%Y-%m}"
            )
    return PeriodRate(
        first_month=ordered[0].month,
        last_month=ordered[-1].month,
        months=len(ordered),
        attendances=sum(rate.attendances for rate in ordered),
        within_4_hours=sum(rate.within_4_hours for rate in ordered),
    )


# ---------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderRate:
    """One provider's attendances and four-hour performance in a month."""

    org: str
    attendances: int
    within_4_hours: int

    def __post_init__(self) -> None:
        _check_rate(self.attendances, self.within_4_hours)

    @property
    def breaches(self) -> int:
        """Attendances that spent more than four hours in A&E."""
        return self.attendances - self.within_4_hours

    @property
    def share(self) -> float:
        """The four-hour performance: the share (0 to 1) within four hours."""
        return self.within_4_hours / self.attendances


@dataclass(frozen=True, slots=True)
class PeerComparison:
    """A provider against its peers and England in one month.

    ``peers`` are the providers with a department of the same type that month (for
    ``type=None``, the providers with a type 1 department, compared on all their types,
    as NHS England's trust tables are), best first, the provider among them. ``england``
    is every provider's attendances of that type, peers or not.
    """

    month: date
    type: DepartmentType | None
    provider: ProviderRate
    peers: tuple[ProviderRate, ...]
    england: MonthRate

    def __post_init__(self) -> None:
        if self.provider not in self.peers:
            raise ValueError(f"{self.provider.org} is not among its own peers")

    @property
    def rank(self) -> int:
        """The provider's place among its peers, 1 the best; equal shares share a place."""
        return 1 + sum(1 for peer in self.peers if peer.share > self.provider.share)

    @property
    def lower_quartile(self) -> float:
        """The peers' lower quartile share."""
        return self._quartiles()[0]

    @property
    def median(self) -> float:
        """The peers' median share."""
        return self._quartiles()[1]

    @property
    def upper_quartile(self) -> float:
        """The peers' upper quartile share."""
        return self._quartiles()[2]

    def _quartiles(self) -> tuple[float, float, float]:
        shares = [peer.share for peer in self.peers]
        if len(shares) == 1:
            return (shares[0], shares[0], shares[0])
        # "inclusive" is R's default quantile (type 7) and Excel's QUARTILE.INC.
        lower, middle, upper = statistics.quantiles(shares, n=4, method="inclusive")
        return (lower, middle, upper)


def peer_comparison(
    data: NationalAe, org: str, *, type: DepartmentType | None = "1", month: date
) -> PeerComparison:
    """How ``org`` compares with its peers and England in ``month`` (any day of it).

    Peers are the providers with a department of ``type`` that month; ``org`` must be one.
    """
    wanted = month.replace(day=1)
    if wanted not in data.months:
        raise ValueError(f"no figures for {wanted:%Y-%m}; the data covers {_coverage(data)}")
    _check_org(data, org)
    for comparison in _comparisons(data, org, type=type, months={wanted}):
        return comparison
    raise ValueError(
        f"{org} has no {_describe(type)} department in {wanted:%Y-%m}, so it has no peers there"
    )


def peer_series(
    data: NationalAe, org: str, *, type: DepartmentType | None = "1"
) -> list[PeerComparison]:
    """:func:`peer_comparison` for every month in which ``org`` has such a department.

    Gives the series a chart draws: the provider's share, its peers' median and quartiles,
    and England's, month by month.
    """
    _check_org(data, org)
    return _comparisons(data, org, type=type, months=None)


# ---------------------------------------------------------------------------------------
# Machinery
# ---------------------------------------------------------------------------------------


def _comparisons(
    data: NationalAe, org: str, *, type: DepartmentType | None, months: set[date] | None
) -> list[PeerComparison]:
    measured = _select(data, org=None, type=type)
    # A peer has a department of the type (a type 1 department when comparing all types).
    qualifying = _select(data, org=None, type="1" if type is None else type)
    qualifying = qualifying.filter(pc.greater(qualifying["attendances"], 0))
    has_department = set(
        zip(qualifying["period"].to_pylist(), qualifying["org_code"].to_pylist(), strict=True)
    )
    by_provider = measured.group_by(["period", "org_code"]).aggregate(
        [("attendances", "sum"), ("breaches", "sum")]
    )
    peers: dict[date, list[ProviderRate]] = {}
    for month, code, attendances, breaches in zip(
        by_provider["period"].to_pylist(),
        by_provider["org_code"].to_pylist(),
        by_provider["attendances_sum"].to_pylist(),
        by_provider["breaches_sum"].to_pylist(),
        strict=True,
    ):
        if (month, code) in has_department and (months is None or month in months):
            rate = ProviderRate(
                org=code, attendances=attendances, within_4_hours=attendances - breaches
            )
            peers.setdefault(month, []).append(rate)
    england = {rate.month: rate for rate in four_hour_performance(data, type=type)}
    comparisons = []
    for month in sorted(peers):
        ranked = tuple(sorted(peers[month], key=lambda peer: (-peer.share, peer.org)))
        provider = next((peer for peer in ranked if peer.org == org), None)
        if provider is not None:
            comparisons.append(
                PeerComparison(
                    month=month, type=type, provider=provider, peers=ranked, england=england[month]
                )
            )
    return comparisons


def _select(data: NationalAe, *, org: str | None, type: DepartmentType | None) -> Any:
    table = data.table
    if type is not None:
        if type not in DEPARTMENT_TYPES:
            raise ValueError(f"{type!r} is not a department type: 1, 2 or other")
        table = table.filter(pc.equal(table["type"], type))
    if org is not None:
        _check_org(data, org)
        table = table.filter(pc.equal(table["org_code"], org))
    return table


def _check_org(data: NationalAe, org: str) -> None:
    if org not in data.providers:
        raise ValueError(f"{org!r} is not a provider in the national A&E figures")


def _header_positions(names: list[str], *, where: str) -> dict[str, int]:
    missing = [name for name in COLUMNS if name not in names]
    unexpected = [name for name in names if name not in COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"no column {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected column {', '.join(repr(name) for name in unexpected)}")
    if repeated:
        problems.append(f"column {', '.join(repeated)} more than once")
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}; expected {', '.join(COLUMNS)}")
    return {name: names.index(name) for name in COLUMNS}


def _parse_row(cell: dict[str, str], *, where: str) -> tuple[date, str, str, int, int, int]:
    month = _parse_month(cell["period"], where=f"{where}, column 'period'")
    org = cell["org_code"]
    if not re.fullmatch(_ODS_CODE, org):
        raise ValueError(
            f"{where}, column 'org_code': {org!r} is not an ODS code (3 to 6 capital letters and digits, e.g. REF)"
        )
    kind = cell["type"]
    if kind not in DEPARTMENT_TYPES:
        raise ValueError(
            f"{where}, column 'type': {kind!r} is not a department type: 1, 2 or other (types 3 and 4 are other)"
        )
    attendances, breaches, admissions = (
        _parse_count(cell[name], where=f"{where}, column {name!r}") for name in _COUNTS
    )
    if breaches > attendances:
        raise ValueError(
            f"{where}, column 'breaches': {breaches} breaches is more than the {attendances} attendances"
        )
    return (month, org, kind, attendances, breaches, admissions)


def _parse_month(text: str, *, where: str) -> date:
    match = _MONTH.fullmatch(text)
    problem = f"{where}: {text!r} is not a month (write 2019-03-01 or 2019-03)"
    if match is None:
        raise ValueError(problem)
    year, month, day = match.groups()
    if day is not None and day != "01":
        raise ValueError(f"{where}: {text!r} is not the first day of a month")
    try:
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(problem) from None


def _parse_count(text: str, *, where: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(f"{where}: {text!r} is not a whole number of 0 or more")
    return int(text)


def _check_table(table: Any) -> None:
    if not isinstance(table, pa.Table):
        raise TypeError(f"expected a pyarrow Table, not {type(table).__name__}")
    found = [(field.name, field.type) for field in table.schema]
    if found != [(field.name, field.type) for field in SCHEMA]:
        described = ", ".join(f"{name} {kind}" for name, kind in found)
        raise ValueError(
            f"the columns are {described}; expected {', '.join(f'{f.name} {f.type}' for f in SCHEMA)}"
        )
    if table.num_rows == 0:
        raise ValueError("the national A&E figures have no rows")
    for name in COLUMNS:
        if table[name].null_count:
            _refuse(table, pc.is_null(table[name]), name, "no value")
    checks = [
        ("period", pc.not_equal(pc.day(table["period"]), 1), "not the first day of a month"),
        (
            "org_code",
            pc.invert(pc.match_substring_regex(table["org_code"], f"^{_ODS_CODE}$")),
            "not an ODS code",
        ),
        (
            "type",
            pc.invert(pc.is_in(table["type"], value_set=pa.array(DEPARTMENT_TYPES))),
            "not 1, 2 or other",
        ),
        *((name, pc.less(table[name], 0), "less than 0") for name in _COUNTS),
        (
            "breaches",
            pc.greater(table["breaches"], table["attendances"]),
            "more than the attendances",
        ),
    ]
    for name, bad, problem in checks:
        if pc.any(bad).as_py():
            _refuse(table, bad, name, problem)
    keys = table.group_by(list(_KEY)).aggregate([])
    if keys.num_rows != table.num_rows:
        seen: dict[tuple[date, str, str], int] = {}
        rows = zip(*(table[name].to_pylist() for name in _KEY), strict=True)
        for index, key in enumerate(rows):
            if key in seen:
                raise ValueError(
                    f"row {index + 1}: a second row for {key[1]} type {key[2]} in {key[0]:%Y-%m} "
                    f"(the first is row {seen[key] + 1})"
                )
            seen[key] = index


def _refuse(table: Any, bad: Any, column: str, problem: str) -> None:
    index = int(pc.indices_nonzero(pc.fill_null(bad, True))[0].as_py())
    value = table[column][index].as_py()
    raise ValueError(f"row {index + 1}, column {column!r}: {value!r} is {problem}")


def _check_rate(attendances: int, within_4_hours: int) -> None:
    if attendances < 1:
        raise ValueError(f"a rate needs at least one attendance, not {attendances}")
    if not 0 <= within_4_hours <= attendances:
        raise ValueError(f"{within_4_hours} within four hours of {attendances} attendances")


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _coverage(data: NationalAe) -> str:
    months = data.months
    return f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}"


def _describe(type: DepartmentType | None) -> str:
    return "type 1" if type is None else f"type {type}"
