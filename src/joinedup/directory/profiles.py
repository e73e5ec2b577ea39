"""The words a service profile is written in, as the NHS Directory of Services profiles services.

A profile says what a service handles (``needs``), how fast it responds (``dispositions``:
urgencies, each with a time frame), who may refer to it (``referrers``, ``self`` for
self-referral) and for whom (age range, sex, areas, in :class:`~joinedup.directory.model.Service`).
Each service type has a default profile (:data:`TYPE_PROFILES`); a service's entry in the
directory file can say otherwise. The referral router (:mod:`joinedup.referrals.router`)
matches a referral's need, urgency and referrer against these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: The needs and conditions a referral can be for, and a service can handle: code -> words.
NEEDS: dict[str, str] = {
    "fall": "a fall, or at risk of falling",
    "frailty": "frailty: declining mobility, function or independence",
    "acute_deterioration": "sudden deterioration at home (infection, delirium, unwell)",
    "wound_care": "wounds, leg ulcers and pressure ulcers",
    "catheter_continence": "catheter, continence or stoma care",
    "medication_support": "help with medicines, injections or infusions at home",
    "breathlessness": "breathlessness, COPD or home oxygen",
    "heart_failure": "heart failure",
    "end_of_life": "palliative and end-of-life care",
    "memory_dementia": "memory problems or dementia",
    "mental_health_crisis": "a mental-health crisis",
    "mental_health_ongoing": "ongoing mental-health needs",
    "rehabilitation": "rehabilitation after illness or a hospital stay",
    "personal_care": "help with personal care and daily living at home",
    "care_home": "a residential or nursing care-home place",
    "care_and_support": "care and support needs (a Care Act assessment)",
    "loneliness": "loneliness and social isolation",
    "wellbeing": "wellbeing, money, housing or social needs",
    "carer_strain": "an unpaid carer needing support",
    "child_health": "a child's health needs at home",
    "minor_injury": "a minor injury",
    "emergency": "a life-threatening emergency",
}


@dataclass(frozen=True)
class Disposition:
    """An urgency, as a service's disposition with the time frame it must respond in."""

    code: str
    words: str
    within: timedelta


#: Urgencies, most urgent first. The router's rules file may change the time frames.
DISPOSITIONS: dict[str, Disposition] = {
    d.code: d
    for d in (
        Disposition("emergency", "an emergency response within the hour", timedelta(hours=1)),
        Disposition("two_hour", "an urgent community response within 2 hours", timedelta(hours=2)),
        Disposition("same_day", "a response the same day (within 24 hours)", timedelta(hours=24)),
        Disposition("within_72_hours", "a response within 3 days", timedelta(hours=72)),
        Disposition("routine", "a routine response (within 2 weeks)", timedelta(days=14)),
    )
}

#: Who refers: code -> words. ``self`` is self-referral by the person or their carer.
REFERRERS: dict[str, str] = {
    "gp": "GP practice",
    "paramedic": "ambulance service (paramedic)",
    "hospital": "hospital ward or department",
    "community_health": "community health team",
    "mental_health": "mental-health team",
    "social_care": "social worker",
    "care_coordinator": "care coordination centre",
    "voluntary_sector": "voluntary sector organisation",
    "care_home": "care home",
    "self": "self-referral",
}

#: The referrer a signed-in user refers as, by their role in the access policy.
REFERRER_FOR_ROLE: dict[str, str] = {
    "gp": "gp",
    "paramedic": "paramedic",
    "hospital_clinician": "hospital",
    "community_nurse": "community_health",
    "mental_health_practitioner": "mental_health",
    "social_worker": "social_care",
    "care_coordinator": "care_coordinator",
    "voluntary_sector_worker": "voluntary_sector",
}

#: Sexes a service can be limited to (``None`` on the service: anyone).
SEXES = ("female", "male")

