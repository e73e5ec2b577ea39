"""The referral router: for one referral, every service ranked, the best proposed, with reasons.

A service that cannot take the referral is ruled out, and says why: it does not handle the
need, does not respond at that urgency, does not take referrals from this referrer, the
person is outside its ages, sex or area, its capacity is red, it is closed for the whole
time frame, or it has already returned this referral. Every service that can take it
scores by the rules file's weights (:mod:`joinedup.referrals.rules`), and each weight that
applies is a reason for or against in words, so a coordinator can check the proposal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from joinedup.directory.model import DAYS, Directory, Service
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS
from joinedup.referrals.rules import Rules

#: Opening hours are local time.
LOCAL = ZoneInfo("Europe/London")

#: Live capacity statuses a team reports; red means "not taking referrals".
CAPACITY_STATUSES = ("green", "amber", "red")

SERVICE_TYPE_WORDS = {
    "urgent_community_response": "an urgent community response team",
    "virtual_ward": "a virtual ward",
    "district_nursing": "a district nursing team",
    "falls_prevention": "a falls prevention service",
}


@dataclass(frozen=True)
class PersonContext:
    """What routing needs to know about the person (nothing that identifies them)."""

    age: int | None
    sex: str | None  # female | male | other | unknown
    area: str | None  # Integrated Care Area code, from their postcode


@dataclass(frozen=True)
class Request:
    """What a referral asks for."""

    need: str
    urgency: str
    source: str  # a referrer code
    person: PersonContext
    requested_service: str | None = None
    returned_by: Mapping[str, str] = field(default_factory=dict)  # service id -> reason


@dataclass(frozen=True)
class Candidate:
    """One service, for one referral: can it take it, its score, and why."""

    service_id: str
    service_name: str
    eligible: bool
    score: int
    reasons_for: tuple[str, ...]
    reasons_against: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """As kept with the referral (JSON)."""
        return {
            "service": self.service_id,
            "name": self.service_name,
            "eligible": self.eligible,
            "score": self.score,
            "for": list(self.reasons_for),
            "against": list(self.reasons_against),
        }


class Router:
    """Ranks a directory's services for referrals, by one set of rules."""

    def __init__(self, directory: Directory, rules: Rules) -> None:
        self.rules = rules
        self.services: tuple[Service, ...] = directory.services
        self.by_id = {s.id: s for s in directory.services}
        self.area_names = {a.code: a.name for a in directory.areas}
        # Opening hours in words, once per service (the reasons name them).
        self.hours_words = {s.id: s.opening_hours.describe() for s in directory.services}
        self.district_area = {
            district: place.area
            for place in directory.places
            for district in place.postcode_districts
        }

    def area_of(self, postcode: str | None) -> str | None:
        """The Integrated Care Area of a postcode (its district), if it is in the ICS."""
        if not postcode:
            return None
        outward = postcode.upper().split()[0] if " " in postcode else postcode.upper()[:-3]
        return self.district_area.get(outward)

    def rank(self, request: Request, statuses: Mapping[str, str], now: datetime) -> list[Candidate]:
        """Every service for ``request``: those that can take it first, best first."""
        local_now = now.astimezone(LOCAL)
        within = self.rules.within(request.urgency)
        preferred = self.rules.preferred(request.need, request.urgency)
        candidates = [
            self._judge(service, request, statuses.get(service.id), local_now, within, preferred)
            for service in self.services
        ]
        candidates.sort(key=lambda c: (not c.eligible, -c.score, len(c.reasons_against)))
        return candidates

    def propose(
        self, request: Request, statuses: Mapping[str, str], now: datetime
    ) -> tuple[Candidate | None, list[Candidate]]:
        """The proposed service (None if no service can take the referral) and the ranking."""
        ranking = self.rank(request, statuses, now)
        best = ranking[0] if ranking and ranking[0].eligible else None
        return best, ranking

    def _judge(
        self,
        service: Service,
        request: Request,
        status: str | None,
        now: datetime,
        within: timedelta,
        preferred: Sequence[str],
    ) -> Candidate:
        weights = self.rules.weights
        pros: list[str] = []
        cons: list[str] = []  # reasons against that do not rule it out
        ruled_out: list[str] = []
        score = 0

        def weigh(name: str, words: str) -> None:
            nonlocal score
            score += weights[name]
            (pros if weights[name] >= 0 else cons).append(words)

        need_words = NEEDS[request.need]
        if request.need in service.needs:
            pros.append(f"handles {need_words}")
        else:
            ruled_out.append(f"does not handle {need_words}")
        urgency = DISPOSITIONS[request.urgency]
        if request.urgency in service.dispositions:
            pros.append(f"offers {urgency.words}")
        else:
            ruled_out.append(f"does not offer {urgency.words}")
        if request.source not in service.referrers:
            ruled_out.append(f"does not take referrals from a {REFERRERS[request.source]}")
        person = request.person
        if person.age is not None and not service.age_min <= person.age <= service.age_max:
            ruled_out.append(
                f"is for ages {service.age_min} to {service.age_max}; the person is {person.age}"
            )
        if service.sex is not None and person.sex != service.sex:
            ruled_out.append(f"is for {service.sex} patients only")
        if person.area is None:
            cons.append("the person's area is not known")
        elif person.area in service.areas:
            area = self.area_names.get(person.area, person.area)
            pros.append(f"covers {area}, where the person lives")
            if service.areas == (person.area,):
                weigh("local_team", f"a local team for {area}")
        else:
            ruled_out.append(
                f"does not cover {self.area_names.get(person.area, person.area)}, where the "
                "person lives"
            )
        if status == "red":
            ruled_out.append("its capacity is red: it is not taking referrals now")
        elif status == "amber":
            weigh("capacity_amber", "its capacity is amber: under pressure")
        elif status == "green":
            weigh("capacity_green", "its capacity is green")
        else:
            weigh("capacity_unknown", "no capacity status has been reported")
        hours = self.hours_words[service.id]
        # Only a service still in the running needs the (costlier) opening-time search.
        opens = next_opening(service, now, within) if not ruled_out else now
        if opens is None:
            ruled_out.append(f"is closed for the whole time frame ({hours})")
        elif opens > now:
            weigh("closed_now", f"is closed now; opens {opens:%a %H:%M}, within the time frame")
        elif not ruled_out:
            pros.append(f"is open now ({hours})")
        if service.type in preferred:
            words = SERVICE_TYPE_WORDS.get(service.type, service.type.replace("_", " "))
            weigh("preferred_type", f"the ICS's first choice for this need is {words}")
        if request.requested_service == service.id:
            weigh("requested", "the service the referrer asked for")
        returned = request.returned_by.get(service.id)
        if returned is not None:
            ruled_out.append(f"has already returned this referral ({returned})")
        eligible = not ruled_out
        if eligible:
            score += weights["eligible"]
        return Candidate(
            service.id,
            service.name,
            eligible,
            score if eligible else 0,
            tuple(pros),
            tuple(ruled_out + cons),
        )


def next_opening(service: Service, now: datetime, within: timedelta) -> datetime | None:
    """When the service is next open from ``now`` (local time; ``now`` itself if open),
    if that is within ``within``; otherwise None."""
    hours = service.opening_hours
    if hours.all_hours:
        return now
    end = now + within
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(8):
        day = day_start + timedelta(days=offset)
        if day > end:
            break
        name = DAYS[day.weekday()]
        for session_day, opens, closes in hours.sessions:
            if session_day != name:
                continue
            start = day.replace(hour=opens.hour, minute=opens.minute)
            stop = day.replace(hour=closes.hour, minute=closes.minute, second=closes.second)
            if stop <= now:
                continue
            at = max(start, now)
            return at if at <= end else None
    return None
