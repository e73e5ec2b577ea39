"""The person index end to end: arrival links, a linkage run, review decisions, unmerge, quality."""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds.model import Message, MessageFormat, PersonDetails, Unit
from joinedup.feeds.pipeline import take_units
from joinedup.identity import tables
from joinedup.identity.batch import run_linkage
from joinedup.identity.index import current_link, source_record_id
from joinedup.identity.review import (
    decide,
    evaluate_against_truth,
    link_history,
    review_items,
    unmerge,
)

AT = datetime(2026, 2, 1, tzinfo=UTC)
GIVEN = [
    "ANN",
    "ROBERT",
    "SUSAN",
    "JAGO",
    "TAMSIN",
    "PETER",
    "MARY",
    "DAVID",
    "EMMA",
    "JOHN",
    "CLAIRE",
    "MARK",
    "HELEN",
    "PAUL",
    "KAREN",
    "JAMES",
    "LUCY",
    "SIMON",
    "RUTH",
    "MORWENNA",
]
FAMILY = [
    "PASCOE",
    "TREVITHICK",
    "PENROSE",
    "NANCE",
    "ROWE",
    "JENKIN",
    "SMITH",
    "JONES",
    "WILLIAMS",
    "BROWN",
    "TAYLOR",
    "DAVIES",
    "EVANS",
    "THOMAS",
    "JOHNSON",
    "ROBERTS",
    "WALKER",
    "WRIGHT",
    "HUGHES",
    "GREEN",
    "HALL",
    "WOOD",
    "HARRIS",
    "MARTIN",
    "COLLINS",
]


def nhs_number(i: int) -> str:
    while True:
        stem = f"999{i:06d}"
        total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            return stem + "0"
        if check != 10:
            return stem + str(check)
        i += 500_000


def unit(partner_local: str, details: PersonDetails) -> Unit:
    return Unit(
        label="row",
        message_id=partner_local,
        person=details,
        original=partner_local.encode(),
        resources=({"resourceType": "Patient", "id": details.local_id},),
    )


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def load_population(sessions: sessionmaker[Session], truth_file: Path, people: int = 250) -> None:
    """GP records with NHS numbers; council records, a third without and some with typos."""
    rng = random.Random(11)
    gp = Message("L99001", "gp-fhir", MessageFormat.FHIR_NDJSON, b"", AT, "gp")
    council = Message("ZCC01", "council-social-care", MessageFormat.CSV, b"", AT, "council")
    gp_units, council_units, truth = [], [], []
    for i in range(people):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(30_000))
        person = PersonDetails(
            local_id=f"G{i}",
            nhs_number=nhs_number(i),
            given=rng.choice(GIVEN),
            family=rng.choice(FAMILY),
            birth_date=born,
            sex=rng.choice(["female", "male"]),
            postcode=f"TR{rng.randrange(1, 28)} {rng.randrange(1, 9)}"
            f"{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}",
            address_line=f"{rng.randrange(1, 99)} {rng.choice(FAMILY).title()} Road",
        )
        gp_units.append(unit(f"g{i}", person))
        truth.append(("L99001", "gp-fhir", f"G{i}", f"P{i}"))
        if i % 2 == 0:
            no_number = i % 3 == 0
            council_person = PersonDetails(
                local_id=f"C{i}",
                nhs_number=None if no_number else person.nhs_number,
                given=typo(person.given or "", rng) if i % 5 == 0 else person.given,
                family=person.family,
                birth_date=person.birth_date,
                sex=person.sex,
                postcode=person.postcode,
                address_line=person.address_line,
            )
            council_units.append(unit(f"c{i}", council_person))
            truth.append(("ZCC01", "council-social-care", f"C{i}", f"P{i}"))
    take_units(sessions, gp, gp_units)
    take_units(sessions, council, council_units)
    with truth_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partner", "feed", "local_id", "person_id"])
        writer.writerows(truth)


def test_a_linkage_run_joins_records_without_nhs_numbers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    truth = tmp_path / "records.csv"
    load_population(sessions, truth)
    with sessions() as session:
        before = evaluate_against_truth(session, truth)
    # On arrival only NHS numbers join records: those without one stay apart.
    assert before.quality.precision == 1.0 and before.quality.recall < 0.75

    summary = run_linkage(sessions, model_path=tmp_path / "model.json", at=AT)
    assert summary.model_trained and (tmp_path / "model.json").is_file()
    assert summary.relinked > 0
    with sessions() as session:
        after = evaluate_against_truth(session, truth)
    assert after.matched_records == 375
    assert after.quality.precision >= 0.99 and after.quality.recall >= 0.95

    # A second run with the saved model changes nothing.
    again = run_linkage(sessions, model_path=tmp_path / "model.json", at=AT)
    assert not again.model_trained and again.relinked == 0