#: Professionals (everyone but ``self``).
PROFESSIONALS: tuple[str, ...] = tuple(r for r in REFERRERS if r != "self")


@dataclass(frozen=True)
class TypeProfile:
    """The default profile of a service type."""

    needs: tuple[str, ...]
    dispositions: tuple[str, ...]
    referrers: tuple[str, ...] = PROFESSIONALS


_ALL_AND_SELF = (*PROFESSIONALS, "self")

#: Each service type's default profile; a service's own entry in the directory may differ.
TYPE_PROFILES: dict[str, TypeProfile] = {
    "emergency_department": TypeProfile(("emergency",), ("emergency",), _ALL_AND_SELF),
    "urgent_treatment_centre": TypeProfile(("minor_injury",), ("same_day",), _ALL_AND_SELF),
    "minor_injury_unit": TypeProfile(("minor_injury",), ("same_day",), _ALL_AND_SELF),
    "emergency_ambulance": TypeProfile(("emergency",), ("emergency",), _ALL_AND_SELF),
    # NHS England asks UCR teams to take referrals from all appropriate sources: GPs, 111,
    # 999 and ambulance crews, care homes and other professionals. Not every team takes
    # self-referral, so the default leaves it out; a team that does can say so.
    "urgent_community_response": TypeProfile(
        ("fall", "frailty", "acute_deterioration", "catheter_continence", "end_of_life"),
        ("two_hour", "same_day"),
    ),
    "district_nursing": TypeProfile(
        ("wound_care", "catheter_continence", "medication_support", "end_of_life", "frailty"),
        ("same_day", "within_72_hours", "routine"),
    ),
    "community_hospital": TypeProfile(
        ("rehabilitation", "frailty", "end_of_life"),
        ("same_day", "within_72_hours"),
        ("hospital", "gp", "community_health", "care_coordinator"),
    ),
    "virtual_ward": TypeProfile(
        ("acute_deterioration", "breathlessness", "heart_failure", "frailty"), ("same_day",)
    ),
    "reablement": TypeProfile(("rehabilitation", "personal_care"), ("within_72_hours", "routine")),
    "home_care": TypeProfile(
        ("personal_care",), ("routine",), ("social_care", "hospital", "care_coordinator")
    ),
    "care_home_placement": TypeProfile(("care_home",), ("routine",), ("social_care", "hospital")),
    "social_work_assessment": TypeProfile(
        ("care_and_support", "personal_care", "carer_strain"),
        ("same_day", "within_72_hours", "routine"),
        _ALL_AND_SELF,
    ),
    "mental_health_crisis": TypeProfile(
        ("mental_health_crisis",), ("two_hour", "same_day"), _ALL_AND_SELF
    ),
    "community_mental_health": TypeProfile(
        ("mental_health_ongoing",), ("within_72_hours", "routine")
    ),
    "memory_assessment": TypeProfile(("memory_dementia",), ("routine",), ("gp", "mental_health")),
    "falls_prevention": TypeProfile(("fall", "frailty"), ("routine",), _ALL_AND_SELF),
    "community_respiratory": TypeProfile(
        ("breathlessness",), ("same_day", "within_72_hours", "routine")
    ),
    "heart_failure_nursing": TypeProfile(("heart_failure",), ("within_72_hours", "routine")),
    "palliative_care": TypeProfile(("end_of_life",), ("same_day", "within_72_hours", "routine")),
    "social_prescribing": TypeProfile(
        ("wellbeing", "loneliness", "carer_strain"), ("routine",), _ALL_AND_SELF
    ),
    "befriending": TypeProfile(("loneliness",), ("routine",), _ALL_AND_SELF),
    "carers_support": TypeProfile(("carer_strain",), ("routine",), _ALL_AND_SELF),
    "childrens_community_nursing": TypeProfile(
        ("child_health", "wound_care", "medication_support"),
        ("same_day", "within_72_hours", "routine"),
    ),
}
