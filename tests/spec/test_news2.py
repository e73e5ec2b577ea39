"""NEWS2, every band boundary of every parameter, the bands and the clinical response.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising
the assessment of acute-illness severity in the NHS. Updated report of a working party.
London: RCP, 2017. Chart 1 ("The NEWS scoring system": the parameter scores), Chart 2
("NEWS thresholds and triggers": low 0-4, low-medium a score of 3 in any single parameter,
medium 5-6, high 7 or more) and Chart 4 ("Clinical response to the NEWS trigger
thresholds": frequency of monitoring and clinical response for 0, 1-4, a single 3, 5 or
more, 7 or more). Each boundary is tested on both sides; the chart's gaps between bands
(35.05 °C, say) score as the band above them would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from joinedup.virtual_wards.news2 import (
    MAX_TOTAL,
    NEWS2_TOTAL_CODE,
    PARAMETERS,
    PLAUSIBLE_RANGES,
    ImplausibleReading,
    Vitals,
    band,
    check_vitals,
    news2,
    score_air_or_oxygen,
    score_consciousness,
    score_pulse,
    score_respiratory_rate,
    score_spo2,
    score_systolic,
    score_temperature,
)

# A set of vital signs scoring 0 on every parameter (Chart 1's middle column).
NORMAL = Vitals(
    respiratory_rate=16,
    spo2=97,
    scale=1,
    on_oxygen=False,
    systolic=120,
    pulse=70,
    consciousness="A",
    temperature=37.0,
)
# The worst set: 3 + 3 + 2 + 3 + 3 + 3 + 3 = 20 (temperature scores 3 only when low).
WORST = Vitals(
    respiratory_rate=30,
    spo2=85,
    scale=1,
    on_oxygen=True,
    systolic=80,
    pulse=140,
    consciousness="U",
    temperature=34.0,
)


# Chart 1, respiration rate: <=8 3, 9-11 1, 12-20 0, 21-24 2, >=25 3.
@pytest.mark.parametrize(
    ("rate", "score"),
    [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (80, 3)],
)
def test_respiration_rate(rate: int, score: int) -> None:
    assert score_respiratory_rate(rate) == score


# Chart 1, SpO2 scale 1: <=91 3, 92-93 2, 94-95 1, >=96 0; air or oxygen does not change it.
@pytest.mark.parametrize(
    ("spo2", "score"),
    [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)],
)
@pytest.mark.parametrize("on_oxygen", [False, True, None])
def test_spo2_scale_1_ignores_oxygen(spo2: int, score: int, on_oxygen: bool | None) -> None:
    assert score_spo2(spo2, 1, on_oxygen) == score


# Chart 1, SpO2 scale 2: <=83 3, 84-85 2, 86-87 1, 88-92 0, >=93 on air 0; on oxygen 93-94 1,
# 95-96 2, >=97 3.
@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "score"),
    [
        (83, False, 3),
        (83, True, 3),
        (84, False, 2),
        (84, True, 2),
        (85, True, 2),
        (86, True, 1),
        (87, False, 1),
        (87, True, 1),
        (88, False, 0),
        (88, True, 0),
        (92, False, 0),
        (92, True, 0),
        (93, False, 0),
        (93, True, 1),
        (94, True, 1),
        (95, False, 0),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (97, False, 0),
        (100, True, 3),
        (100, False, 0),
    ],
)
def test_spo2_scale_2(spo2: int, on_oxygen: bool, score: int) -> None:
    assert score_spo2(spo2, 2, on_oxygen) == score


@pytest.mark.parametrize(("spo2", "score"), [(83, 3), (85, 2), (87, 1), (88, 0), (92, 0)])
def test_spo2_scale_2_up_to_92_needs_no_air_or_oxygen(spo2: int, score: int) -> None:
    assert score_spo2(spo2, 2, None) == score


def test_spo2_scale_2_above_92_needs_air_or_oxygen() -> None:
    with pytest.raises(ValueError, match="air or oxygen"):
        score_spo2(93, 2, None)
    result = news2(replace(NORMAL, spo2=93, scale=2, on_oxygen=None))
    assert result.total is None
    assert result.missing == ("spo2", "air_or_oxygen")


# Chart 1, air or oxygen: oxygen 2, air 0.
@pytest.mark.parametrize(("on_oxygen", "score"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, score: int) -> None:
    assert score_air_or_oxygen(on_oxygen) == score


# Chart 1, systolic blood pressure: <=90 3, 91-100 2, 101-110 1, 111-219 0, >=220 3.
@pytest.mark.parametrize(
    ("systolic", "score"),
    [(40, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
)
def test_systolic(systolic: int, score: int) -> None:
    assert score_systolic(systolic) == score


# Chart 1, pulse: <=40 3, 41-50 1, 51-90 0, 91-110 1, 111-130 2, >=131 3.
@pytest.mark.parametrize(
    ("pulse", "score"),
    [
        (20, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
        (250, 3),
    ],
)
def test_pulse(pulse: int, score: int) -> None:
    assert score_pulse(pulse) == score


# Chart 1, consciousness: alert 0; new confusion, voice, pain, unresponsive 3.
@pytest.mark.parametrize(("code", "score"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(code: str, score: int) -> None:
    assert score_consciousness(code) == score


# Chart 1, temperature: <=35.0 3, 35.1-36.0 1, 36.1-38.0 0, 38.1-39.0 1, >=39.1 2. The gaps
# (35.05, 36.05, 38.05, 39.05) score as the band above; 37.5 is 0, whatever some examples say.
@pytest.mark.parametrize(
    ("temperature", "score"),
    [
        (25.0, 3),
        (35.0, 3),
        (35.05, 1),
        (35.1, 1),
        (36.0, 1),
        (36.05, 0),
        (36.1, 0),
        (37.5, 0),
        (38.0, 0),
        (38.05, 1),
        (38.1, 1),
        (39.0, 1),
        (39.05, 2),
        (39.1, 2),
        (45.0, 2),
    ],
)
def test_temperature(temperature: float, score: int) -> None:
    assert score_temperature(temperature) == score


# Chart 2: the bands from the total, and a single 3 below 5.
@pytest.mark.parametrize(
    ("total", "single_three", "expected"),
    [
        (0, False, "low"),
        (1, False, "low"),
        (4, False, "low"),
        (3, True, "low-medium"),
        (4, True, "low-medium"),
        (5, False, "medium"),
        (5, True, "medium"),
        (6, False, "medium"),
        (7, False, "high"),
        (7, True, "high"),
        (20, True, "high"),
    ],
)
def test_bands(total: int, single_three: bool, expected: str) -> None:
    assert band(total, single_three) == expected


@pytest.mark.parametrize("total", [-1, MAX_TOTAL + 1])
def test_a_total_outside_0_to_20_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="0 to 20"):
        band(total, False)


# Whole sets of vital signs -> total, band and the Chart 4 monitoring frequency.
@pytest.mark.parametrize(
    ("changes", "total", "expected_band", "frequency"),
    [
        ({}, 0, "low", "minimum 12-hourly"),
        # 1 + 1 + 1 + 1 = 4
        (
            {"respiratory_rate": 10, "systolic": 105, "pulse": 95, "temperature": 38.5},
            4,
            "low",
            "minimum 4 to 6-hourly",
        ),
        ({"consciousness": "C"}, 3, "low-medium", "minimum 1-hourly"),  # a single 3
        ({"respiratory_rate": 22, "spo2": 92, "pulse": 95}, 5, "medium", "minimum 1-hourly"),
        ({"systolic": 85, "pulse": 95, "temperature": 39.5}, 6, "medium", "minimum 1-hourly"),
        # The known case: 2 + 1 + 0 + 1 + 2 + 0 + 1 = 7.
        (
            {
                "respiratory_rate": 22,
                "spo2": 95,
                "systolic": 105,
                "pulse": 115,
                "temperature": 38.5,
            },
            7,
            "high",
            "continuous monitoring of vital signs",
        ),
    ],
)
def test_whole_sets(
    changes: dict[str, object], total: int, expected_band: str, frequency: str
) -> None:
    result = news2(replace(NORMAL, **changes))  # type: ignore[arg-type]
    assert result.missing == ()
    assert [p.parameter for p in result.parameters] == list(PARAMETERS)
    assert result.total == sum(p.score for p in result.parameters) == total
    assert result.band == expected_band
    assert result.frequency == frequency
    assert result.response


def test_responses_follow_chart_4() -> None:
    low = news2(replace(NORMAL, pulse=95))
    assert low.response is not None and "registered nurse" in low.response
    single = news2(replace(NORMAL, consciousness="V"))
    assert single.single_three
    assert single.response is not None and "Urgent ward-based response" in single.response
    medium = news2(replace(NORMAL, respiratory_rate=22, spo2=92, pulse=95))
    assert medium.response is not None and medium.response.startswith("Urgent response")
    assert "acute illness" in medium.response
    high = news2(WORST)
    assert high.response is not None and high.response.startswith("Emergency response")
    assert "critical-care" in high.response


@pytest.mark.parametrize(
    "worst", [WORST, replace(WORST, scale=2, spo2=83), replace(WORST, scale=2, spo2=97)]
)
def test_the_maximum_total_is_20(worst: Vitals) -> None:
    result = news2(worst)
    assert result.total == MAX_TOTAL == 20
    assert result.band == "high"
    assert result.single_three


def test_a_high_temperature_scores_at_most_2() -> None:
    assert news2(replace(WORST, temperature=40.0)).total == 19


def test_oxygen_scores_2_on_scale_1_as_well() -> None:
    assert news2(replace(NORMAL, on_oxygen=True)).total == 2


def test_missing_readings_give_no_total_and_say_what_is_missing() -> None:
    result = news2(replace(NORMAL, pulse=None, temperature=None))
    assert result.total is None
    assert result.band is None and result.response is None and result.frequency is None
    assert result.missing == ("pulse", "temperature")
    assert [p.parameter for p in result.parameters] == [
        "respiratory_rate",
        "spo2",
        "air_or_oxygen",
        "systolic",
        "consciousness",
    ]


def test_nothing_measured_scores_nothing() -> None:
    result = news2(Vitals())
    assert result.parameters == ()
    assert result.missing == PARAMETERS
    assert result.total is None


def test_a_partial_set_still_shows_a_single_3() -> None:
    result = news2(replace(NORMAL, consciousness="U", pulse=None))
    assert result.single_three
    assert result.total is None and result.band is None


def test_to_dict_carries_the_code_and_the_adults_only_limitation() -> None:
    data = news2(NORMAL).to_dict()
    assert data["total"] == 0
    assert data["code"]["code"] == NEWS2_TOTAL_CODE == "1104051000000101"
    assert "16" in data["limitation"] and "pregnancy" in data["limitation"]
    assert data["parameters"][0] == {"parameter": "respiratory_rate", "value": 16, "score": 0}


# Implausible readings and wrong units are refused, naming the parameter.
@pytest.mark.parametrize(
    ("changes", "parameter", "words"),
    [
        ({"spo2": 140}, "spo2", "50 to 100"),
        ({"spo2": 49}, "spo2", "50 to 100"),
        ({"pulse": -5}, "pulse", "20 to 250"),
        ({"pulse": 251}, "pulse", "20 to 250"),
        ({"respiratory_rate": 81}, "respiratory_rate", "0 to 80"),
        ({"respiratory_rate": -1}, "respiratory_rate", "0 to 80"),
        ({"systolic": 39}, "systolic", "40 to 300"),
        ({"systolic": 301}, "systolic", "40 to 300"),
        ({"temperature": 95.0}, "temperature", "°C expected"),
        ({"temperature": 24.9}, "temperature", "25.0 to 45.0 °C"),
        ({"temperature": float("nan")}, "temperature", "25.0 to 45.0 °C"),
        ({"consciousness": "X"}, "consciousness", "A, C, V, P, U"),
        ({"consciousness": "a"}, "consciousness", "A, C, V, P, U"),
        ({"scale": 3}, "scale", "1 or 2"),
    ],
)
def test_implausible_readings_are_refused(
    changes: dict[str, object], parameter: str, words: str
) -> None:
    vitals = replace(NORMAL, **changes)  # type: ignore[arg-type]
    problems = check_vitals(vitals)
    assert len(problems) == 1
    assert problems[0].startswith(parameter) and words in problems[0]
    with pytest.raises(ImplausibleReading, match=parameter) as refused:
        news2(vitals)
    assert refused.value.problems == tuple(problems)
    assert isinstance(refused.value, ValueError)


def test_every_implausible_reading_is_listed_at_once() -> None:
    vitals = replace(NORMAL, spo2=140, pulse=-5, temperature=95.0, consciousness="X", scale=3)
    with pytest.raises(ImplausibleReading) as refused:
        news2(vitals)
    named = [problem.split()[0] for problem in refused.value.problems]
    assert sorted(named) == ["consciousness", "pulse", "scale", "spo2", "temperature"]


@pytest.mark.parametrize(
    ("score", "value"),
    [
        (score_respiratory_rate, 81),
        (score_spo2, 140),
        (score_systolic, 301),
        (score_pulse, -5),
        (score_temperature, 95.0),
    ],
)
def test_the_parameter_scores_refuse_implausible_readings(
    score: Callable[[float], int], value: float
) -> None:
    with pytest.raises(ImplausibleReading):
        score(value)


@pytest.mark.parametrize("parameter", sorted(PLAUSIBLE_RANGES))
def test_the_plausible_ranges_themselves_are_accepted(parameter: str) -> None:
    low, high, _unit = PLAUSIBLE_RANGES[parameter]
    for value in (low, high):
        assert check_vitals(replace(NORMAL, **{parameter: value})) == []  # type: ignore[arg-type]
