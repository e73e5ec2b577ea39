"""A small ICS built in code, for tests that must not depend on the shipped directory file."""

from datetime import time

from joinedup.directory.model import (
    Area,
    Capacity,
    Directory,
    OpeningHours,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
    Service,
)


def small_directory() -> Directory:
    """Two areas, three places, two PCNs, three practices, an acute trust and two services."""
    return Directory(
        name="Test Integrated Care System",
        icb="QT6",
        areas=(Area("west", "West"), Area("east", "East")),
        places=(
            Place("Penzance", "west", ("TR18", "TR20"), 21000, 0.7),
            Place("Hayle", "west", ("TR27",), 9000, 0.5),
            Place("Liskeard", "east", ("PL14",), 10000, 0.4),
        ),
        pcns=(
            PrimaryCareNetwork("U00001", "Penwith PCN", "west"),
            PrimaryCareNetwork("U00002", "East PCN", "east"),
        ),
        organisations=(
            Organisation(
                "REF",
                "Royal Cornwall Hospitals NHS Trust",
                OrganisationKind.ACUTE_TRUST,
                synthetic=False,
                area="west",
                beds=750,
            ),
            Organisation(
                "L00001",
                "Morrab Surgery",
                OrganisationKind.GP_PRACTICE,
                area="west",
                place="Penzance",
                pcn="U00001",
            ),
            Organisation(
                "L00002",
                "Hayle Surgery",
                OrganisationKind.GP_PRACTICE,
                area="west",
                place="Hayle",
                pcn="U00001",
            ),
            Organisation(
                "L00003",
                "Liskeard Surgery",
                OrganisationKind.GP_PRACTICE,
                area="east",
                place="Liskeard",
                pcn="U00002",
            ),
        ),
        services=(
            Service(
                "ucr-west",
                "Urgent community response (West)",
                "REF",
                "urgent_community_response",
                ("west",),
                18,
                120,
                "Adults at risk of admission",
                OpeningHours(
                    sessions=tuple(
                        (d, time(8), time(20))
                        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                    )
                ),
                Capacity(40, "contacts per day"),
            ),
            Service(
                "ed-rch",
                "Emergency department",
                "REF",
                "emergency_department",
                ("west", "east"),
                capacity=None,
            ),
            # Open to midnight: kept as time.max, which must survive the store's round trip.
            Service(
                "mh-crisis",
                "Evening crisis line",
                "REF",
                "mental_health_crisis",
                ("east",),
                opening_hours=OpeningHours(sessions=(("fri", time(18), time.max),)),
            ),
        ),
    )
