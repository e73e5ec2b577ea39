"""The synthetic ICS's people: who they are, where they live, where they are registered.

A population with Cornwall's age structure (older than England's), spread across the
directory's places in proportion to their populations, living in synthetic small areas
(LSOA-like) whose deprivation leans as each place's does. Over the period people are born,
die, move house and change practice.

Randomness: every random draw comes from a stream derived from (seed, chunk, stream name)
(:func:`random_stream`), so a chunk's people are the same whichever process makes them and
in whatever order the chunks run. Geography (small areas, postcodes, streets) is drawn once
from directory-level streams and is the same in every chunk.

This module holds row-level (synthetic) person data: it never logs a person.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np

from joinedup.directory.model import Directory, Organisation, Place
from joinedup.synthetic import codes
from joinedup.synthetic.health import LatentHealth, draw_diagnoses
from joinedup.synthetic.model import Address, Person, Registration

#: The spawn-key slot used for streams that belong to the whole ICS rather than to one chunk.
ICS_LEVEL: Final = 2**32 - 1


def random_stream(seed: int, chunk: int, name: str) -> np.random.Generator:
    """The random stream ``name`` of ``chunk`` under ``seed`` (independent of every other).

    Stream names are hashed with CRC-32 (stable across runs and Python versions, unlike
    ``hash``) into the SeedSequence spawn key.
    """
    key = (chunk, zlib.crc32(name.encode()))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def python_random(rng: np.random.Generator) -> random.Random:
    """A ``random.Random`` seeded from ``rng``: much faster for one draw at a time in loops."""
    return random.Random(int(rng.integers(0, 2**63)))


# --- NHS numbers -------------------------------------------------------------------------

#: NHS England reserves 999 000 0000 - 999 999 9999 for test data (never issued to a person).
TEST_RANGE_PREFIX: Final = 999
#: Nine-digit stems run 999 000 000 - 999 999 999: 100,000 blocks of ten, each with at least nine
#: stems that make a valid number (see :func:`nhs_numbers_for_indices`).
MAX_PEOPLE: Final = 900_000

_WEIGHTS = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)


def nhs_check_digit(stem: str) -> int | None:
    """The Modulus 11 check digit for a nine-digit stem, or None where it would be 10 (invalid).

    NHS Data Dictionary, "NHS Number": weights 10 down to 2 on digits 1-9; check digit =
    11 - (sum mod 11); 11 becomes 0; 10 means no valid number has this stem.
    """
    if len(stem) != 9 or not stem.isdigit():
        raise ValueError("an NHS number stem is nine digits")
    total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(number: str) -> bool:
    """Whether ``number`` (ten digits, no spaces) passes the Modulus 11 check."""
    if len(number) != 10 or not number.isdigit():
        return False
    return nhs_check_digit(number[:9]) == int(number[9])


def nhs_numbers_for_indices(indices: np.ndarray) -> list[str]:
    """Unique valid NHS numbers in the 999 test range, one for each population index.

    Index ``i`` takes block ``i // 9`` of ten consecutive stems and the ``(i % 9)``-th valid
    stem in it. Within a block the last digit has weight 2, invertible mod 11, so the ten
    stems have ten different remainders and at most one is invalid: every block holds nine
    valid numbers, and the mapping needs no state shared between chunks.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= MAX_PEOPLE):
        raise ValueError(f"population index out of range (at most {MAX_PEOPLE:,} people)")
    prefix = TEST_RANGE_PREFIX * 100_000 + idx // 9  # first eight digits of the stem
    digits8 = (prefix[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    partial = digits8 @ _WEIGHTS[:8]
    last = np.arange(10)
    remainder = (partial[:, None] + 2 * last[None, :]) % 11
    check = (11 - remainder) % 11  # 11 -> 0
    valid = check != 10
    rank = np.cumsum(valid, axis=1) - 1
    wanted = (idx % 9)[:, None]
    choice = np.argmax(valid & (rank == wanted), axis=1)
    chosen_check = check[np.arange(idx.size), choice]
    numbers = (prefix * 10 + choice) * 10 + chosen_check
    return [f"{n:010d}" for n in numbers.tolist()]


def practice_local_id(practice: str, index: int, sequence: int) -> str:
    """The practice system's own patient id for a person's ``sequence``-th registration.

    A per-practice bijection of (index, sequence) onto seven-digit numbers: unique within the
    practice, stable, and not guessable from the population index without the key.
    """
    modulus = 9_999_991  # prime, above 4 x MAX_PEOPLE
    key = zlib.crc32(practice.encode()) % modulus
    value = ((index * 4 + sequence) * 48_271 + key) % modulus
    return f"{value:07d}"


# --- Geography ---------------------------------------------------------------------------

#: Residents per synthetic small area (LSOAs hold about 1,500 - 1,800 people).
SMALL_AREA_SIZE: Final = 1_650
#: Synthetic small-area codes: E0199 + four digits. Real LSOA codes run E01000001 - E0103xxxx,
#: so these can never be mistaken for real ones.
SMALL_AREA_PREFIX: Final = "E0199"
_POSTCODE_UNIT_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"  # inward codes never use C I K M O V


def _names(text: str) -> tuple[str, ...]:
    # Word lists are written as text blocks: easier to read and edit than long literals.
    return tuple(text.split())


STREET_STEMS: Final = _names(
    """Trelawney Penrose Trevithick Chapel Fore Church Station Mount Harbour Bosvean Tregolls
    Polwhele Trenance Penwerris Boscawen Lemon Kenwyn Treliske Pendarves Trevail Carne
    Hillside Meadow Orchard Valley Queen King Victoria Albert Alexandra Coronation Jubilee
    Prospect Belmont Tolvean Trewartha Penhallow Treloyhan Porthmeor Godolphin Morrab
    Alverton Tremough Killigrew Arwenack Trevethan Kernick Penventon Trefusis Lanyon
    Trenoweth Roskear Pengegon Trevu Dolcoath Polkyth Carlyon Bosmeor Treverbyn Penpol
    Polgooth Beacon Cliff Marine Trevarthian Tregenna Rosewarne Carn Bodriggy Tremorvah
    Chyandour Gwithian Penzance Pentire Trebarwith Polventon Trevose Treyew Bellevue"""
)
STREET_SUFFIXES: Final = (
    "Road", "Street", "Close", "Lane", "Terrace", "Gardens", "Crescent", "Avenue", "Way",
    "Drive", "Place", "Court", "Hill", "Park", "View", "Row", "Rise", "Meadows",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SmallArea:
    """A synthetic LSOA-like small area: its code, place, deprivation and postcode units."""

    code: str
    place: int  # index into Geography.places
    imd_decile: int
    postcodes: tuple[str, ...]
    streets: tuple[str, ...]  # the street of each postcode unit


@dataclass(frozen=True, slots=True)
class Geography:
    """The ICS's places, small areas and practices as the generator draws people from them."""

    places: tuple[Place, ...]
    place_weights: np.ndarray  # share of the population living in each place
    small_areas: tuple[SmallArea, ...]
    areas_of_place: tuple[tuple[int, ...], ...]  # small-area indices of each place
    practices_of_place: tuple[tuple[Organisation, ...], ...]  # practices serving each place
    area_of_place: tuple[str, ...]


def build_geography(directory: Directory, seed: int) -> Geography:
    """Draw the ICS's small areas, postcodes and streets (the same for every chunk)."""
    if not directory.places:
        raise ValueError("the directory has no places to put people in")
    if not directory.practices:
        raise ValueError("the directory has no GP practices to register people with")
    rng = random_stream(seed, ICS_LEVEL, "geography")
    places = directory.places
    used_postcodes: set[str] = set()
    small_areas: list[SmallArea] = []
    areas_of_place: list[tuple[int, ...]] = []
    for place_index, place in enumerate(places):
        count = max(1, round(place.population / SMALL_AREA_SIZE))
        # deprivation 0 leans to the least deprived deciles (10), 1 to the most deprived (1).
        mean_decile = 1.0 + 9.0 * (1.0 - place.deprivation)
        members: list[int] = []
        for i in range(count):
            district = place.postcode_districts[i % len(place.postcode_districts)]
            decile = int(np.clip(round(rng.normal(mean_decile, 2.0)), 1, 10))
            units = 20 + int(rng.integers(0, 20))
            postcodes: list[str] = []
            streets: list[str] = []
            while len(postcodes) < units:
                letters = rng.choice(len(_POSTCODE_UNIT_LETTERS), size=2)
                inward = (
                    f"{int(rng.integers(0, 10))}"
                    f"{_POSTCODE_UNIT_LETTERS[letters[0]]}{_POSTCODE_UNIT_LETTERS[letters[1]]}"
                )
                postcode = f"{district} {inward}"
                if postcode in used_postcodes:
                    continue
                used_postcodes.add(postcode)
                postcodes.append(postcode)
                stem = STREET_STEMS[int(rng.integers(0, len(STREET_STEMS)))]
                suffix = STREET_SUFFIXES[int(rng.integers(0, len(STREET_SUFFIXES)))]
                streets.append(f"{stem} {suffix}")
            members.append(len(small_areas))
            small_areas.append(
                SmallArea(
                    code=f"{SMALL_AREA_PREFIX}{len(small_areas) + 1:04d}",
                    place=place_index,
                    imd_decile=decile,
                    postcodes=tuple(postcodes),
                    streets=tuple(streets),
                )
            )
        areas_of_place.append(tuple(members))
    weights = np.array([p.population for p in places], dtype=float)
    return Geography(
        places=places,
        place_weights=weights / weights.sum(),
        small_areas=tuple(small_areas),
        areas_of_place=tuple(areas_of_place),
        practices_of_place=tuple(_practices_serving(directory, p) for p in places),
        area_of_place=tuple(p.area for p in places),
    )


def _practices_serving(directory: Directory, place: Place) -> tuple[Organisation, ...]:
    """The practices in the place; else those in its area (the directory has no coordinates,
    so "nearest" is the area's); else every practice."""
    in_place = tuple(p for p in directory.practices if p.place == place.name)
    if in_place:
        return in_place
    in_area_places = {p.name for p in directory.places_in(place.area)}
    in_area = tuple(
        p for p in directory.practices if p.place in in_area_places or p.area == place.area
    )
    return in_area or directory.practices


# --- Names ---------------------------------------------------------------------------------

#: Eras of birth for given names: popular names change by generation.
NAME_ERAS: Final = (1950, 1970, 1990, 2010)  # before 1950, 1950-69, 1970-89, 1990-2009, 2010 on


#: British given names by era (ONS baby-name lists and older registers, order of magnitude),
#: with Cornish names (Tamsin, Morwenna, Jago, Piran...) among the younger ones.
GIVEN_NAMES: Final = {
    "female": (
        _names("""Margaret Patricia Jean Mary Joan Dorothy Barbara Betty Joyce Sheila Brenda
        Doreen Kathleen Audrey Maureen Pamela Irene Elizabeth Shirley Sylvia Valerie June
        Eileen Marjorie Edna Phyllis Iris Gladys Rita Vera Evelyn Marion Beryl Hilda Winifred
        Peggy Ann Muriel Jessie Mavis"""),
        _names("""Susan Linda Christine Carol Elizabeth Janet Julie Karen Gillian Jacqueline
        Deborah Lesley Alison Angela Anne Diane Helen Wendy Sandra Lynn Denise Sarah Tracey
        Jane Catherine Sharon Dawn Lorraine Jennifer Judith Hazel Pauline Elaine Jill Teresa
        Marilyn Heather Mandy Julia Tamsin"""),
        _names("""Sarah Claire Emma Nicola Lisa Joanne Rachel Michelle Kelly Louise Amanda
        Samantha Victoria Rebecca Helen Laura Kerry Donna Stephanie Katherine Natalie Gemma
        Hayley Zoe Emily Jennifer Melanie Kirsty Lucy Kate Charlotte Anna Jodie Leanne Carly
        Tanya Joanna Lindsey Tamsin Morwenna Jenna"""),
        _names("""Jessica Lauren Hannah Sophie Emily Chloe Amy Megan Charlotte Rebecca Bethany
        Holly Ellie Katie Olivia Georgia Lucy Abigail Grace Molly Jade Danielle Eleanor Amber
        Shannon Paige Courtney Natasha Hollie Kayleigh Jasmine Ella Leah Alice Millie Caitlin
        Phoebe Demelza Lowenna Kerensa"""),
        _names("""Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow
        Florence Emily Ella Poppy Evie Elsie Charlotte Evelyn Sienna Daisy Harper Matilda
        Isabelle Phoebe Sofia Millie Ruby Esme Alice Maisie Eliza Orla Thea Margot Nancy
        Elowen Tegen Lowenna Morwenna"""),
    ),
    "male": (
        _names("""John William David Peter Michael Robert Brian Kenneth Ronald Alan Derek
        George Dennis Roy Anthony Raymond Keith Colin Leslie Frederick Arthur Harold Gordon
        Donald Terence Eric Geoffrey Norman Stanley Albert Ernest Frank Sidney Walter Cyril
        Reginald Douglas Edward Thomas James"""),
        _names("""David Paul Andrew Mark Stephen Michael Peter Ian Richard Robert John Gary
        Steven Kevin Nigel Martin Graham Philip Simon Christopher Timothy Jonathan Neil
        Anthony Colin Keith Trevor Alan Roger Malcolm Clive Barry Dean Julian Adrian Russell
        Carl Jeremy Glen Derek"""),
        _names("""Christopher Matthew James Daniel David Andrew Richard Mark Paul Michael
        Robert Lee Jason Craig Darren Stuart Ben Thomas Benjamin Adam Jonathan Nicholas Simon
        Gareth Wayne Scott Ryan Jamie Neil Carl Dean Ashley Gavin Martin Philip Kevin Shaun
        Ross Luke Tristan"""),
        _names("""Thomas Jack Joshua James Daniel Samuel Matthew Ryan Liam Luke Callum Jordan
        Connor Harry Benjamin Lewis Adam Jake Oliver William Alexander Nathan Joseph George
        Charlie Kieran Bradley Jamie Aaron Sam Dylan Reece Max Ethan Christopher Owen Alfie
        Kyle Josh Jago"""),
        _names("""Oliver George Noah Arthur Leo Harry Oscar Theodore Freddie Jack Charlie Theo
        Jacob Alfie Henry Archie Thomas Finley Arlo Tommy Lucas William Isaac Max Ethan Teddy
        Louie Jude Edward Ronnie Albert Reggie Joshua Elijah Rory Felix Hugo Toby Jago Piran
        Kenver"""),
    ),
}

#: Surnames: common English ones and Cornish ones (Cornwall's own surnames are common there).
BRITISH_SURNAMES: Final = _names(
    """Smith Jones Williams Brown Taylor Davies Evans Wilson Thomas Johnson Roberts Robinson
    Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Jackson Wood
    Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen
    James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook
    Carter Richardson Bailey Collins Bell Shaw Miller Cox Richards Marshall Anderson Simpson
    Ellis Adams Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Hunt Campbell Matthews
    Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins
    Murray Dixon Harvey Graham Pearson Fletcher Gibson Howard Andrews Stewart Elliott Reynolds
    Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer Gill
    Dawson Ball Burton Watts Rose Booth Perry Grant Wells Armstrong Francis Rees Hayes Hart
    Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons
    Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton Oliver Reed Williamson
    Bird Gardner Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton Burns Nicholson
    Shepherd Ross Cross Long Freeman Warren Hamilton Sutton Yates Hodgson Robson Curtis
    Hopkins Harper Coleman Watkins Moss Chambers Griffin Sharp Hardy Wheeler Potter Osborne
    Johnston Gordon Wallace George Jordan Hutchinson Burke Pritchard Willis Higgins Read Miles
    Stevenson Hammond Arnold Buckley Walters Hewitt Barber Nelson Slater Austin Whitehead Mann
    Frost Lambert Blake Goodwin Barton Woodward Cunningham Baxter Clayton Nash Greenwood
    Jennings Holt Kemp Poole Bond Stokes Tucker Davidson Fowler Heath Norman Middleton Banks
    French Cornish"""
)
CORNISH_SURNAMES: Final = _names(
    """Pascoe Trevithick Penrose Nance Rowe Jenkin Tregear Trelawny Polglase Penhaligon
    Tremayne Trewin Trebilcock Pengelly Chenoweth Curnow Angove Hocking Rodda Couch Uren Jory
    Hicks Jago Retallack Rosewarne Tonkin Tregunna Vivian Bolitho Carne Eddy Hosking Keast
    Laity Libby Opie Pender Rowse Spargo Stephens Tremewan Trenear Trengove Trevaskis Treloar
    Trudgeon Truscott Dunstan Lanyon Nicholls Oates Penberthy Sandercock Teague Kitto
    Kneebone Lobb Menhenick Glasson Gilbert Bray Brokenshire Coad Davey Dingle Ellery
    Goldsworthy Grose Hawke Hender Julyan Liddicoat Martyn May Moyle Nankivell Odgers Paull
    Penna Prout Quick Rosevear Symons Tippett Treweek Trewhella Venning Vosper Wearne Richards
    Williams Mitchell Pollard Harvey Thomas Roberts Collins Hoskin Trethewey Tresidder"""
)
IRISH_SURNAMES: Final = _names(
    """Murphy Kelly O'Brien O'Sullivan Walsh Byrne Ryan O'Connor O'Neill McCarthy Doyle
    Gallagher Kennedy Lynch Quinn Brennan Doherty Fitzgerald Nolan Sweeney"""
)

#: Names for people of other backgrounds, as in Cornwall's ethnicity mix (Census 2021).
OTHER_NAMES: Final = {
    # group: (female given names, male given names, surnames)
    "other_white": (
        _names(
            "Agnieszka Katarzyna Anna Magdalena Joanna Ewa Monika Ioana Elena Maria Sofia "
            "Giulia Ana Laura Julia Natalia Aleksandra Marta Daniela Andreea"
        ),
        _names(
            "Piotr Tomasz Krzysztof Marcin Pawel Andrzej Lukasz Mateusz Adrian Ionut Marco "
            "Luca Juan Jose Mihai Jakub Bartosz Andrei Stefan Dmitri"
        ),
        _names(
            "Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski "
            "Popescu Ionescu Rossi Garcia Silva Santos Muller Novak Horvath Petrov Ivanova "
            "Kazlauskas Schmidt Ferreira Romano Dumitru Jankowski"
        ),
    ),
    "south_asian": (
        _names(
            "Aisha Fatima Priya Amira Zara Ananya Nadia Sana Anjali Maryam Nusrat Rukhsana "
            "Shabana Parveen Kiran Deepa Sunita Meera Hafsa Ayesha"
        ),
        _names(
            "Mohammed Ahmed Ali Arjun Imran Rahul Hassan Omar Raj Sanjay Amir Bilal Tariq "
            "Vikram Sunil Zain Yusuf Farhan Harjit Ravi"
        ),
        _names(
            "Khan Ahmed Patel Hussain Begum Ali Shah Singh Kaur Sharma Iqbal Akhtar Rahman "
            "Mahmood Chowdhury Islam Mistry Gupta Kumar Malik"
        ),
    ),
    "black": (
        _names(
            "Abena Chioma Ngozi Adaeze Amara Blessing Grace Esther Folake Yetunde Keisha "
            "Shanice Marcia Comfort Precious Ama Nia Imani"
        ),
        _names(
            "Kwame Chinedu Oluwaseun Emeka Kofi Tunde Femi Samuel Daniel Jermaine Leroy "
            "Delroy Tendai Abdi Mohamed Kwabena Yaw Winston"
        ),
        _names(
            "Okafor Adeyemi Mensah Osei Boateng Okonkwo Campbell Williams Brown Johnson "
            "Ibrahim Abdi Mohamed Nwosu Asante Grant Francis Clarke"
        ),
    ),
    "chinese": (
        _names("Mei Li Xin Ying Hui Wing Jing Yan Lian Xiu"),
        _names("Wei Jun Hao Chen Ming Kai Lei Jian Bo Feng"),
        _names("Chen Wang Li Zhang Liu Wong Chan Lee Cheung Ng Lam Ho"),
    ),
    "other": (
        _names("Layla Noor Yasmin Mariam Hana Leila Rania Dina"),
        _names("Omar Khalid Karim Samir Youssef Tariq Nabil Hamza"),
        _names("Haddad Nasser Aziz Saleh Mansour Hamdan Khalil Rahimi"),
    ),
}

#: Cornwall and the Isles of Scilly's ethnic mix (Census 2021, order of magnitude: about 95%
#: White British), as NHS ethnic category codes.
ETHNICITY_MIX: Final = {
    "A": 0.9445, "B": 0.004, "C": 0.0265, "D": 0.003, "E": 0.001, "F": 0.004, "G": 0.003,
    "H": 0.002, "J": 0.0005, "K": 0.0005, "L": 0.003, "M": 0.001, "N": 0.002, "P": 0.0005,
    "R": 0.002, "S": 0.003,
}  # fmt: skip
_ETHNIC_CODES = tuple(ETHNICITY_MIX)
_ETHNIC_P = np.array([ETHNICITY_MIX[c] for c in _ETHNIC_CODES]) / sum(ETHNICITY_MIX.values())
_NAME_GROUP = {
    "C": "other_white", "H": "south_asian", "J": "south_asian", "K": "south_asian",
    "L": "south_asian", "N": "black", "P": "black", "R": "chinese", "S": "other",
}  # fmt: skip
#: Share of White British people with a Cornish surname.
CORNISH_SURNAME_SHARE: Final = 0.28


def _draw_name(rnd: random.Random, sex: str, birth_year: int, ethnicity: str) -> tuple[str, str]:
    group = _NAME_GROUP.get(ethnicity)
    # Mixed backgrounds and Black Caribbean people in Cornwall mostly carry British names.
    if group is not None and not (group == "black" and ethnicity == "M" and rnd.random() < 0.6):
        female, male, surnames = OTHER_NAMES[group]
        return rnd.choice(female if sex == "female" else male), rnd.choice(surnames)
    era = sum(birth_year >= year for year in NAME_ERAS)
    given = rnd.choice(GIVEN_NAMES[sex][era])
    if ethnicity == "B":
        return given, rnd.choice(IRISH_SURNAMES)
    if rnd.random() < CORNISH_SURNAME_SHARE:
        return given, rnd.choice(CORNISH_SURNAMES)
    return given, rnd.choice(BRITISH_SURNAMES)


# --- Demography parameters -----------------------------------------------------------------

#: Births a year per resident (Cornwall: about 4,800 births for 570,000 people).
BIRTH_RATE: Final = 0.0085
#: Deaths a year per resident (Cornwall: about 6,500 a year, 1.1%).
DEATH_RATE: Final = 0.011
#: Gompertz slope of mortality with age (mortality roughly doubles every 7-8 years).
GOMPERTZ_SLOPE: Final = 0.095
#: Moves of house a year: young adults move most.
MOVE_RATE_YOUNG_ADULT: Final = 0.10
MOVE_RATE_OTHER: Final = 0.035
#: Of moves, the share to another place (the rest stay in the same town).
MOVE_TO_OTHER_PLACE: Final = 0.4
#: Of moves within a place, the share that also change practice.
CHANGE_PRACTICE_WITHIN_PLACE: Final = 0.15
#: Share of residents registered with no practice (recent arrivals, some students, rough
#: sleepers): partner records without a GP are part of the mess the platform must handle.
UNREGISTERED: Final = 0.004

_MORTALITY_LOADING_GENERAL = 0.5
_MORTALITY_LOADING_FRAILTY = 0.3


def _gompertz_level() -> float:
    """Level of the Gompertz hazard that gives DEATH_RATE on Cornwall's age structure."""
    weights = codes.band_weights(codes.CORNWALL_AGE_PERCENT)
    mean = sum(
        w * math.exp(GOMPERTZ_SLOPE * (start + (2.5 if start < 90 else 4.0)))
        for start, w in zip(codes.AGE_BAND_STARTS, weights, strict=True)
    )
    return DEATH_RATE / mean


_GOMPERTZ_LEVEL = _gompertz_level()


def latent_frailty(age: np.ndarray, latent: LatentHealth) -> np.ndarray:
    """Latent frailty (0 to 1, on the Electronic Frailty Index's scale) rising with age.

    About 0.08 at 65, 0.2 at 80 and 0.3 at 90 on average, higher for people in poor health:
    a rough match to the eFI's spread in English primary care (Clegg et al. 2016).
    """
    x = (age - 88.0) / 11.0 + 0.6 * latent.general + 0.5 * latent.clusters["frailty"]
    return np.clip(0.02 + 0.55 / (1.0 + np.exp(-x)), 0.0, 1.0)


# --- Drawing people -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """The generated period [start, end)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """Length in days."""
        return (self.end - self.start).days

    @property
    def years(self) -> float:
        """Length in years."""
        return self.days / 365.25


def draw_people(
    *,
    geography: Geography,
    period: Period,
    seed: int,
    chunk: int,
    first_index: int,
    count: int,
) -> list[Person]:
    """Draw ``count`` people with population indices ``first_index`` onwards.

    Everyone alive at some point in the period: residents at its start and babies born
    during it. Each person's addresses, registrations, diagnoses, death and frailty are
    drawn here; their activity is drawn by the feed writers.
    """
    if count <= 0:
        return []
    rng = random_stream(seed, chunk, "population")
    rnd = python_random(random_stream(seed, chunk, "population-detail"))
    n = count
    start_ord = period.start.toordinal()
    end_ord = period.end.toordinal()

    # Age and sex: residents at the start from Cornwall's bands; babies born in the period.
    birth_share = BIRTH_RATE * period.years / (1.0 + BIRTH_RATE * period.years)
    born_in_period = rng.random(n) < birth_share
    band = rng.choice(
        len(codes.AGE_BAND_STARTS), size=n, p=codes.band_weights(codes.CORNWALL_AGE_PERCENT)
    )
    band_start = np.asarray(codes.AGE_BAND_STARTS)[band]
    within = np.where(
        band_start >= 90, np.minimum(rng.exponential(3.5, n), 15.0), rng.random(n) * 5
    )
    age_at_start = np.where(born_in_period, 0.0, band_start + within)
    birth_ord = np.where(
        born_in_period,
        start_ord + (rng.random(n) * period.days).astype(np.int64),
        start_ord - np.maximum(1, (age_at_start * 365.25).astype(np.int64)),
    )
    male_share = np.where(born_in_period, 0.512, np.asarray(codes.MALE_SHARE_BY_BAND)[band])
    is_male = rng.random(n) < male_share
    age_at_start = (start_ord - birth_ord) / 365.25  # exact (negative for babies)

    # Latent health, frailty and death.
    latent = LatentHealth.draw(rng, n)
    mid_age = np.maximum(age_at_start + period.years / 2, 0.0)
    frailty = latent_frailty(mid_age, latent)
    log_hazard = (
        GOMPERTZ_SLOPE * mid_age
        + _MORTALITY_LOADING_GENERAL * latent.general
        + _MORTALITY_LOADING_FRAILTY * latent.clusters["frailty"]
        - (_MORTALITY_LOADING_GENERAL**2 + _MORTALITY_LOADING_FRAILTY**2) / 2
    )
    hazard_per_day = _GOMPERTZ_LEVEL * np.exp(log_hazard) / 365.25
    time_to_death = rng.exponential(1.0, n) / hazard_per_day
    alive_from = np.maximum(birth_ord, start_ord)
    death_ord = alive_from + np.ceil(time_to_death).astype(np.int64)
    dies = death_ord < end_ord
    stop_ord = np.where(dies, death_ord, end_ord)  # last day + 1 in the ICS

    # Where people live: a place in proportion to population, a small area within it.
    place = rng.choice(len(geography.places), size=n, p=geography.place_weights)
    first_area_pick = rng.random(n)
    ethnicity = rng.choice(len(_ETHNIC_CODES), size=n, p=_ETHNIC_P)
    unregistered = rng.random(n) < UNREGISTERED

    first_area = np.empty(n, dtype=np.int64)
    for i in range(n):
        members = geography.areas_of_place[place[i]]
        first_area[i] = members[int(first_area_pick[i] * len(members))]
    decile = np.array([geography.small_areas[a].imd_decile for a in first_area], dtype=np.int64)

    diagnoses = draw_diagnoses(
        rng=random_stream(seed, chunk, "diagnoses"),
        latent=latent,
        is_male=is_male,
        imd_decile=decile,
        birth_ord=birth_ord,
        stop_ord=stop_ord,
        start_ord=start_ord,
    )
    nhs_numbers = nhs_numbers_for_indices(np.arange(first_index, first_index + n))

    people: list[Person] = []
    for i in range(n):
        index = first_index + i
        sex = "male" if is_male[i] else "female"
        birth = date.fromordinal(int(birth_ord[i]))
        eth = _ETHNIC_CODES[int(ethnicity[i])]
        given, family = _draw_name(rnd, sex, birth.year, eth)
        addresses, practices_seq = _draw_residence(
            rnd,
            geography,
            first_area=int(first_area[i]),
            birth_ord=int(birth_ord[i]),
            start_ord=start_ord,
            stop_ord=int(stop_ord[i]),
            age_at_start=float(age_at_start[i]),
        )
        registrations = (
            ()
            if unregistered[i]
            else _draw_registrations(
                rnd,
                geography,
                index=index,
                addresses=addresses,
                practices_seq=practices_seq,
                birth_ord=int(birth_ord[i]),
                stop_ord=int(stop_ord[i]),
                dies=bool(dies[i]),
                end_ord=end_ord,
            )
        )
        last_place = geography.small_areas[addresses[-1][0]].place
        people.append(
            Person(
                index=index,
                person_id=f"P{index:07d}",
                nhs_number=nhs_numbers[i],
                given=given,
                family=family,
                sex=sex,
                birth_date=birth,
                death_date=date.fromordinal(int(death_ord[i])) if dies[i] else None,
                ethnicity=eth,
                addresses=tuple(_address(rnd, geography, a, since) for a, since in addresses),
                registrations=registrations,
                diagnoses=diagnoses[i],
                frailty=round(float(frailty[i]), 4),
                area=geography.area_of_place[last_place],
            )
        )
    return people


def _draw_residence(
    rnd: random.Random,
    geography: Geography,
    *,
    first_area: int,
    birth_ord: int,
    start_ord: int,
    stop_ord: int,
    age_at_start: float,
) -> tuple[list[tuple[int, int]], list[bool]]:
    """Addresses as (small area, since) and, for each move, whether the practice changes."""
    if birth_ord >= start_ord:
        since = birth_ord
    else:
        # How long they have lived at their first address: up to 30 years, never before birth.
        years_there = min(age_at_start, rnd.expovariate(1 / 12.0), 30.0)
        since = max(birth_ord, start_ord - int(years_there * 365.25) - 1)
    addresses = [(first_area, since)]
    change_practice = [True]
    day = max(birth_ord, start_ord)
    while True:
        age = (day - birth_ord) / 365.25
        rate = MOVE_RATE_YOUNG_ADULT if 18 <= age < 35 else MOVE_RATE_OTHER
        day += int(rnd.expovariate(rate / 365.25)) + 1
        if day >= stop_ord or len(addresses) >= 3:  # at most two moves in the period
            break
        current_place = geography.small_areas[addresses[-1][0]].place
        if rnd.random() < MOVE_TO_OTHER_PLACE and len(geography.places) > 1:
            same_area = [
                p
                for p in range(len(geography.places))
                if p != current_place
                and geography.area_of_place[p] == geography.area_of_place[current_place]
            ]
            if same_area and rnd.random() < 0.65:
                new_place = rnd.choice(same_area)
            else:
                new_place = _weighted_place(rnd, geography, exclude=current_place)
            changes = True
        else:
            new_place = current_place
            changes = rnd.random() < CHANGE_PRACTICE_WITHIN_PLACE
        members = geography.areas_of_place[new_place]
        addresses.append((rnd.choice(members), day))
        change_practice.append(changes)
    return addresses, change_practice


def _weighted_place(rnd: random.Random, geography: Geography, *, exclude: int) -> int:
    weights = geography.place_weights.tolist()
    while True:
        pick = rnd.random()
        chosen = len(weights) - 1
        cumulative = 0.0
        for place, weight in enumerate(weights):
            cumulative += weight
            if pick < cumulative:
                chosen = place
                break
        if chosen != exclude:
            return chosen


def _address(rnd: random.Random, geography: Geography, area_index: int, since: int) -> Address:
    area = geography.small_areas[area_index]
    unit = rnd.randrange(len(area.postcodes))
    number = 1 + min(int(rnd.expovariate(1 / 28.0)), 180)
    return Address(
        line=f"{number} {area.streets[unit]}",
        town=geography.places[area.place].name,
        postcode=area.postcodes[unit],
        small_area=area.code,
        imd_decile=area.imd_decile,
        since=date.fromordinal(since),
    )


def _draw_registrations(
    rnd: random.Random,
    geography: Geography,
    *,
    index: int,
    addresses: list[tuple[int, int]],
    practices_seq: list[bool],
    birth_ord: int,
    stop_ord: int,
    dies: bool,
    end_ord: int,
) -> tuple[Registration, ...]:
    """GP registrations following the person's moves; the last ends at death (deduction)."""
    spans: list[tuple[str, int]] = []  # (practice, start)
    for (area_index, since), changes in zip(addresses, practices_seq, strict=True):
        place = geography.small_areas[area_index].place
        choices = geography.practices_of_place[place]
        if not changes:
            continue
        while spans and spans[-1][1] >= since:
            spans.pop()  # moved again before registering: they register near the new home
        if spans:
            others = [p for p in choices if p.ods_code != spans[-1][0]]
            if not others:
                continue
            practice = rnd.choice(others).ods_code
            begin = since + rnd.randint(7, 90)  # people register some weeks after moving
        else:
            practice = rnd.choice(choices).ods_code
            # Babies are registered some weeks after birth; others since their first address
            # (or, having moved in before registering, some weeks after the move).
            begin = since
            if since == birth_ord or since > addresses[0][1]:
                begin = since + rnd.randint(14, 56)
        if begin >= stop_ord:
            continue
        spans.append((practice, begin))
    registrations: list[Registration] = []
    for sequence, (practice, begin) in enumerate(spans):
        if sequence + 1 < len(spans):
            end: int | None = spans[sequence + 1][1]
        else:
            end = stop_ord if dies else None
        registrations.append(
            Registration(
                practice=practice,
                start=date.fromordinal(begin),
                end=None if end is None or end >= end_ord else date.fromordinal(end),
                local_id=practice_local_id(practice, index, sequence),
            )
        )
    return tuple(registrations)


def age_band_label(age: int) -> str:
    """A 5-year age band as NHS England publishes them: ``0-4`` ... ``90-94``, ``95+``."""
    if age >= 95:
        return "95+"
    low = (age // 5) * 5
    return f"{low}-{low + 4}"


def registered_on(people: Sequence[Person], day: date) -> list[tuple[str, str, int]]:
    """(practice, sex, age) for everyone registered and alive on ``day``."""
    rows: list[tuple[str, str, int]] = []
    for person in people:
        if not person.alive_on(day):
            continue
        for registration in person.registrations:
            if registration.start <= day and (registration.end is None or day < registration.end):
                rows.append((registration.practice, person.sex, person.age_on(day)))
                break
    return rows


__all__ = [
    "Geography",
    "Period",
    "SmallArea",
    "age_band_label",
    "build_geography",
    "draw_people",
    "is_valid_nhs_number",
    "nhs_check_digit",
    "nhs_numbers_for_indices",
    "practice_local_id",
    "python_random",
    "random_stream",
    "registered_on",
]
