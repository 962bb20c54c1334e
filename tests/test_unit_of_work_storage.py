"""Case storage within one unit of work: what a batch of mails reads once, writes together,
and still sees as written (mediation.storage's per-transaction cache)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlmodel import Session

from mailflow.db import session_scope
from mailflow.models import StoredMail
from mediation import mediator_store, notices, storage
from mediation.mediator_store import MediatorRecord
from mediation.settings import Settings
from mediation.storage import Case, CaseEvent, Customer, HeldMail, Merchant
from mediation.workflow import Deadline

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def new_case(session, ref: str, customer_id: int) -> Case:  # type: ignore[no-untyped-def]
    return storage.insert_case(
        session,
        Case(
            ref=ref, state="needs_merchant", customer_id=customer_id, language="de",
            subject="Sofa", complaint_mail_id=1, opened_at=NOW, updated_at=NOW,
        ),
    )  # fmt: skip


def event_row(case: Case, kind: str) -> CaseEvent:
    return CaseEvent(case_id=case.id, at=NOW, kind=kind, actor="system", state_after="x")  # type: ignore[arg-type]


def case_selects(engine: Engine) -> list[str]:
    """The statements that read the cases table from now on, as they are run."""
    selects: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: selects.append(a[2]) if "FROM cases" in a[2] else None,
    )
    return selects


def test_case_numbers_count_on_in_memory_and_are_written_at_commit(engine: Engine) -> None:
    """Openings in one unit of work get consecutive numbers; the next unit of work goes
    on after them; a rolled-back one leaves the counter where it was (SQLite) or a gap
    (PostgreSQL's sequence), never a number twice."""
    with session_scope(engine) as session:
        first = [storage.next_ref(session, 2026) for _ in range(3)]
    numbers = [int(ref.rsplit("-", 1)[1]) for ref in first]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    try:
        with session_scope(engine) as session:
            storage.next_ref(session, 2026)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        after = int(storage.next_ref(session, 2026).rsplit("-", 1)[1])
    assert after > numbers[-1]


def test_log_entries_are_written_together_yet_seen_by_every_later_read(engine: Engine) -> None:
    """Entries wait to be written in one statement, but a query of the same unit of
    work (ORM, Core or text) sees them, and the commit writes them."""
    with session_scope(engine) as session:
        customer = storage.ensure_customer(session, "Kundin@Example.org", "K", "de", NOW)
        case = new_case(session, "SSG-2026-900001", customer.id)  # type: ignore[arg-type]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with session_scope(engine) as session:
        loaded = storage.load_case(session, case.ref)
        assert loaded is not None
        for kind in ("A", "B", "C"):
            storage.add_event(session, event_row(loaded, kind))
        inserts_before_read = [s for s in statements if s.startswith("INSERT INTO case_event")]
        assert inserts_before_read == []
        assert [e.kind for e in storage.events_of(session, loaded.id)] == ["A", "B", "C"]  # type: ignore[arg-type]
        storage.add_event(session, event_row(loaded, "D"))
        counted = session.execute(text("SELECT count(*) FROM case_event")).scalar()
        assert counted == 4
        storage.add_event(session, event_row(loaded, "E"))
    assert len([s for s in statements if s.startswith("INSERT INTO case_event")]) == 3
    with session_scope(engine) as session:
        kinds = session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id))  # type: ignore[arg-type]
        assert list(kinds) == ["A", "B", "C", "D", "E"]


def test_a_case_opened_in_the_unit_of_work_has_its_log_without_a_query(engine: Engine) -> None:
    """The log of a case opened in this unit of work is what it added; it reaches the
    table with the deadlines at commit, nothing is lost when it is read from memory."""
    with session_scope(engine) as session:
        customer = storage.ensure_customer(session, "neu@example.org", "N", "de", NOW)
        case = new_case(session, "SSG-2026-900002", customer.id)  # type: ignore[arg-type]
        storage.add_event(session, event_row(case, "ComplaintReceived"))
        storage.sync_deadlines(session, case.id, {Deadline.MERCHANT_REPLY: NOW})  # type: ignore[arg-type]
        assert [e.kind for e in storage.events_of(session, case.id)] == ["ComplaintReceived"]  # type: ignore[arg-type]
    with session_scope(engine) as session:
        assert [e.kind for e in storage.events_of(session, case.id)] == ["ComplaintReceived"]  # type: ignore[arg-type]
        assert set(storage.deadlines_of(session, case.id)) == {Deadline.MERCHANT_REPLY}  # type: ignore[arg-type]


