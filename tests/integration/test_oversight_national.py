"""National A&E benchmarking: reading NHS England's monthly A&E figures, and checking them.

Two kinds of data: small CSVs built in ``tmp_path`` (parsing, refusals, peers with known
answers), and NHS-R's ``ae_attendances`` (third-party, read from ``../shared``, never
copied): NHS England's figures for April 2016 to March 2019, which must reproduce the
England figures NHS England published. Each published figure below names where it was
published; docs/oversight-national.md has the same table and what the differences mean.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import joinedup.oversight.national as national
from joinedup.oversight.national import (
    MonthRate,
    NationalAe,
    combine,
    four_hour_performance,
    peer_comparison,
    peer_series,
    read_ae_attendances,
    read_national,
    write_national,
)

HEADER = "period,org_code,type,attendances,breaches,admissions"


def _csv(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "ae.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _percent(share: float) -> float:
    return 100 * share


# ---------------------------------------------------------------------------------------
# Reading and refusing (small files)
# ---------------------------------------------------------------------------------------


def test_reads_a_tidy_csv_into_a_typed_sorted_table(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "2019-03-01,REF,other,10770,72,39",
        "2019-02,REF,1,5928,1603,2382",
        "2019-03-01,REF,1,6565,1684,2611",
    )
    data = read_ae_attendances(path)
    assert len(data) == 3
    assert data.months == (date(2019, 2, 1), date(2019, 3, 1))
    assert data.providers == ("REF",)
    assert data.table.schema.equals(national.SCHEMA)
    assert data.table.to_pylist()[0] == {
        "period": date(2019, 2, 1),
        "org_code": "REF",
        "type": "1",
        "attendances": 5928,
        "breaches": 1603,
        "admissions": 2382,
    }


def test_columns_may_come_in_any_order_and_admissions_may_exceed_attendances(
    tmp_path: Path,
) -> None:
    # NHS England's real returns have such a row (RTX, type 2, October 2018: 74 and 92).
    path = _csv(
        tmp_path,
        "92,RTX,2,0,74,2018-10-01",
        header="admissions,org_code,type,breaches,attendances,period",
    )
    (row,) = read_ae_attendances(path).table.to_pylist()
    assert (row["attendances"], row["breaches"], row["admissions"]) == (74, 0, 92)


GOOD_LINE = "2019-03-01,REF,1,6565,1684,2611"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2019-13-01,REF,1,10,1,0", r"line 3, column 'period': '2019-13-01' is not a month"),
        (
            "2019-03-15,REF,1,10,1,0",
            r"line 3, column 'period': '2019-03-15' is not the first day of a month",
        ),
        ("March 2019,REF,1,10,1,0", r"line 3, column 'period': 'March 2019' is not a month"),
        ("2019-02-01,ref,1,10,1,0", r"line 3, column 'org_code': 'ref' is not an ODS code"),
        ("2019-02-01,,1,10,1,0", r"line 3, column 'org_code': '' is not an ODS code"),
        (
            "2019-02-01,REF,3,10,1,0",
            r"line 3, column 'type': '3' is not a department type: 1, 2 or other",
        ),
        ("2019-02-01,REF,1,-5,1,0", r"line 3, column 'attendances': '-5' is not a whole number"),
        (
            "2019-02-01,REF,1,12.0,1,0",
            r"line 3, column 'attendances': '12.0' is not a whole number",
        ),
        ("2019-02-01,REF,1,10,x,0", r"line 3, column 'breaches': 'x' is not a whole number"),
        (
            "2019-02-01,REF,1,10,11,0",
            r"line 3, column 'breaches': 11 breaches is more than the 10 attendances",
        ),
        ("2019-02-01,REF,1,10,1,", r"line 3, column 'admissions': '' is not a whole number"),
        ("2019-02-01,REF,1,10,1", r"line 3: 5 values, expected 6"),
        (GOOD_LINE, r"line 3: a second row for REF type 1 in 2019-03 \(the first is on line 2\)"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line_and_column(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(ValueError, match=rf"^ae\.csv {message}"):
        read_ae_attendances(_csv(tmp_path, GOOD_LINE, line))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("period,org_code,type,attendances,admissions", r"line 1: no column breaches"),
        (HEADER + ",region", r"line 1: unexpected column 'region'"),
        (HEADER + ",type", r"line 1: column type more than once"),
    ],
)
def test_a_bad_header_is_refused(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^ae\.csv {message}"):
        read_ae_attendances(_csv(tmp_path, GOOD_LINE, header=header))


def test_an_empty_file_or_one_without_rows_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        read_ae_attendances(empty)
    with pytest.raises(ValueError, match=r"ae\.csv: no rows after the header"):
        read_ae_attendances(_csv(tmp_path))


def test_a_table_is_checked_too_naming_its_row_and_column(tmp_path: Path) -> None:
    table = read_ae_attendances(_csv(tmp_path, GOOD_LINE, "2019-02-01,REF,1,10,1,0")).table
    breaches = table.column("breaches").to_pylist()
    breaches[1] = 7000  # row 2 is March: 6,565 attendances
    bad = table.set_column(4, "breaches", pa.array(breaches, pa.int64()))
    with pytest.raises(
        ValueError, match=r"row 2, column 'breaches': 7000 is more than the attendances"
    ):
        NationalAe(bad)
    doubled = pa.concat_tables([table, table.slice(0, 1)])
    with pytest.raises(
        ValueError, match=r"row 3: a second row for REF type 1 in 2019-02 \(the first is row 1\)"
    ):
        NationalAe(doubled)
    with pytest.raises(ValueError, match="the columns are period date32"):
        NationalAe(table.drop_columns(["admissions"]))
    with pytest.raises(TypeError, match="expected a pyarrow Table"):
        NationalAe(table.to_pylist())


def test_written_as_parquet_and_read_back_unchanged(tmp_path: Path) -> None:
    data = read_ae_attendances(_csv(tmp_path, GOOD_LINE, "2019-03-01,REF,other,10770,72,39"))
    path = write_national(data, tmp_path / "lake" / "national_ae.parquet")
    assert path.is_file() and not list(path.parent.glob("*.partial"))
    assert read_national(path).table.equals(data.table)
    pq.write_table(data.table.drop_columns(["type"]), tmp_path / "broken.parquet")
    with pytest.raises(ValueError, match=r"broken\.parquet: no column type"):
        read_national(tmp_path / "broken.parquet")


def test_rates_validate_themselves() -> None:
    with pytest.raises(ValueError, match="first day"):
        MonthRate(month=date(2019, 3, 2), attendances=10, within_4_hours=9)
    with pytest.raises(ValueError, match="11 within four hours of 10 attendances"):
        MonthRate(month=date(2019, 3, 1), attendances=10, within_4_hours=11)
    with pytest.raises(ValueError, match="at least one attendance"):
        MonthRate(month=date(2019, 3, 1), attendances=0, within_4_hours=0)
    rates = [MonthRate(month=date(2019, m, 1), attendances=100, within_4_hours=90) for m in (1, 3)]
    with pytest.raises(ValueError, match="not consecutive: 2019-01, 2019-03"):
        combine(rates)


def test_the_public_surface_is_declared() -> None:
    assert all(hasattr(national, name) for name in national.__all__)


# ---------------------------------------------------------------------------------------
# Peers with known answers (a small file)
# ---------------------------------------------------------------------------------------


@pytest.fixture
def five_providers(tmp_path: Path) -> NationalAe:
    """Four providers with a type 1 department (one tie) and one with a minor injury unit only."""
    return read_ae_attendances(
        _csv(
            tmp_path,
            "2019-03-01,RAA,1,100,10,30",  # 90%
            "2019-03-01,RAA,other,50,0,0",
            "2019-03-01,RBB,1,200,40,60",  # 80%
            "2019-03-01,RCC,1,100,5,20",  # 95%
            "2019-03-01,RDD,other,300,0,0",  # no type 1 department: nobody's peer
            "2019-03-01,REE,1,100,20,25",  # 80%
        )
    )


def test_peers_are_the_providers_with_the_same_type_of_department(
    five_providers: NationalAe,
) -> None:
    result = peer_comparison(five_providers, "RBB", month=date(2019, 3, 31))
    assert result.month == date(2019, 3, 1)
    assert [peer.org for peer in result.peers] == ["RCC", "RAA", "RBB", "REE"]
    assert result.rank == 3  # tied with REE at 80%: both third
    assert peer_comparison(five_providers, "REE", month=date(2019, 3, 1)).rank == 3
    # R's default quantile (type 7), Excel's QUARTILE.INC: 80, 80, 90, 95 -> 80, 85, 91.25.
    assert result.lower_quartile == pytest.approx(0.80)
    assert result.median == pytest.approx(0.85)
    assert result.upper_quartile == pytest.approx(0.9125)
    assert (result.england.attendances, result.england.within_4_hours) == (500, 425)
    with pytest.raises(ValueError, match="RDD has no type 1 department in 2019-03"):
        peer_comparison(five_providers, "RDD", month=date(2019, 3, 1))


def test_all_types_compares_providers_with_a_type_1_department(five_providers: NationalAe) -> None:
    result = peer_comparison(five_providers, "RAA", type=None, month=date(2019, 3, 1))
    assert [peer.org for peer in result.peers] == ["RCC", "RAA", "RBB", "REE"]
    assert (result.provider.attendances, result.provider.within_4_hours) == (150, 140)
    assert result.rank == 2
    # England counts every provider, the minor injury unit too.
    assert (result.england.attendances, result.england.within_4_hours) == (850, 775)


def test_peer_questions_about_unknown_things_are_refused(five_providers: NationalAe) -> None:
    with pytest.raises(ValueError, match="'RZZ' is not a provider"):
        peer_comparison(five_providers, "RZZ", month=date(2019, 3, 1))
    with pytest.raises(
        ValueError, match="no figures for 2019-04; the data covers 2019-03 to 2019-03"
    ):
        peer_comparison(five_providers, "RAA", month=date(2019, 4, 1))
    with pytest.raises(ValueError, match="'3' is not a department type"):
        four_hour_performance(five_providers, type="3")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# NHS England's figures, April 2016 to March 2019 (../shared)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ae_file(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "nhsr" / "ae_attendances.csv"
    if not path.is_file():
        pytest.skip(f"{path} (NHS-R's ae_attendances, third-party) is not in ../shared")
    return path


@pytest.fixture(scope="module")
def england_ae(ae_file: Path) -> NationalAe:
    return read_ae_attendances(ae_file)


def _england(
    data: NationalAe, first: date, last: date, type: national.DepartmentType | None
) -> float:
    """England's four-hour performance (%) from ``first`` to ``last`` (months), summed."""
    rates = [r for r in four_hour_performance(data, type=type) if first <= r.month <= last]
    return _percent(combine(rates).share)


