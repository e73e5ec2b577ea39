"""NEWS2, the National Early Warning Score 2, exactly as the Royal College of Physicians charts it.

Source: Royal College of Physicians. *National Early Warning Score (NEWS) 2: Standardising
the assessment of acute-illness severity in the NHS.* Updated report of a working party.
London: RCP, December 2017. Chart 1 (the scores), Chart 2 (the thresholds and triggers) and
Chart 4 (the clinical response).

Seven parameters each score 0-3 and add up to a total of 0-20:

| parameter             | 3     | 2      | 1         | 0                   | 1         | 2         | 3          |
|-----------------------|-------|--------|-----------|---------------------|-----------|-----------|------------|
| respiration rate /min | ≤8    |        | 9-11      | 12-20               |           | 21-24     | ≥25        |
| SpO2 scale 1 %        | ≤91   | 92-93  | 94-95     | ≥96                 |           |           |            |
| SpO2 scale 2 %        | ≤83   | 84-85  | 86-87     | 88-92, ≥93 on air   | 93-94 O2  | 95-96 O2  | ≥97 O2     |
| air or oxygen         |       | oxygen |           | air                 |           |           |            |
| systolic BP mmHg      | ≤90   | 91-100 | 101-110   | 111-219             |           |           | ≥220       |
| pulse /min            | ≤40   |        | 41-50     | 51-90               | 91-110    | 111-130   | ≥131       |
| consciousness         |       |        |           | alert               |           |           | C, V, P, U |
| temperature °C        | ≤35.0 |        | 35.1-36.0 | 36.1-38.0           | 38.1-39.0 | ≥39.1     |            |

The chart prints whole numbers (one decimal for temperature) with gaps between the bands.
Here every band is a half-open interval ending at the chart's upper edge, so no reading
falls through a gap: 35.05 °C scores as 35.1 °C would (1), 8.5 breaths/min as 9 (1).

Rules kept on purpose:

- **No invented total.** With any parameter missing, :class:`News2` lists the scores it
  could work out and what is missing, and its total, band and response are ``None``: a
  missing reading is not a normal one.
- **Implausible readings are refused, not scored** (:data:`PLAUSIBLE_RANGES`): a pulse of
  -5 or a temperature of 95 (Fahrenheit) is an input error, and scoring it would give a
  confident, wrong number.
- **Adults only** (:data:`LIMITATION`): NEWS2 is not for under-16s or pregnancy. Vital
  signs cannot show either, so the caller must check; the limitation travels with every
  result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeVar

#: The parameters in chart order, by the names results use.
PARAMETERS: Final[tuple[str, ...]] = (
    "respiratory_rate",
    "spo2",
    "air_or_oxygen",
    "systolic",
    "pulse",
    "consciousness",
    "temperature",
)

#: ACVPU: alert, new confusion, voice, pain, unresponsive. Only alert scores 0.
CONSCIOUSNESS_LEVELS: Final[tuple[str, ...]] = ("A", "C", "V", "P", "U")
ALERT: Final = "A"

#: SpO2 scale 1 for everyone; scale 2 only for hypercapnic respiratory failure with a
#: prescribed SpO2 target of 88-92% (decided and recorded by a clinician).
SPO2_SCALES: Final[tuple[int, ...]] = (1, 2)

MAX_SCORE: Final = 3
MAX_TOTAL: Final = 20
ON_OXYGEN_SCORE: Final = 2
NOT_ALERT_SCORE: Final = 3

#: Chart 2's thresholds: the total at which the medium and the high bands start.
MEDIUM_FROM: Final = 5
HIGH_FROM: Final = 7

#: SNOMED CT for the NEWS2 total, for recording it as an observation.
SNOMED_CT: Final = "http://snomed.info/sct"
NEWS2_TOTAL_CODE: Final = "1104051000000101"
NEWS2_TOTAL_DISPLAY: Final = (
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score"
)

#: What no set of vital signs can tell, so every result carries it.
LIMITATION: Final = (
    "NEWS2 is for adults (aged 16 or over) and not in pregnancy; "
    "the vital signs cannot show either, so check before using the score."
)

#: The readings a living person can have, in the units NEWS2 uses: (low, high, unit),
#: inclusive. Wide on purpose (they catch wrong units and typing errors, not illness):
#: SpO2 below 50% cannot be measured reliably by pulse oximetry and above 100% is
#: impossible; a temperature above 45 °C is almost always one in °F (98.6 °F is 37 °C).
PLAUSIBLE_RANGES: Final = MappingProxyType(
    {
        "respiratory_rate": (0, 80, "breaths/min"),
        "spo2": (50, 100, "%"),
        "systolic": (40, 300, "mmHg"),
        "pulse": (20, 250, "beats/min"),
        "temperature": (25.0, 45.0, "°C"),
    }
)

#: What a refused reading most likely means, added to its message.
_HINTS: Final = MappingProxyType(
    {
        "spo2": " (a percentage: at most 100)",
        "temperature": " (°C expected: convert a reading in °F)",
    }
)

_T = TypeVar("_T")


class ImplausibleReading(ValueError):
    """Readings no living person has, or in the wrong units: refused rather than scored."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Vitals:
    """One set of observations; ``None`` for a reading not taken."""

    respiratory_rate: int | None = None
    spo2: int | None = None
    scale: int = 1
    on_oxygen: bool | None = None
    systolic: int | None = None
    pulse: int | None = None
    consciousness: str | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class ParameterScore:
    """One parameter's reading and its Chart 1 score."""

    parameter: str
    value: int | float | str
    score: int