def test_opening_cases_flushes_nothing_pending_until_the_commit(engine: Engine) -> None:
    """A case's row and (on SQLite) its customer wait with the unit of work's other new
    rows, their ids known at once; what the unit of work has pending for the ORM (here a
    held mail per case) waits for the commit's one flush, instead of one per case."""
    flushes: list[int] = []
    with session_scope(engine) as session:
        event.listen(session, "after_flush", lambda *_: flushes.append(len(flushes)))
        cases = []
        for number in range(3):
            address = f"flush{number}@example.org"
            customer = storage.ensure_customer(session, address, "K", "de", NOW)
            storage.next_ref(session, 2026)  # PostgreSQL's sequence: a statement each
            case = new_case(session, f"SSG-2026-90010{number}", customer.id)  # type: ignore[arg-type]
            storage.hold_mail(session, HeldMail(mail_id=number, reason="x", held_at=NOW))
            cases.append(case)
        assert flushes == []
        assert len({case.id for case in cases}) == 3
        assert all(case.id is not None for case in cases)
        cases[0].mediator = "mediatorin@siegel.localhost"  # still tracked by the session
    assert flushes == [0]
    with session_scope(engine) as session:
        stored = session.scalars(select(Case).order_by(Case.id)).all()  # type: ignore[arg-type]
        assert [case.ref for case in stored][-3:] == [case.ref for case in cases]
        assert stored[-3].mediator == "mediatorin@siegel.localhost"
        assert session.scalar(select(func.count()).select_from(HeldMail)) == 3


def test_new_cases_and_customers_get_ids_that_follow_the_stored_ones(engine: Engine) -> None:
    """The ids given to a unit of work's new cases and customers before their rows are
    written (SQLite: counted from the largest; PostgreSQL: from the sequences, the case's
    with its number) never collide with rows already there, and an ORM row referring to
    a new case (a held mail) may be flushed at once: the case's row goes first."""
    with session_scope(engine) as session:
        customer = storage.ensure_customer(session, "erste@example.org", "E", "de", NOW)
        first = new_case(session, storage.next_ref(session, 2026), customer.id)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        known = storage.ensure_customer(session, "erste@example.org", "E", "de", NOW)
        assert known.id == customer.id
        again = storage.ensure_customer(session, "zweite@example.org", "Z", "de", NOW)
        ref = storage.next_ref(session, 2026)
        second = new_case(session, ref, again.id)  # type: ignore[arg-type]
        assert again.id != customer.id and second.id != first.id
        storage.hold_mail(session, HeldMail(mail_id=9, reason="x", held_at=NOW, case_id=second.id))
        session.flush()
        counted = session.execute(text("SELECT count(*) FROM cases")).scalar()
        assert counted == 2
    with session_scope(engine) as session:
        stored = session.scalars(select(Case).order_by(Case.id)).all()  # type: ignore[arg-type]
        assert [(c.id, c.ref) for c in stored] == [(first.id, first.ref), (second.id, ref)]


def test_list_and_dict_defaults_are_not_shared_between_rows() -> None:
    """The JSON columns' defaults are plain values (cheaper than a factory): each row
    still gets a list or dict of its own."""
    first, second = Case(ref="a", state="x", customer_id=1), Case(ref="b", state="x", customer_id=1)
    first.proposal_accepted_by.append("customer")
    assert second.proposal_accepted_by == []
    one, other = (CaseEvent(case_id=1, at=NOW, kind="k", actor="system") for _ in range(2))
    one.data["key"] = "value"
    assert other.data == {}
    assert (
        StoredMail(message_id="m", sha256="", fingerprint="", raw=b"", source="t").envelope_to == []
    )