@pytest.mark.shared
def test_the_file_is_what_nhs_r_describes(england_ae: NationalAe, ae_file: Path) -> None:
    assert len(england_ae) == 12_765
    assert england_ae.months[0] == date(2016, 4, 1) and england_ae.months[-1] == date(2019, 3, 1)
    assert len(england_ae.months) == 36
    assert len(england_ae.providers) == 274
    with ae_file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["type"] for row in rows} == {"1", "2", "other"}
    assert {row["type"] for row in rows if row["org_code"] == "REF"} == {"1", "other"}
    # Read independently with the csv module: the same totals.
    assert sum(int(row["attendances"]) for row in rows) == sum(
        england_ae.table["attendances"].to_pylist()
    )


@pytest.mark.shared
def test_royal_cornwall_month_by_month(england_ae: NationalAe) -> None:
    """REF's rows for March 2017: type 1 6,059 attendances and 1,664 breaches; other 1,521 and 25."""
    type_1 = {r.month: r for r in four_hour_performance(england_ae, org="REF", type="1")}
    every_type = {r.month: r for r in four_hour_performance(england_ae, org="REF")}
    assert len(type_1) == len(every_type) == 36
    march = date(2017, 3, 1)
    assert (type_1[march].attendances, type_1[march].within_4_hours) == (6_059, 6_059 - 1_664)
    assert (every_type[march].attendances, every_type[march].breaches) == (
        6_059 + 1_521,
        1_664 + 25,
    )
    assert _percent(type_1[march].share) == pytest.approx(72.537, abs=0.001)
    assert four_hour_performance(england_ae, org="REF", type="2") == []


