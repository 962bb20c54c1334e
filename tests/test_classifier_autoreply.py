"""Automatic-reply text rules: they name out-of-office notes, ticket acknowledgements and
delivery failures in German and English, and leave human replies alone.

Full mails through the whole reading path are in `tests/test_auto_reply_table.py`; these
tests pin single rules, their strengths and how the kinds are settled."""

from __future__ import annotations

import pytest

from classifier import autoreply
from classifier.autoreply import (
    AUTO_REPLY_KINDS,
    AUTO_REPLY_RULES,
    HUMAN,
    AutoReplyRule,
    RuleCombination,
    decisive_kind,
    evidence_kinds,
    match_auto_reply,
)
from tests.cpu_time import cpu_seconds


def fired(subject: str, body: str) -> dict[str, str]:
    """Rule id -> strength of every rule that fired."""
    return {hit.rule: hit.strength for hit in match_auto_reply(subject, body)}


@pytest.mark.parametrize(
    ("subject", "body", "rule", "strength", "kind"),
    [
        # A subject that starts like an out-of-office note declares it.
        (
            "Abwesenheitsnotiz: Ihre Beschwerde",
            "Danke.",
            "ooo-subject",
            "declared",
            "out_of_office",
        ),
        ("Automatic reply: complaint", "Thanks", "ooo-subject", "declared", "out_of_office"),
        ("Auto: [SSG-2026-000123] Fall", "Danke.", "ooo-subject", "declared", "out_of_office"),
        # An absence with its end is an out-of-office note; alone it is evidence.
        (
            "Re: Fall",
            "Ich bin bis einschließlich 14.08. nicht im Büro.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        ("Re: Fall", "Ich bin gerade nicht im Büro.", "ooo-phrase", "evidence", None),
        (
            "Re: case",
            "I am currently out of the office with limited access to email.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: case",
            "I’m travelling until 14 December and will get back to you when I’m back.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: case",
            "I'm on the road and can't reply properly from my phone. I'll get back to you soon.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "AW: Fall",
            "Sie haben uns außerhalb unserer Servicezeiten erreicht. Wir melden uns morgen.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        # Terse notes leave out the subject: an absence that opens a clause, with its end or
        # a promise, is an out-of-office note; alone it is evidence.
        (
            "Re: Fall",
            "Bin bis 14.12. im Urlaub. Gruß Max",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: Fall",
            "Auf Dienstreise bis Mittwoch, melde mich danach.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        ("Re: Fall", "Derzeit nicht im Büro.", "ooo-terse", "evidence", None),
        (
            "Re: case",
            "On vacation until Dec 14, will reply when back.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        ("Re: case", "Currently out of office.", "ooo-terse-en", "evidence", None),
        (
            "Re: case",
            "Back on Monday, will reply then.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "AW: Fall",
            "Hallo, ab dem 15.12. wieder erreichbar.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        # A terse receipt and a vague promise, as the whole text, acknowledge only.
        (
            "Re: Fall",
            "Danke, ist angekommen. Wir kümmern uns darum.\n\nVon meinem iPhone gesendet",
            "ack-terse",
            "decisive",
            "ticket_ack",
        ),
        (
            "Re: case",
            "Got it, thanks - we'll look into it.\n\nCheers,\nTom",
            "ack-terse",
            "decisive",
            "ticket_ack",
        ),
        # A ticket created for the sender settles an acknowledgement.
        (
            "Ihre Anfrage",
            "Vielen Dank für Ihre Anfrage. Ihr Ticket #48213 wurde erstellt.",
            "ticket-created",
            "decisive",
            "ticket_ack",
        ),
        # "This is an automated message" declares the mail automatic; the kind comes from
        # the other hits, an acknowledgement when they name none.
        (
            "Request received",
            "This is an automated response. Your request (#991) has been created.",
            "automated-message",
            "declared",
            "ticket_ack",
        ),
        (
            "Re: case",
            "This is an automated message. Our office is closed until 4 January.",
            "automated-message",
            "declared",
            "out_of_office",
        ),
        (
            "Automatische Eingangsbestätigung",
            "Wir haben Ihre Nachricht erhalten.",
            "automated-subject",
            "declared",
            "ticket_ack",
        ),
        # A confirmed receipt with a promise to answer later, a ticket number or a
        # do-not-reply line is an acknowledgement; each alone is only evidence.
        (
            "Eingangsbestätigung",
            "Bitte antworten Sie nicht auf diese E-Mail.",
            "ack-stated",
            "decisive",
            "ticket_ack",
        ),
        (
            "Re: Fall",
            "Wir haben Ihre Nachricht erhalten und melden uns innerhalb von 24 Stunden.",
            "ack-stated",
            "decisive",
            "ticket_ack",
        ),
        (
            "Re: case",
            "Your case number is 00012345. A representative will contact you within 2 days.",
            "ack-stated",
            "decisive",
            "ticket_ack",
        ),
        (
            "Re: case",
            "Due to a high volume of requests, replies may take longer. We'll get back to you.",
            "ack-stated",
            "decisive",
            "ticket_ack",
        ),
        ("Re: Fall", "Wir haben Ihre Nachricht erhalten.", "ticket-received", "evidence", None),
        (
            "Re: Fall",
            "Bitte antworten Sie nicht auf diese E-Mail.",
            "do-not-reply",
            "evidence",
            None,
        ),
        # Delivery failures: two signals of an MTA declare one; customers quote one.
        (
            "Undeliverable: Beschwerde",
            "Delivery has failed to these recipients or groups:",
            "dsn-stated",
            "declared",
            "delivery_failure",
        ),
        (
            "Failure",
            "Remote server returned 550 5.1.1 user unknown",
            "dsn-stated",
            "declared",
            "delivery_failure",
        ),
        (
            "Fehler",
            "Die Nachricht konnte nicht an service@shop.example zugestellt werden.",
            "dsn-phrase",
            "evidence",
            None,
        ),
        # A trade fair is an absence like a journey.
        (
            "Re: Fall",
            "Wir sind gerade auf der Messe und antworten ab Montag wieder.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: case",
            "We're at the trade fair until Thursday and will reply when we're back.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        # A challenge-response filter: the request to confirm and the hold together settle;
        # each alone is evidence (customers write about spam filters and robots too).
        (
            "Bitte bestätigen Sie Ihre Nachricht: Fall",
            "Um Spam zu vermeiden, bitten wir Sie zu bestätigen, dass Sie kein Roboter sind: "
            "https://x.example/v. Nach Ihrer Bestätigung wird Ihre Nachricht zugestellt.",
            "challenge-stated",
            "decisive",
            "delivery_failure",
        ),
        (
            "Re: case",
            "To prevent spam, please confirm that you are a real person: https://x.example/v. "
            "Once you have confirmed, your message will be delivered.",
            "challenge-stated",
            "decisive",
            "delivery_failure",
        ),
        (
            "Re: Fall",
            "Bitte bestätigen Sie, dass Sie kein Roboter sind.",
            "challenge-confirm",
            "evidence",
            None,
        ),
        ("Beschwerde", "Meine Mails landen im Spamfilter.", "challenge-spam", "evidence", None),
        # Away notes a black-box merchant sent without any automatic header.
        (
            "Re: Ihre Beschwerde",
            "Hi! Wir sind gerade nicht am Schreibtisch. Wir melden uns so bald wie möglich "
            "zurück – versprochen!",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: case",
            "Our support hours are Mon-Fri 9am-5pm CET. Messages received outside these hours "
            "are handled on the next business day.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: Fall",
            "Hallo! Wir sind gerade in der Mittagspause und ab 14 Uhr wieder da.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "AW: Fall",
            "Bin grad unterwegs, melde mich später!",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
        (
            "Re: case",
            "We're out at lunch, we'll get back to you at 2 pm.",
            "ooo-stated",
            "decisive",
            "out_of_office",
        ),
    ],
)
def test_rules_name_automatic_replies(subject, body, rule, strength, kind):
    """Each wording fires its rule with its strength, and the hits settle the expected kind
    (None: only evidence, which the model weighs)."""
    assert fired(subject, body).get(rule) == strength
    assert decisive_kind(match_auto_reply(subject, body)) == kind


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Re: refund", "Sorry for the slow reply, I was on vacation. Your refund was sent today."),
        ("Re: Paket", "Unser Lager war im Urlaub geschlossen, Ihr Paket geht morgen raus."),
        ("Beschwerde", "Mein Paket konnte nicht zugestellt werden, sagt DHL. Wo ist es?"),
        ("Re: Fall", "Ich bin sauer. Der Support ist nie erreichbar."),
        ("Re: ticket 4411", "Ich habe Ihr Ticket geprüft: die Erstattung ist heute raus."),
        ("AW: Automatische Antwort: Fall", "Ich bin doch schon zurück: Erstattung ist raus."),
        ("AW: Automatische Eingangsbestätigung", "Wir warten seit drei Wochen auf Antwort."),
        ("Re: case", "I'm technically still on leave, but the refund was sent today."),
        ("Kontaktformular defekt", 'Mail an info@ kommt zurück: "Postfach voll". Und nun?'),
        ("nicht zustellbar?", "Ist diese Adresse noch richtig? Ich bekomme keine Antwort."),
        (
            "Re: case",
            "I'm away until 6 April with bad internet. Can the deadline be extended?",
        ),
        (
            "Re: case",
            "Sorry, I'm on holiday until Monday but I checked: the parcel was delivered to "
            "your neighbour on 3 December.",
        ),
        # Terse wording that is no terse note: an absence mid-sentence, past, a question,
        # a story, a receipt with a fact or alone (a customer's "it came").
        ("Re: Fall", "Ich war im Urlaub, die Erstattung ist jetzt veranlasst."),
        ("Re: Fall", "Wir sind bis 14.12. im Urlaub, deshalb senden wir den Ersatz heute noch."),
        ("Re: Fall", "Bin bis Freitag im Urlaub. Können Sie die Frist bis 20.12. verlängern?"),
        (
            "Beschwerde",
            "Der Shop ist seit Wochen nicht erreichbar. Ich setze eine Frist bis 14.12.",
        ),
        ("Beschwerde", "Unterwegs ging das Paket verloren. Ich warte bis 14.12. auf Geld."),
        ("Complaint", "Back on 3 December I ordered a kettle; until Monday nothing happened."),
        (
            "Re: Fall",
            "Danke, ist angekommen. Das Modell ist leider nicht mehr lieferbar, wir melden uns.",
        ),
        ("Re: Ist Ihr Problem gelöst?", "Danke, ist angekommen!"),
        ("Re: Fall", "Hallo, ab sofort wieder erreichbar. Gruß Max"),
        # Ticket-system boilerplate around an answer.
        (
            "Re: Fall",
            "Ihr Ticket (48220) wurde aktualisiert. Hallo, wir schicken die Bestellung heute "
            "erneut per Express. Die Versandkosten erstatten wir Ihnen.",
        ),
        (
            "AW: Fall",
            "Wir haben Ihre Anfrage erhalten und geprüft: Sie erhalten bis Freitag eine "
            "Gutschrift über 89,90 EUR. Bei Fragen melden wir uns.",
        ),
        (
            "AW: Fall",
            "Ihre Rückerstattung über 59,90 EUR wurde heute veranlasst. Diese Nachricht wurde "
            "automatisch erstellt. Bitte antworten Sie nicht direkt auf diese E-Mail.",
        ),
        # Customers who write about spam filters, robots and the messe are no challenge.
        (
            "Beschwerde",
            "Der Shop verlangt, dass ich bestätige, kein Roboter zu sein, und dann passiert "
            "nichts. Meine Mails landen wohl im Spamfilter.",
        ),
        ("Beschwerde", "Ich habe den Schrank auf der Messe gekauft, er ist beschädigt."),
    ],
)
def test_human_replies_settle_no_automatic_kind(subject, body):
    """Human replies that mention vacations, tickets, failed deliveries or an absence while
    asking or answering something are not settled as automatic replies."""
    assert decisive_kind(match_auto_reply(subject, body)) not in AUTO_REPLY_KINDS


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("We received your complaint and have refunded 49,90 EUR today.", "action-reported"),
        (
            "Wir haben Ihre Beschwerde erhalten und die Erstattung heute veranlasst.",
            "action-reported",
        ),
        ("Die Erstattung über 54,90 € habe ich eben freigegeben.", "action-done"),
        ("Your request (#4711) was received: the replacement was shipped today.", "action-done"),
        ("Das neue Gerät wurde heute an die Kundin verschickt.", "action-done"),
        ("Your request (48213) has been updated. Hello, thanks for waiting.", "ticket-updated"),
        ("Danke, wir schicken heute Ersatz.", "action-announced"),
        ("Bin bis 14.12. im Urlaub, deshalb geht der Ersatz heute noch raus.", "action-announced"),
        ("I'm away until Dec 14, so we're sending the replacement today.", "action-announced"),
        ("Einverstanden. Wir überweisen die 85 € heute noch an die Kundin.", "action-announced"),
        ("Wir schicken sie heute erneut per Express an Sie.", "action-announced"),
        ("We're resending the parcel today by express.", "action-announced"),
        ("We'll send it again today.", "action-announced"),
        (
            "Wir haben die defekte Ware erhalten und Ihnen eine Gutschrift über 120 EUR "
            "ausgestellt.",
            "action-reported",
        ),
        ("Eine Gutschrift über 120 EUR wurde Ihnen erteilt.", "action-done"),
        ("Ihr Ticket #48220 wurde aktualisiert. Hallo, danke für Ihre Geduld.", "ticket-updated"),
        ("Your ticket [#48222] was updated. Hi Mark, sorry for the wait.", "ticket-updated"),
        ("Sie erhalten bis Freitag eine Gutschrift über 89,90 EUR.", "remedy-granted"),
        ("Bis Freitag erhalten Sie eine Gutschrift über 89,90 EUR.", "remedy-granted"),
        ("Die Versandkosten erstatten wir Ihnen.", "remedy-granted"),
        ("Wir übernehmen die Rücksendekosten.", "remedy-granted"),
        ("Wir erstatten Ihnen den vollen Kaufpreis.", "remedy-granted"),
        ("Wir schicken der Kundin kostenlos ein neues Gerät.", "remedy-granted"),
        ("You'll receive a full refund of 35,00 EUR by Friday.", "remedy-granted"),
        ("The customer will be refunded in full.", "remedy-granted"),
        ("We will replace the kettle free of charge.", "remedy-granted"),
        ("We'll cover the return shipping costs.", "remedy-granted"),
    ],
)
def test_an_action_reported_is_a_human_answer(body, rule):
    """A reported action (or a helpdesk's wrapper of an agent's answer) settles "human",
    above a receipt confirmation or a promise in the same mail."""
    hits = match_auto_reply("Re: Beschwerde", body + " Wir melden uns bei Fragen.")
    assert fired("Re: Beschwerde", body)[rule] == "decisive"
    assert decisive_kind(hits) == HUMAN


@pytest.mark.parametrize(
    "body",
    [
        "Die Erstattung ist bis heute nicht erfolgt.",
        "Ich habe bis heute nichts erstattet bekommen.",
        "The refund was issued but never arrived.",
        "We have not refunded anything yet.",
        "I was refunded only half of the price.",
        "Your refund request has been received and will be processed.",
        "Wir schicken heute keinen Ersatz.",
        "We will not send a replacement today.",
        "Wir senden Ihnen morgen eine Antwort.",
        "Sie erhalten keine Gutschrift.",
        "Die Versandkosten erstatten wir nicht.",
        "We will not refund the shipping.",
        "Did you get the replacement?",
        "Erhalten Sie eine Gutschrift oder Ersatz?",
    ],
)
def test_a_negated_or_disputed_action_is_no_action(body):
    """Complaints quoting what did not happen, or what a shop claims, report no action."""
    actions = {"action-reported", "action-done", "action-announced", "remedy-granted"}
    assert not actions & set(fired("Re: x", body))


@pytest.mark.parametrize(
    "body",
    [
        "Sobald Ihre Rücksendung bei uns eingegangen ist, erhalten Sie eine Gutschrift.",
        "Sie erhalten eine Gutschrift, sobald die Ware geprüft ist.",
        "Nach Prüfung erhalten Sie eine Gutschrift oder Ersatz.",
        "Sollte die Ware beschädigt sein, erstatten wir Ihnen den Kaufpreis.",
        "Wir erstatten Ihnen den Betrag nach Eingang der Rücksendung.",
        "If your order arrived damaged, you will receive a replacement.",
        "You will receive a refund once we have checked the item.",
        "You'll receive your refund within 14 days of receiving the return.",
        "We will refund you when the parcel is back with us.",
    ],
)
def test_a_remedy_under_a_condition_is_a_policy_not_an_answer(body):
    """Acknowledgements state their return policy as a remedy under a condition; that
    grants nothing, so "remedy-granted" does not fire."""
    assert "remedy-granted" not in fired("Re: x", body)


def test_a_declared_automatic_reply_beats_a_reported_action():
    """ "This is an automated message" is what the mail is, whatever it reports."""
    body = "This is an automated message. Your refund of 20 EUR has been issued."
    assert decisive_kind(match_auto_reply("Refund", body)) == "ticket_ack"


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        (
            "AW: Fall",
            "Ihre Rückerstattung über 59,90 EUR wurde heute veranlasst.\n\nDiese Nachricht "
            "wurde automatisch erstellt. Bitte antworten Sie nicht direkt auf diese E-Mail.",
            HUMAN,
        ),
        (
            "Re: case",
            "We have refunded 49,90 EUR today.\n\nTom\n\nThis email was generated "
            "automatically. Please do not reply.",
            HUMAN,
        ),
        # The declaration first, or in the subject: the notification says what it is.
        (
            "Refund",
            "Diese Nachricht wurde automatisch erstellt. Ihre Rückerstattung über 59,90 EUR "
            "wurde heute veranlasst.",
            "ticket_ack",
        ),
        (
            "Automatische Benachrichtigung: Erstattung",
            "Ihre Rückerstattung über 59,90 EUR wurde heute veranlasst.",
            "ticket_ack",
        ),
        # An absence above the footer is no answer.
        (
            "Re: Fall",
            "Ich bin bis 14.12. nicht im Büro.\n\nDiese Nachricht wurde automatisch erstellt.",
            "out_of_office",
        ),
    ],
)
def test_a_persons_answer_above_a_generic_automatic_footer_is_a_persons(subject, body, kind):
    """Ticket systems put "Diese Nachricht wurde automatisch erstellt" under their agents'
    answers: an action reported above that generic footer is a person's answer; one below
    the declaration (or under an automatic subject) is a notification's."""
    assert decisive_kind(match_auto_reply(subject, body)) == kind


def test_combined_evidence_must_stand_together():
    """Evidence far apart in a long complaint (a quoted recording here, a website's promise
    there) combines into nothing; the same words together are an absence note."""
    far = (
        'I called: a recording said "we are closed".'
        + " I tried again and again, on many days and at many hours." * 8
        + ' Their website says "we will get back to you within 24 hours".'
    )
    near = "We are closed. We will get back to you within 24 hours."
    assert "ooo-stated" not in fired("Complaint", far)
    assert "ooo-stated" in fired("Re: case", near)


def test_evidence_kinds_name_only_automatic_kinds():
    """Evidence tips the model towards an automatic kind, never towards "human"."""
    hits = match_auto_reply("Re: x", "Can you check? We have received your email.")
    assert evidence_kinds(hits) == {"ticket_ack"}


def test_rule_ids_are_dashed_and_unique():
    """Rule ids are unique dashed lower-case names, as logs and config expect."""
    ids = [rule.id for rule in AUTO_REPLY_RULES]
    assert len(ids) == len(set(ids))
    assert all(rule_id == rule_id.lower() and " " not in rule_id for rule_id in ids)
    assert all("-" in rule_id for rule_id in ids)


def test_every_text_rule_has_a_trigger_and_combinations_name_earlier_rules():
    """Every pattern rule has prefilter words (without any it would never run); every
    combination names only rules above it in the table, which have run by then."""
    seen: set[str] = set()
    for rule in AUTO_REPLY_RULES:
        if isinstance(rule, AutoReplyRule):
            assert rule.triggers, rule.id
        else:
            assert isinstance(rule, RuleCombination)
            named = {rule_id for group in rule.needs for rule_id in group} | set(rule.unless)
            assert named <= seen, (rule.id, named - seen)
        seen.add(rule.id)


@pytest.mark.parametrize(
    "text",
    [
        "die erstattung wurde " * 300,
        "we have " * 600,
        ", haben " * 600,
        "ich bin unterwegs " * 300,
        "a " * 2000 + "will",
        "refund the replacement " * 300,
        ", bin bis 1. " * 400,
        ", back on 1 " * 400,
        "ab dem 1.1. " * 400,
        "wir schicken heute " * 300,
        "geht ersatz heute " * 300,
        "Hallo, " + "ist angekommen. " * 250 + "wir kümmern uns darum",
        ". sie erhalten " * 300,
        "; you will receive " * 300,
        ": die versandkosten erstatten " * 150,
        "kostenkosten" * 330 + " erstatten wir",
        "bestätigen " * 400,
        "your message " * 300,
    ],
)
def test_matching_hostile_text_stays_fast(text):
    """Texts built to make the rules backtrack are read in well under 50 ms (the body is
    cut at a bound and no pattern nests repetition)."""
    assert cpu_seconds(lambda: match_auto_reply("Re: x " * 200, text)) < 0.05


def test_the_evidence_that_may_not_tip_the_model_names_existing_rules():
    """`_SENDER_MARKS` names rules by id: a renamed rule would silently tip again."""
    assert autoreply._SENDER_MARKS.issubset(rule.id for rule in AUTO_REPLY_RULES)