def test_a_new_customer_has_no_open_case_to_look_up(engine: Engine) -> None:
    """The repeat-complaint check costs no query for a customer created in this unit of
    work, until a case is opened for it; a known customer's cases are looked up."""
    with session_scope(engine) as session:
        fuchs = Merchant(slug="fuchs", name="Fuchs", support_addresses=[], created_at=NOW)
        session.add(fuchs)
        session.flush()
        known = storage.ensure_customer(session, "known@example.org", "K", "de", NOW)
    selects = case_selects(engine)
    with session_scope(engine) as session:
        storage.preload_customers(session, ["known@example.org"])
        again = storage.ensure_customer(session, "known@example.org", "K", "de", NOW)
        assert again.id == known.id
        assert storage.open_cases_of(session, known.id, fuchs.id) == []  # type: ignore[arg-type]
        assert len(selects) == 1
        new = storage.ensure_customer(session, "new@example.org", "N", "de", NOW)
        assert storage.open_cases_of(session, new.id, fuchs.id) == []  # type: ignore[arg-type]
        assert len(selects) == 1
        case = Case(
            ref="SSG-2026-900200", state="awaiting_merchant", customer_id=new.id,
            merchant_id=fuchs.id, opened_at=NOW, updated_at=NOW,
        )  # fmt: skip
        storage.insert_case(session, case)
        assert [c.ref for c in storage.open_cases_of(session, new.id, fuchs.id)] == [case.ref]  # type: ignore[arg-type]


def test_a_batchs_known_customers_have_their_open_cases_read_once(engine: Engine) -> None:
    """`preload_customers` reads the open cases of the customers it finds in the same
    breath: the repeat-complaint check of each mail asks no more, and still sees the
    cases as they are now (opened or closed in this unit of work)."""
    with session_scope(engine) as session:
        fuchs = Merchant(slug="fuchs", name="Fuchs", support_addresses=[], created_at=NOW)
        dachs = Merchant(slug="dachs", name="Dachs", support_addresses=[], created_at=NOW)
        session.add_all([fuchs, dachs])
        session.flush()
        known = storage.ensure_customer(session, "known@example.org", "K", "de", NOW)
        other = storage.ensure_customer(session, "other@example.org", "O", "de", NOW)
        for ref, state, merchant in [
            ("SSG-2026-900301", "awaiting_merchant", fuchs),
            ("SSG-2026-900302", "closed_resolved", fuchs),
            ("SSG-2026-900303", "in_mediation", dachs),
        ]:
            storage.insert_case(
                session,
                Case(
                    ref=ref, state=state, customer_id=known.id, merchant_id=merchant.id,
                    opened_at=NOW, updated_at=NOW,
                ),
            )  # fmt: skip
    selects = case_selects(engine)
    with session_scope(engine) as session:
        storage.preload_customers(session, ["Known@Example.org"])
        assert len(selects) == 1

        def open_refs(merchant: Merchant) -> list[str]:
            return [c.ref for c in storage.open_cases_of(session, known.id, merchant.id)]  # type: ignore[arg-type]

        assert open_refs(fuchs) == ["SSG-2026-900301"]
        assert open_refs(dachs) == ["SSG-2026-900303"]
        added = Case(
            ref="SSG-2026-900304", state="awaiting_merchant", customer_id=known.id,
            merchant_id=fuchs.id, opened_at=NOW, updated_at=NOW,
        )  # fmt: skip
        storage.insert_case(session, added)
        assert open_refs(fuchs) == ["SSG-2026-900304", "SSG-2026-900301"]
        storage.load_case(session, "SSG-2026-900301").state = "closed_resolved"  # type: ignore[union-attr]
        assert open_refs(fuchs) == ["SSG-2026-900304"]
        selects_so_far = len(selects)
        assert storage.open_cases_of(session, other.id, fuchs.id) == []  # type: ignore[arg-type]
        assert len(selects) == selects_so_far + 1  # not preloaded: looked up