def test_review_decisions_are_applied_and_kept(sessions: sessionmaker[Session]) -> None:
    gp = Message("L99001", "gp-fhir", MessageFormat.FHIR_NDJSON, b"", AT, "gp")
    a = PersonDetails("A", "9434765919", "ANN", "PASCOE", date(1950, 3, 4), "female", "TR18 4AB")
    b = PersonDetails("B", None, "ANNE", "PASCOE", date(1950, 3, 4), "female", "TR18 4AB")
    take_units(sessions, gp, [unit("a", a), unit("b", b)])
    with sessions() as session, session.begin():
        left = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="A")
        right = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="B")
        assert left and right
        session.execute(
            tables.review.insert().values(
                left_id=left,
                right_id=right,
                reason="probable_match",
                match_probability=0.9,
                match_weight=3.2,
                explanation={"given_name": 2.1},
                status="open",
                created_at=AT,
            )
        )
    with sessions() as session:
        [item] = review_items(session)
    assert item.left.local_id == "A" and item.explanation == {"given_name": 2.1}
    with sessions() as session, session.begin():
        decide(session, item.id, "link", by="tester", at=AT)
    with sessions() as session:
        assert current_link(session, left)[0] == current_link(session, right)[0]  # type: ignore[index]
        assert review_items(session) == []
    # Undo by unmerge: the history keeps the review link and the unmerge.
    with sessions() as session, session.begin():
        unmerge(session, right, reason="reviewer error", at=AT + timedelta(hours=1))
    with sessions() as session:
        history = link_history(session, right)
    assert [h["method"] for h in history] == ["new", "review", "unmerge"]
    assert [h["valid_to"] is None for h in history] == [False, False, True]


def test_a_not_link_decision_survives_a_linkage_run(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    load_population(sessions, tmp_path / "truth.csv", people=120)
    with sessions() as session, session.begin():
        left = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="G0")
        right = source_record_id(
            session, partner="ZCC01", feed="council-social-care", local_id="C0"
        )
        assert left and right
        rid = session.execute(
            tables.review.insert()
            .values(
                left_id=left,
                right_id=right,
                reason="probable_match",
                match_probability=0.95,
                match_weight=4.0,
                explanation={},
                status="open",
                created_at=AT,
            )
            .returning(tables.review.c.id)
        ).scalar_one()
    with sessions() as session, session.begin():
        decide(session, rid, "not_link", by="tester", at=AT)
    run_linkage(sessions, model_path=tmp_path / "m.json", at=AT)
    with sessions() as session:
        assert current_link(session, left)[0] != current_link(session, right)[0]  # type: ignore[index]
        decided = session.execute(select(tables.review.c.status)).scalars().all()
    assert decided == ["not_link"]


def test_records_a_part_resolved_itself_are_not_evidence_and_stay_with_their_person(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from joinedup.identity.index import RESOLVED, attach_source_record

    truth = tmp_path / "records.csv"
    load_population(sessions, truth, people=120)
    with sessions.begin() as session:
        gp_record = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="G4")
        assert gp_record is not None
        link = current_link(session, gp_record)
        assert link is not None
        person = link[0]
        # Many referrals' thin copies (NHS number and date of birth only), as intake keeps them.
        thin = []
        for i in range(0, 120, 2):
            other = source_record_id(session, partner="L99001", feed="gp-fhir", local_id=f"G{i}")
            key = current_link(session, other)[0] if other is not None else person  # type: ignore[index]
            thin.append(
                attach_source_record(
                    session,
                    partner="L99021",
                    feed="referrals",
                    person=PersonDetails(
                        local_id=key, nhs_number=nhs_number(i), birth_date=AT.date()
                    ),
                    person_key=key,
                    reason="identified at referral intake",
                    at=AT,
                )
            )
    summary = run_linkage(sessions, model_path=tmp_path / "model.json", at=AT, retrain=True)
    assert summary.model_trained
    assert summary.source_records == 120 + 60  # GP and council records; the thin ones left out
    with sessions() as session:
        first = current_link(session, thin[2])
        assert first is not None and first[1] == RESOLVED
        assert first[0] == current_link(session, gp_record)[0]  # type: ignore[index]