@dataclass(frozen=True)
class ClinicalResponse:
    """Chart 4's response to a score: how often to monitor, and who does what."""

    frequency: str
    response: str


@dataclass(frozen=True)
class News2:
    """A NEWS2 result: the parameter scores, and the total only when nothing is missing.

    ``total``, ``band``, ``response`` and ``frequency`` are ``None`` while anything is in
    ``missing``: they are never worked out from part of the chart. ``single_three`` says
    whether any parameter that *was* scored scores 3, so a partial set still shows it.
    """

    parameters: tuple[ParameterScore, ...]
    missing: tuple[str, ...]
    total: int | None
    band: str | None
    single_three: bool
    response: str | None
    frequency: str | None
    spo2_scale: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, with its SNOMED CT code and the adults-only limitation."""
        return {
            "parameters": [
                {"parameter": p.parameter, "value": p.value, "score": p.score}
                for p in self.parameters
            ],
            "missing": list(self.missing),
            "total": self.total,
            "band": self.band,
            "single_three": self.single_three,
            "response": self.response,
            "frequency": self.frequency,
            "spo2_scale": self.spo2_scale,
            "code": {"system": SNOMED_CT, "code": NEWS2_TOTAL_CODE, "display": NEWS2_TOTAL_DISPLAY},
            "limitation": LIMITATION,
        }


@dataclass(frozen=True)
class _Bands:
    """One chart row as (upper edge, score) pairs: a reading scores the first band whose
    edge it does not exceed, else ``above``. Half-open intervals leave no gaps."""

    edges: tuple[tuple[float, int], ...]
    above: int

    def score(self, value: float) -> int:
        return next((score for edge, score in self.edges if value <= edge), self.above)


RESPIRATORY_RATE: Final = _Bands(((8, 3), (11, 1), (20, 0), (24, 2)), above=3)
SPO2_SCALE_1: Final = _Bands(((91, 3), (93, 2), (95, 1)), above=0)
_SCALE_2_LOW: Final = ((83, 3), (85, 2), (87, 1))
#: On air, scale 2 scores 0 from 88%: up to 92% is the target, above it is not oxygen-driven.
SPO2_SCALE_2_ON_AIR: Final = _Bands(_SCALE_2_LOW, above=0)
#: On oxygen, above the 88-92% target means too much oxygen for hypercapnic failure.
SPO2_SCALE_2_ON_OXYGEN: Final = _Bands((*_SCALE_2_LOW, (92, 0), (94, 1), (96, 2)), above=3)
SYSTOLIC: Final = _Bands(((90, 3), (100, 2), (110, 1), (219, 0)), above=3)
PULSE: Final = _Bands(((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), above=3)
TEMPERATURE: Final = _Bands(((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)), above=2)

#: Chart 4 for a total of 0, then for each Chart 2 band.
ZERO_RESPONSE: Final = ClinicalResponse(
    frequency="minimum 12-hourly",
    response="Continue routine NEWS monitoring.",
)
RESPONSES: Final = MappingProxyType(
    {
        "low": ClinicalResponse(
            frequency="minimum 4 to 6-hourly",
            response=(
                "Ward-based response: inform a registered nurse, who must assess the patient "
                "and decide whether to monitor more often or escalate care."
            ),
        ),
        "low-medium": ClinicalResponse(
            frequency="minimum 1-hourly",
            response=(
                "Urgent ward-based response: the registered nurse informs the medical team "
                "caring for the patient, who review and decide whether to escalate care."
            ),
        ),
        "medium": ClinicalResponse(
            frequency="minimum 1-hourly",
            response=(
                "Urgent response: the registered nurse immediately informs the medical team and "
                "asks for urgent assessment by a clinician or team with core competencies in "
                "acute illness; care in an environment with monitoring facilities."
            ),
        ),
        "high": ClinicalResponse(
            frequency="continuous monitoring of vital signs",
            response=(
                "Emergency response: the registered nurse immediately informs the medical team "
                "(at least specialist registrar level); emergency assessment by a team with "
                "critical-care competencies, including advanced airway skills; consider transfer "
                "to a level 2 or 3 facility (HDU or ICU)."
            ),
        ),
    }
)


def _implausible(parameter: str, value: float) -> str | None:
    """The problem with a numeric reading outside :data:`PLAUSIBLE_RANGES`, or ``None``."""
    low, high, unit = PLAUSIBLE_RANGES[parameter]
    if low <= value <= high:  # False for NaN too
        return None
    hint = _HINTS.get(parameter, "")
    return f"{parameter} {value} is not plausible: expected {low} to {high} {unit}{hint}"


def _bad_scale(scale: int) -> str | None:
    if scale in SPO2_SCALES:
        return None
    return (
        f"scale {scale} is not 1 or 2 (SpO2 scale 2 is only for hypercapnic respiratory "
        "failure with a prescribed target of 88-92%)"
    )


def _bad_consciousness(code: str) -> str | None:
    if code in CONSCIOUSNESS_LEVELS:
        return None
    return (
        f"consciousness {code!r} is not one of {', '.join(CONSCIOUSNESS_LEVELS)} "
        "(alert, new confusion, voice, pain, unresponsive)"
    )


def _require(problem: str | None) -> None:
    if problem is not None:
        raise ImplausibleReading([problem])


def _score_row(parameter: str, bands: _Bands, value: float) -> int:
    _require(_implausible(parameter, value))
    return bands.score(value)


def score_respiratory_rate(n: float) -> int:
    """Chart 1: ≤8 → 3, 9-11 → 1, 12-20 → 0, 21-24 → 2, ≥25 → 3 (breaths per minute)."""
    return _score_row("respiratory_rate", RESPIRATORY_RATE, n)


def _spo2_score(n: float, scale: int, on_oxygen: bool | None) -> int | None:
    """The SpO2 score, or ``None`` when scale 2 needs air or oxygen to decide and it is unknown."""
    _require(_implausible("spo2", n) or _bad_scale(scale))
    if scale == 1:
        return SPO2_SCALE_1.score(n)
    if on_oxygen is not None:
        return (SPO2_SCALE_2_ON_OXYGEN if on_oxygen else SPO2_SCALE_2_ON_AIR).score(n)
    on_air, on_o2 = SPO2_SCALE_2_ON_AIR.score(n), SPO2_SCALE_2_ON_OXYGEN.score(n)
    return on_air if on_air == on_o2 else None


def score_spo2(n: float, scale: int = 1, on_oxygen: bool | None = None) -> int:
    """Chart 1's SpO2 rows. Scale 1 ignores oxygen (that is the air-or-oxygen row's job);
    scale 2 above 92% scores 0 on air and 1-3 on oxygen, so there it must know which.

    Raises ``ValueError`` for scale 2 above 92% with ``on_oxygen`` unknown, and
    :class:`ImplausibleReading` for an impossible SpO2 or a scale other than 1 or 2.
    """
    score = _spo2_score(n, scale, on_oxygen)
    if score is None:
        raise ValueError(f"spo2 {n}% on scale 2 scores by air or oxygen: say which")
    return score


def score_air_or_oxygen(on_oxygen: bool) -> int:
    """Chart 1: supplemental oxygen (any device, any flow) → 2, air → 0."""
    return ON_OXYGEN_SCORE if on_oxygen else 0


def score_systolic(n: float) -> int:
    """Chart 1: ≤90 → 3, 91-100 → 2, 101-110 → 1, 111-219 → 0, ≥220 → 3 (mmHg)."""
    return _score_row("systolic", SYSTOLIC, n)


def score_pulse(n: float) -> int:
    """Chart 1: ≤40 → 3, 41-50 → 1, 51-90 → 0, 91-110 → 1, 111-130 → 2, ≥131 → 3 (per minute)."""
    return _score_row("pulse", PULSE, n)


def score_consciousness(code: str) -> int:
    """Chart 1: alert → 0; new confusion, voice, pain or unresponsive (C, V, P, U) → 3."""
    _require(_bad_consciousness(code))
    return 0 if code == ALERT else NOT_ALERT_SCORE


def score_temperature(t: float) -> int:
    """Chart 1: ≤35.0 → 3, 35.1-36.0 → 1, 36.1-38.0 → 0, 38.1-39.0 → 1, ≥39.1 → 2 (°C)."""
    return _score_row("temperature", TEMPERATURE, t)


def _check_total(total: int) -> None:
    if not 0 <= total <= MAX_TOTAL:
        raise ValueError(f"a NEWS2 total is 0 to {MAX_TOTAL}, not {total}")


def band(total: int, single_three: bool) -> str:
    """Chart 2: 7+ "high", 5-6 "medium", a single parameter scoring 3 "low-medium", else "low".

    The totals win over a single 3: a 3 with a total of 5 or more is medium or high.
    """
    _check_total(total)
    if total >= HIGH_FROM:
        return "high"
    if total >= MEDIUM_FROM:
        return "medium"
    return "low-medium" if single_three else "low"


def clinical_response(total: int, single_three: bool) -> ClinicalResponse:
    """Chart 4: a total of 0 has its own (12-hourly) response; otherwise the band's."""
    _check_total(total)
    return ZERO_RESPONSE if total == 0 else RESPONSES[band(total, single_three)]


