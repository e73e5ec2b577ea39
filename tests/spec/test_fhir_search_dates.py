"""FHIR R4 date search semantics, as the specification defines them.

Source: HL7 FHIR R4 §3.1.1.4.2 "date" and §3.1.1.5.6 "prefixes"
(https://hl7.org/fhir/R4/search.html#date, https://hl7.org/fhir/R4/search.html#prefix):
a date value stands for the whole range its precision covers ("2013-01-14" is the whole
day), and a prefix compares the parameter's range with the resource's range.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from joinedup.records.search import date_span, index_rows, parse_date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2013", datetime(2013, 1, 1), datetime(2014, 1, 1)),
        ("2013-12", datetime(2013, 12, 1), datetime(2014, 1, 1)),
        ("2013-01-14", datetime(2013, 1, 14), datetime(2013, 1, 15)),
        ("2013-01-14T10:00:00Z", datetime(2013, 1, 14, 10), datetime(2013, 1, 14, 10, 0, 1)),
        ("2013-01-14T10:00+01:00", datetime(2013, 1, 14, 9), datetime(2013, 1, 14, 9, 1)),
        # No zone: UK local time, which is UTC+1 in summer (BST).
        ("2024-07-01T12:00:00", datetime(2024, 7, 1, 11), datetime(2024, 7, 1, 11, 0, 1)),
    ],
)
def test_a_date_covers_the_range_of_its_precision(
    text: str, start: datetime, end: datetime
) -> None:
    assert parse_date(text) == (start, end)


@pytest.mark.parametrize("text", ["", "13-01-2024", "2024-13-01", "2024-02-30", "yesterday"])
def test_not_a_date(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_a_period_without_an_end_is_still_going() -> None:
    start, end = date_span({"start": "2024-03-01"}) or (None, None)
    assert start == datetime(2024, 3, 1) and end == datetime.max


def test_index_rows_of_an_observation() -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "271649006"},
                {"system": "http://loinc.org", "code": "8480-6"},
            ]
        },
        "effectiveDateTime": "2024-03-05",
    }
    rows = index_rows(observation)
    assert ("code", "http://loinc.org", "8480-6", None, None) in rows
    assert ("code", "http://snomed.info/sct", "271649006", None, None) in rows
    assert ("status", None, "final", None, None) in rows
    assert ("date", None, None, datetime(2024, 3, 5), datetime(2024, 3, 6)) in rows
    assert len([r for r in rows if r[0] == "category"]) == 1