@pytest.mark.shared
def test_england_month_by_month(england_ae: NationalAe) -> None:
    rates = four_hour_performance(england_ae)
    assert [r.month for r in rates] == list(england_ae.months)
    march_2019 = rates[-1]
    assert (march_2019.attendances, march_2019.breaches) == (2_167_550, 290_359)
    assert march_2019.within_4_hours == 1_877_191


# Published England figures, % within four hours, to the precision published: (label,
# first month, last month, type or None for all types, published %, decimals, source).
# Monthly figures as NHS England first published them unless the source says otherwise.
PUBLISHED = [
    ("Oct 2016", date(2016, 10, 1), date(2016, 10, 1), None, 89.1, 1,
     "NHS Providers, 'How prepared is the sector heading into winter' (Nov 2017), https://nhsproviders.org/ready-and-resilient/how-prepared-is-the-sector-heading-into-winter"),
    ("Nov 2016", date(2016, 11, 1), date(2016, 11, 1), None, 88.4, 1,
     "ITV News, 12 Jan 2017, https://www.itv.com/news/2017-01-12/a-e-departments-failing-to-hit-waiting-time-targets/"),
    ("Dec 2016", date(2016, 12, 1), date(2016, 12, 1), None, 86.2, 1,
     "HuffPost UK (PA), Jan 2018, http://www.huffingtonpost.co.uk/entry/ae-waiting-times_uk_5a572baee4b0a300f905f889"),
    ("Jan 2017", date(2017, 1, 1), date(2017, 1, 1), None, 85.1, 1,
     "HuffPost UK (PA), Jan 2018, http://www.huffingtonpost.co.uk/entry/ae-waiting-times_uk_5a572baee4b0a300f905f889"),
    ("Mar 2017", date(2017, 3, 1), date(2017, 3, 1), None, 90, 0,
     "HSJ, 12 Apr 2018 ('In March 2017, performance overall was 90 per cent'), https://www.hsj.co.uk/story.aspx?storyCode=7022147"),
    ("Sep 2017", date(2017, 9, 1), date(2017, 9, 1), None, 89.7, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
    ("Jan 2018", date(2018, 1, 1), date(2018, 1, 1), None, 85.3, 1,
     "HuffPost UK (PA), 8 Feb 2018, http://www.huffingtonpost.co.uk/entry/nhs-figures_uk_5a7c20f9e4b044b38219961d"),
    ("Feb 2018", date(2018, 2, 1), date(2018, 2, 1), None, 85, 0,
     "HSJ, 12 Apr 2018 ('the previous low of 85 per cent recorded in February'), https://www.hsj.co.uk/story.aspx?storyCode=7022147"),
    ("Mar 2018", date(2018, 3, 1), date(2018, 3, 1), None, 84.6, 1,
     "Royal College of Surgeons, 12 Apr 2018, https://www.rcseng.ac.uk/news-and-events/media-centre/press-releases/nhs-performance-march-and-feb-2018/"),
    ("Jun 2018", date(2018, 6, 1), date(2018, 6, 1), None, 90.8, 1,
     "Sky News via gnl.fm, 11 Jul 2019 (June 2018 as published a year later), http://gnl.fm/2019/07/11/ae-waiting-times-in-england-record-worst-june-on-record/"),
    ("Jul 2018", date(2018, 7, 1), date(2018, 7, 1), None, 89.3, 1,
     "HuffPost UK (PA), 9 Aug 2018, https://www.huffingtonpost.co.uk/entry/record-217-million-ae-attendances_uk_5b6c25a9e4b0bdd06206b8db"),
    ("Aug 2018", date(2018, 8, 1), date(2018, 8, 1), None, 89.7, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
    ("Sep 2018", date(2018, 9, 1), date(2018, 9, 1), None, 88.9, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
    ("Jan 2019", date(2019, 1, 1), date(2019, 1, 1), None, 84.4, 1,
     "HEFMA (NHS Confederation summary), 14 Feb 2019, https://www.hefma.co.uk/about-us/news/item/january-a-e-stats-are-a-tale-of-highs-and-lows"),
    ("Feb 2019", date(2019, 2, 1), date(2019, 2, 1), None, 84.2, 1,
     "HSJ, Mar 2019, https://www.hsj.co.uk/quality-and-performance/new-low-for-aande-after-proposals-to-ditch-target/7024644.article"),
    ("Mar 2019", date(2019, 3, 1), date(2019, 3, 1), None, 86.6, 1,
     "HSJ, Apr 2019, https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    # Quarters, a half-year, winters (December to March) and financial years.
    ("Q3 2016/17", date(2016, 10, 1), date(2016, 12, 1), None, 100 - 12.1, 1,
     "King's Fund Quarterly Monitoring Report 22 ('12.1 per cent' over four hours), http://qmr.kingsfund.org.uk/2017/22/data"),
    ("Q4 2016/17", date(2017, 1, 1), date(2017, 3, 1), None, 87.6, 1,
     "HSJ, 12 Apr 2018, https://www.hsj.co.uk/story.aspx?storyCode=7022147"),
    ("H1 2017/18", date(2017, 4, 1), date(2017, 9, 1), None, 100 - 9.8, 1,
     "King's Fund Quarterly Monitoring Report 24 ('9.8 per cent' over four hours), http://qmr.kingsfund.org.uk/2017/24/data"),
    ("Q2 2017/18", date(2017, 7, 1), date(2017, 9, 1), None, 90.1, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
    ("Q4 2017/18", date(2018, 1, 1), date(2018, 3, 1), None, 85, 0,
     "HSJ, 12 Apr 2018, https://www.hsj.co.uk/story.aspx?storyCode=7022147"),
    ("Q2 2018/19", date(2018, 7, 1), date(2018, 9, 1), None, 89.3, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
    ("Dec 2017-Mar 2018", date(2017, 12, 1), date(2018, 3, 1), None, 85, 0,
     "HSJ, Apr 2019 ('December to March ... up from 85 to 85.4 per cent'), https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    ("Dec 2018-Mar 2019", date(2018, 12, 1), date(2019, 3, 1), None, 85.4, 1,
     "HSJ, Apr 2019, https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    ("2016/17", date(2016, 4, 1), date(2017, 3, 1), None, 89.1, 1,
     "HSJ, Apr 2019, https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    ("2017/18", date(2017, 4, 1), date(2018, 3, 1), None, 88.3, 1,
     "HSJ, Apr 2019 (revised; 88.4 when first published), https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    ("2018/19", date(2018, 4, 1), date(2019, 3, 1), None, 88, 0,
     "HSJ, Apr 2019 ('88 per cent'), https://www.hsj.co.uk/quality-and-performance/aande-performance-falls-for-ninth-successive-year/7024872.article"),
    # Type 1 (major A&E departments).
    ("Dec 2016 type 1", date(2016, 12, 1), date(2016, 12, 1), "1", 79.3, 1,
     "The Guardian, 11 Jan 2018, https://www.theguardian.com/society/2018/jan/11/number-of-a-and-e-patients-treated-within-four-hours-at-lowest-ever-level"),
    ("Jan 2017 type 1", date(2017, 1, 1), date(2017, 1, 1), "1", 77.6, 1,
     "The Guardian, 11 Jan 2018, https://www.theguardian.com/society/2018/jan/11/number-of-a-and-e-patients-treated-within-four-hours-at-lowest-ever-level"),
    ("Mar 2017 type 1", date(2017, 3, 1), date(2017, 3, 1), "1", 85.1, 1,
     "Sky News, 11 Apr 2018 ('compared to 85.1% last March'), https://www.europeworldnews.com/news/nhs-suffers-worst-ae-waiting-times-on-record/"),
    ("Dec 2017 type 1", date(2017, 12, 1), date(2017, 12, 1), "1", 77.3, 1,
     "The Guardian, 11 Jan 2018, https://www.theguardian.com/society/2018/jan/11/number-of-a-and-e-patients-treated-within-four-hours-at-lowest-ever-level"),
    ("Feb 2018 type 1", date(2018, 2, 1), date(2018, 2, 1), "1", 76.9, 1,
     "Royal College of Surgeons, 12 Apr 2018, https://www.rcseng.ac.uk/news-and-events/media-centre/press-releases/nhs-performance-march-and-feb-2018/"),
    ("Mar 2018 type 1", date(2018, 3, 1), date(2018, 3, 1), "1", 76.4, 1,
     "Royal College of Surgeons, 12 Apr 2018, https://www.rcseng.ac.uk/news-and-events/media-centre/press-releases/nhs-performance-march-and-feb-2018/"),
    ("Jan 2019 type 1", date(2019, 1, 1), date(2019, 1, 1), "1", 76.1, 1,
     "HSJ, Mar 2019, https://www.hsj.co.uk/quality-and-performance/new-low-for-aande-after-proposals-to-ditch-target/7024644.article"),
    ("Q2 2017/18 type 1", date(2017, 7, 1), date(2017, 9, 1), "1", 85.2, 1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article"),
]  # fmt: skip


@pytest.mark.shared
@pytest.mark.parametrize(
    ("first", "last", "type", "published", "decimals", "source"),
    [pytest.param(*row[1:], id=row[0]) for row in PUBLISHED],
)
def test_england_matches_nhs_englands_published_figure(
    england_ae: NationalAe,
    first: date,
    last: date,
    type: national.DepartmentType | None,
    published: float,
    decimals: int,
    source: str,
) -> None:
    """England's figure, summed over every provider, rounds to the figure published."""
    computed = _england(england_ae, first, last, type)
    # Half a unit in the last published place, and a hair for binary fractions.
    assert abs(computed - published) <= 0.5 * 10**-decimals + 1e-9, (
        f"{computed:.3f} vs {published} ({source})"
    )


# Where the file differs from the figure NHS England first published: (label, first month,
# last month, type, first published %, the file's %, the largest difference explained,
# source, why).
REVISED = [
    ("Oct 2017", date(2017, 10, 1), date(2017, 10, 1), None, 90.1, 89.94, 0.23,
     "NHS Providers, Nov 2017, https://nhsproviders.org/ready-and-resilient/how-prepared-is-the-sector-heading-into-winter",
     "NHS England revised October to December 2017 after finding trusts' figures 'artificially inflated' by 0.11 to 0.18 points (HSJ, Apr 2018, https://www.hsj.co.uk/quality-and-performance/data-errors-barely-affected-national-ae-performance-nhs-england-claims/7022080.article)"),
    ("Nov 2017", date(2017, 11, 1), date(2017, 11, 1), None, 88.9, 88.77, 0.23,
     "PA via AOL, 14 Dec 2017, https://www.aol.co.uk/2017/12/14/aandes-meeting-wait-time-target-at-lowest-rate-since-february/",
     "the same revision"),
    ("Dec 2017", date(2017, 12, 1), date(2017, 12, 1), None, 85.1, 84.99, 0.23,
     "HuffPost UK (PA), Jan 2018, http://www.huffingtonpost.co.uk/entry/ae-waiting-times_uk_5a572baee4b0a300f905f889",
     "the same revision"),
    ("Jan 2018 type 1", date(2018, 1, 1), date(2018, 1, 1), "1", 77.1, 77.17, 0.1,
     "The Guardian, 8 Feb 2018, https://www.theguardian.com/society/2018/feb/08/nhs-hospitals-england-worst-a-and-e-performance",
     "no revision was announced, but the counts changed: 970,138 within four hours first published (http://healthcareleadernews.com/patients-wait-longer-than-four-hours-to-be-seen-in-ae-departments), 969,985 in the file"),
    ("Feb 2019 type 1", date(2019, 2, 1), date(2019, 2, 1), "1", 75.7, 75.76, 0.1,
     "HSJ, Mar 2019, https://www.hsj.co.uk/quality-and-performance/new-low-for-aande-after-proposals-to-ditch-target/7024644.article",
     "no revision was announced, but the counts changed: 934,000 within four hours first published, 935,100 in the file"),
    ("Q2 2018/19 type 1", date(2018, 7, 1), date(2018, 9, 1), "1", 83.4, 83.46, 0.1,
     "HSJ, Oct 2018, https://www.hsj.co.uk/quality-and-performance/aandes-miss-national-objective-with-record-low-performance/7023561.article",
     "no revision was announced, but the counts changed: July 2018 had 2,176,022 attendances first published (http://www.thisismoney.co.uk/health/article-6043045/NHS-buckles-heatwave-official-statistics-confirm.html), 2,179,896 in the file"),
]  # fmt: skip


@pytest.mark.shared
@pytest.mark.parametrize(
    ("first", "last", "type", "first_published", "in_file", "explained", "source", "why"),
    [pytest.param(*row[1:], id=row[0]) for row in REVISED],
)
def test_where_the_file_holds_a_revised_figure(
    england_ae: NationalAe,
    first: date,
    last: date,
    type: national.DepartmentType | None,
    first_published: float,
    in_file: float,
    explained: float,
    source: str,
    why: str,
) -> None:
    """The file holds NHS England's later figures for these months, not the first published.

    Each differs from the first published figure by more than rounding explains. Pinned
    to the file's value, so a change in the file is noticed, and bounded by the revision
    NHS England stated for October to December 2017; the other three are unannounced
    revisions, bounded at a tenth of a point, with the changed counts in ``why``.
    """
    computed = _england(england_ae, first, last, type)
    assert round(computed, 2) == in_file
    assert 0.5 * 10**-1 < abs(computed - first_published) <= explained, why


@pytest.mark.shared
def test_counts_quoted_later_by_nhs_england_are_the_files_exactly(england_ae: NationalAe) -> None:
    """Figures NHS England quoted for earlier months, after revision, equal the file's sums.

    - December 2016, type 1 attendances 1,277,133: Royal College of Surgeons, 11 Jan 2018,
      https://www.rcseng.ac.uk/news-and-events/media-centre/press-releases/nhs-performance-november17/
      (December 2017's first published 1,290,242 there is 655 more than the revised file's).
    - December 2017, 300,893 over four hours: NHS England's December 2018 release, PharmaTimes,
      https://www.pharmatimes.com/news/pressure_on_nhs_at_fever_pitch_1274671
    - February 2018, 272,187 over four hours: NHS England's February 2019 release,
      https://www.pharmacy.biz/nhs-ae-waiting-times-hit-another-record-low/
    """
    every_type = {r.month: r for r in four_hour_performance(england_ae)}
    type_1 = {r.month: r for r in four_hour_performance(england_ae, type="1")}
    assert type_1[date(2016, 12, 1)].attendances == 1_277_133
    assert type_1[date(2017, 12, 1)].attendances == 1_290_242 - 655
    assert every_type[date(2017, 12, 1)].breaches == 300_893
    assert every_type[date(2018, 2, 1)].breaches == 272_187


@pytest.mark.shared
def test_yearly_totals_look_right(england_ae: NationalAe) -> None:
    """Attendances by financial year against what NHS Digital and others published.

    - 2016/17: 'more than 2.5 million' spent over four hours (King's Fund QMR 23,
      http://qmr.kingsfund.org.uk/2017/23/data).
    - 2017/18: 23.8 million attendances (NHS Digital, Hospital Accident and Emergency
      Activity 2017-18, https://digital.nhs.uk/data-and-information/publications/statistical/hospital-accident--emergency-activity/2017-18).
    - 2018/19: 'nearly 25 million'; type 3 ('other') 8.6 million, up 8.7%; major (type 1)
      up 2.0%; single specialty (type 2) up 0.7% (Health Foundation,
      https://www.health.org.uk/news-and-comment/blogs/aes-under-pressure-what-the-data-can-tell-us);
      'more than 21,800,000' within four hours (PA, Belfast Telegraph,
      https://www.belfasttelegraph.co.uk/news/uk/ae-waiting-times-worst-on-record-38005650.html).
    """

    def year(start: int, type: national.DepartmentType | None = None) -> national.PeriodRate:
        rates = four_hour_performance(england_ae, type=type)
        return combine(r for r in rates if date(start, 4, 1) <= r.month <= date(start + 1, 3, 1))

    assert year(2016).breaches > 2_500_000
    assert round(year(2017).attendances / 1e6, 1) == 23.8
    assert 24.5e6 < year(2018).attendances < 25e6
    assert round(year(2018, "other").attendances / 1e6, 1) == 8.6
    for kind, growth in (("other", 8.7), ("1", 2.0), ("2", 0.7)):
        change = 100 * (year(2018, kind).attendances / year(2017, kind).attendances - 1)
        assert round(change, 1) == growth, kind
    assert year(2018).within_4_hours > 21_800_000


# ---------------------------------------------------------------------------------------
# Peers in the national file
# ---------------------------------------------------------------------------------------


@pytest.mark.shared
def test_royal_cornwall_among_type_1_providers_in_march_2019(
    england_ae: NationalAe, ae_file: Path
) -> None:
    result = peer_comparison(england_ae, "REF", month=date(2019, 3, 1))
    # REF's type 1 row: 6,565 attendances, 1,684 breaches (74.3%).
    assert (result.provider.attendances, result.provider.breaches) == (6_565, 1_684)
    assert len(result.peers) == 134
    assert result.rank == 94
    assert result.lower_quartile == pytest.approx(0.733837, abs=1e-6)
    assert result.median == pytest.approx(0.807350, abs=1e-6)
    assert result.upper_quartile == pytest.approx(0.866541, abs=1e-6)
    assert _percent(result.england.share) == pytest.approx(79.486, abs=0.001)
    # Peers are exactly the providers with a type 1 row that month (read independently).
    with ae_file.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["period"] == "2019-03-01"]
    with_type_1 = {row["org_code"] for row in rows if row["type"] == "1"}
    assert {peer.org for peer in result.peers} == with_type_1
    assert len({row["org_code"] for row in rows}) == 226  # the rest have no type 1 department
    with pytest.raises(ValueError, match="RYY has no type 1 department in 2019-03"):
        peer_comparison(england_ae, "RYY", month=date(2019, 3, 1))


@pytest.mark.shared
@pytest.mark.parametrize(
    ("month", "type", "providers", "meeting_95", "source"),
    [
        (date(2016, 11, 1), None, 138, 11,
         "ITV News, 12 Jan 2017: 'only 11 out of 138 NHS trusts with major A&E departments'"),
        (date(2018, 1, 1), None, 137, 5,
         "HEFMA, Feb 2018: 'Just five from 137 reporting Trusts with type 1 departments achieved the 95% standard on all types'"),
        (date(2018, 1, 1), "1", 137, 3,
         "Nuffield Trust, combined performance summary Dec 2017/Jan 2018: 'three out of 137 major A&E departments (Type 1)'"),
        (date(2018, 2, 1), "1", 137, 2,
         "Nuffield Trust, combined performance summary Jan/Feb 2018: 'two out of 137 major A&E departments (Type 1)'"),
        (date(2018, 12, 1), "1", 134, None,
         "HSJ, Jan 2019: 'In quarter three for 2018-19 of 134 trusts', https://hsj.co.uk/quality-and-performance/why-are-some-trusts-improving-on-aande-while-their-peers-fail/7024405.article"),
    ],
)  # fmt: skip
def test_the_peer_group_is_nhs_englands_count_of_trusts_with_major_ae(
    england_ae: NationalAe,
    month: date,
    type: national.DepartmentType | None,
    providers: int,
    meeting_95: int | None,
    source: str,
) -> None:
    """Peers are the trusts NHS England counts as having a type 1 department that month."""
    result = peer_comparison(england_ae, "REF", type=type, month=month)
    assert len(result.peers) == providers, source
    if meeting_95 is not None:
        assert sum(1 for peer in result.peers if peer.share >= 0.95) == meeting_95, source


@pytest.mark.shared
def test_royal_cornwall_series_for_charts(england_ae: NationalAe) -> None:
    series = peer_series(england_ae, "REF")
    assert [point.month for point in series] == list(england_ae.months)
    england_type_1 = four_hour_performance(england_ae, type="1")
    assert [point.england for point in series] == england_type_1
    assert [point.provider.within_4_hours for point in series] == [
        r.within_4_hours for r in four_hour_performance(england_ae, org="REF", type="1")
    ]
    assert all(point.lower_quartile <= point.median <= point.upper_quartile for point in series)
    assert series[-1] == peer_comparison(england_ae, "REF", month=date(2019, 3, 1))