def test_merchants_and_customers_are_read_once_and_stay_current(engine: Engine) -> None:
    """The merchant list is read once per unit of work, yet includes one added in it; a
    customer is the same record each time it is asked for."""
    selects: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: selects.append(a[2]) if a[2].startswith("SELECT merchant") else None,
    )
    with session_scope(engine) as session:
        assert storage.merchants(session) == []
        assert storage.merchants(session) == []
        assert len(selects) == 1
        session.add(Merchant(slug="fuchs", name="Fuchs", support_addresses=[], created_at=NOW))
        assert [m.slug for m in storage.merchants(session)] == ["fuchs"]
        one = storage.ensure_customer(session, "a@example.org", "A", "de", NOW)
        assert storage.ensure_customer(session, "A@example.org", "A", "de", NOW) is one
    with session_scope(engine) as session:
        storage.preload_customers(session, ["a@example.org", "b@example.org"])
        again = storage.ensure_customer(session, "a@example.org", "A", "de", NOW)
        assert again.id == one.id
        count = session.scalar(select(func.count()).select_from(Customer))
        assert count == 1


def test_mediators_are_read_once_per_unit_of_work_for_their_language(engine: Engine) -> None:
    """A batch writing to mediators in their language, assigning and judging their mail
    reads the mediator table once; one added or changed in it is seen; the next unit of
    work reads afresh."""
    selects: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: selects.append(a[2]) if "FROM mediator" in a[2] else None,
    )
    settings = Settings(domain="siegel.test", secret=b"x", mediators=("seed@example.org",))
    with session_scope(engine) as session:
        mediator_store.save(session, MediatorRecord(address="en@example.org", language="en",
                                                    created_at=NOW, changed_at=NOW))  # fmt: skip
    with session_scope(engine) as session:
        for _ in range(3):  # three mails of a batch
            assert notices.mediator_language(session, "EN@example.org", settings) == "en"
            assert notices.mediator_language(session, "seed@example.org", settings) == "de"
            mediator_store.choose(session, settings.mediators)
        assert len(selects) == 1
        mediator_store.records(session)[0].language = "de"
        session.add(MediatorRecord(address="neu@example.org", language="en", created_at=NOW,
                                   changed_at=NOW))  # fmt: skip
        assert notices.mediator_language(session, "en@example.org", settings) == "de"
        assert notices.mediator_language(session, "neu@example.org", settings) == "en"
    with session_scope(engine) as session:
        assert [r.language for r in mediator_store.records(session)] == ["de", "en"]
    assert len(selects) == 3


def test_a_savepoint_never_takes_deferred_rows_with_it(engine: Engine) -> None:
    """Rows deferred before a savepoint would be written inside it and lost with its
    rollback: opening one over them is refused until they are written."""
    with session_scope(engine) as session:
        customer = storage.ensure_customer(session, "sp@example.org", "S", "de", NOW)
        case = new_case(session, "SSG-2026-900003", customer.id)  # type: ignore[arg-type]
        storage.add_event(session, event_row(case, "ComplaintReceived"))
        with pytest.raises(RuntimeError, match="write_pending"):
            session.begin_nested()
        storage.write_pending(session)
        savepoint = session.begin_nested()
        session.execute(text("SELECT 1"))
        savepoint.rollback()
    with session_scope(engine) as session:
        assert [e.kind for e in storage.events_of(session, case.id)] == ["ComplaintReceived"]  # type: ignore[arg-type]


def test_what_a_session_counted_ends_with_its_transaction(engine: Engine) -> None:
    """A Session used for a second transaction (after a close) reads and counts afresh:
    nothing of the first is written by the second."""
    session = Session(engine)
    storage.next_ref(session, 2027)
    storage.ensure_customer(session, "gone@example.org", "G", "de", NOW)
    session.close()  # ends the transaction without a commit: nothing of it stays
    with session_scope(engine) as fresh:
        assert fresh.scalar(select(func.count()).select_from(Customer)) == 0
    with session:
        ref = storage.next_ref(session, 2027)
        session.commit()
    # SQLite counts from its row, which the rollback left at 0; PostgreSQL's sequence
    # never gives a number twice, rolled back or not.
    assert ref.endswith("-000001") or engine.dialect.name == "postgresql"