def check_vitals(vitals: Vitals) -> list[str]:
    """Every problem with ``vitals`` (empty when all are plausible); missing readings are fine."""
    numeric = {
        "respiratory_rate": vitals.respiratory_rate,
        "spo2": vitals.spo2,
        "systolic": vitals.systolic,
        "pulse": vitals.pulse,
        "temperature": vitals.temperature,
    }
    found = [_implausible(name, value) for name, value in numeric.items() if value is not None]
    found.append(_bad_scale(vitals.scale))
    if vitals.consciousness is not None:
        found.append(_bad_consciousness(vitals.consciousness))
    return [problem for problem in found if problem is not None]


def _when_present(score: Callable[[_T], int], value: _T | None) -> int | None:
    return None if value is None else score(value)


def _readings(vitals: Vitals) -> Iterator[tuple[str, int | float | str | None, int | None]]:
    """Each parameter in chart order: its reading and score (``None`` when it cannot be scored)."""
    air_or_oxygen = None if vitals.on_oxygen is None else ("oxygen" if vitals.on_oxygen else "air")
    spo2 = None if vitals.spo2 is None else _spo2_score(vitals.spo2, vitals.scale, vitals.on_oxygen)
    yield (
        "respiratory_rate",
        vitals.respiratory_rate,
        _when_present(score_respiratory_rate, vitals.respiratory_rate),
    )
    yield "spo2", vitals.spo2, spo2
    yield "air_or_oxygen", air_or_oxygen, _when_present(score_air_or_oxygen, vitals.on_oxygen)
    yield "systolic", vitals.systolic, _when_present(score_systolic, vitals.systolic)
    yield "pulse", vitals.pulse, _when_present(score_pulse, vitals.pulse)
    yield (
        "consciousness",
        vitals.consciousness,
        _when_present(score_consciousness, vitals.consciousness),
    )
    yield "temperature", vitals.temperature, _when_present(score_temperature, vitals.temperature)


def news2(vitals: Vitals) -> News2:
    """Score ``vitals``: every parameter that can be, and a total only if all seven can.

    A parameter is missing when its reading is; SpO2 on scale 2 above 92% is missing too
    while air or oxygen is unknown (its score depends on it). Raises
    :class:`ImplausibleReading` listing every implausible reading, rather than scoring any.
    """
    problems = check_vitals(vitals)
    if problems:
        raise ImplausibleReading(problems)
    scored: list[ParameterScore] = []
    missing: list[str] = []
    for parameter, value, score in _readings(vitals):
        if value is None or score is None:
            missing.append(parameter)
        else:
            scored.append(ParameterScore(parameter, value, score))
    single_three = any(p.score == MAX_SCORE for p in scored)
    total = None if missing else sum(p.score for p in scored)
    response = None if total is None else clinical_response(total, single_three)
    return News2(
        parameters=tuple(scored),
        missing=tuple(missing),
        total=total,
        band=None if total is None else band(total, single_three),
        single_three=single_three,
        response=None if response is None else response.response,
        frequency=None if response is None else response.frequency,
        spo2_scale=vitals.scale,
    )
