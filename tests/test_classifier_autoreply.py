"""Automatic-reply text rules: they name out-of-office notes, ticket acknowledgements and
delivery failures in German and English, and leave human replies alone."""

from __future__ import annotations

import pytest

from classifier.autoreply import AUTO_REPLY_RULES, decisive_kind, match_auto_reply


@pytest.mark.parametrize(
    ("subject", "body", "kind", "rule"),
    [
        (
            "Abwesenheitsnotiz: Ihre Beschwerde",
            "Danke für Ihre Nachricht.",
            "out_of_office",
            "ooo-subject",
        ),
        (
            "Re: Fall",
            "Ich bin bis einschließlich 14.08. nicht im Büro.",
            "out_of_office",
            "ooo-phrase",
        ),
        (
            "Re: case",
            "I am currently out of the office with limited access to email.",
            "out_of_office",
            "ooo-phrase",
        ),
        ("Automatic reply: complaint", "Thanks", "out_of_office", "ooo-subject"),
        (
            "Ihre Anfrage",
            "Vielen Dank für Ihre Anfrage. Ihr Ticket #48213 wurde erstellt.",
            "ticket_ack",
            "ticket-created",
        ),
        (
            "Request received",
            "This is an automated response. Your request (#991) has been created.",
            "ticket_ack",
            "automated-message",
        ),
        (
            "Eingangsbestätigung",
            "Bitte antworten Sie nicht auf diese E-Mail.",
            "ticket_ack",
            "do-not-reply",
        ),
        (
            "Undeliverable: Beschwerde",
            "Delivery has failed to these recipients or groups:",
            "delivery_failure",
            "dsn-subject",
        ),
        (
            "Fehler",
            "Die Nachricht konnte nicht an service@shop.example zugestellt werden.",
            "delivery_failure",
            "dsn-phrase",
        ),
        (
            "Failure",
            "Remote server returned 550 5.1.1 recipient unknown",
            "delivery_failure",
            "dsn-status-code",
        ),
    ],
)
def test_automatic_replies_are_named(subject, body, kind, rule):
    """Each wording is recognised with its rule id and kind; decisive rules settle the kind
    (the out-of-office phrase is evidence only: merchants also answer while away)."""
    hits = match_auto_reply(subject, body)
    hit = next(hit for hit in hits if hit.rule == rule)
    assert hit.kind == kind
    assert decisive_kind(hits) == (kind if hit.decisive else None)


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Re: refund", "Sorry for the slow reply, I was on vacation. Your refund was sent today."),
        ("Re: Paket", "Unser Lager war im Urlaub geschlossen, Ihr Paket geht morgen raus."),
        ("Beschwerde", "Mein Paket konnte nicht zugestellt werden, sagt DHL. Wo ist es?"),
        ("Re: Fall", "Ich bin sauer. Der Support ist nie erreichbar."),
        ("Re: ticket 4411", "Ich habe Ihr Ticket geprüft: die Erstattung ist heute raus."),
        ("AW: Automatische Antwort: Fall", "Ich bin doch schon zurück: Erstattung ist raus."),
        ("Re: case", "I'm technically still on leave, but the refund was sent today."),
    ],
)
def test_human_replies_fire_no_decisive_rule(subject, body):
    """Human replies that mention vacations, tickets or failed parcel deliveries are not
    taken for automatic replies."""
    assert decisive_kind(match_auto_reply(subject, body)) is None


def test_rule_ids_are_dashed_and_unique():
    """Rule ids are unique dashed lower-case names, as logs and config expect."""
    ids = [rule.id for rule in AUTO_REPLY_RULES]
    assert len(ids) == len(set(ids))
    assert all(rule_id == rule_id.lower() and " " not in rule_id for rule_id in ids)
    assert all("-" in rule_id for rule_id in ids)


def test_every_rule_has_a_trigger():
    """Every rule has prefilter words (a rule without any would never run)."""
    assert all(rule.triggers for rule in AUTO_REPLY_RULES)
