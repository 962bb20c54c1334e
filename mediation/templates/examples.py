"""docs/mails.md: every mail template in German and English, rendered with examples.

``python -m mediation.templates.examples > docs/mails.md`` regenerates it; a test fails
when the committed file differs, so the page always shows what the parties read.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from mediation import templates
from mediation.incoming import Attachment
from mediation.outgoing import AttachmentPolicy, enclose

EXAMPLE = {
    "ref": "SSG-2026-000123",
    "merchant_name": "Möbel Fuchs",
    "customer_name": "Erika Muster",
    "customer_address": "erika.muster@example.org",
    "customer_mailbox": templates.mailbox("Erika Muster", "erika.muster@example.org"),
    "sender_mailbox": templates.mailbox("Erika Muster", "erika.muster@example.org"),
    "mediator_address": "schlichterin@siegel-schlichtung.example",
    "sender_address": "erika.muster@example.org",
    "sender_name": "Erika Muster",
    "subject": "Sofa beschädigt",
    "mail_subject": "Frage zum Siegel",
    "mail_text": "> Wie bekommt mein Shop das Siegel?",
    "complaint_text": "> Das Sofa kam mit gebrochenem Bein an (Bestellung MF-204518).",
    "message_text": "> Wir holen das Sofa nächste Woche ab und liefern ein neues.",
    "proposal_text": "> Möbel Fuchs erstattet 899 Euro und holt das Sofa ab.",
    "quoted_words": "Erika Muster schreibt dazu:\n\n> Die Abholung wurde zweimal verschoben.",
    "party_name": "Möbel Fuchs",
    "days": "5",
    "complaint_address": "beschwerde@siegel.example",
    "case_address": "fall+SSG-2026-000123.customer.TOKEN@siegel.example",
    "rating_link": "https://siegel.example/bewertung/SSG-2026-000123.1774000000.TOKEN",
    "forwarded_to": "Möbel Fuchs",
    "previous_mediator": "schlichter@siegel-schlichtung.example",
    "bounced_recipient": templates.mailbox("Möbel Fuchs", "service@moebel-fuchs.example"),
    "bounced_mail": '"[SSG-2026-000123] Neue Beschwerde: erste Antwort bis Mittwoch, 4. März '
    '2026, 17:00 Uhr (MEZ)" (merchant.complaint_forwarded; siegel outbox show 16)',
    "bounce_reason": "550 5.1.1 <service@moebel-fuchs.example>: Recipient address rejected: "
    "User unknown in virtual mailbox table",
    "case_refs": "- SSG-2026-000124\n- SSG-2026-000125",
}
ATTACHMENTS = (
    Attachment(0, "sofa.jpg", "image/jpeg", 1_288_490, "attachment"),
    Attachment(1, "Rechnung März.pdf", "application/pdf", 84_120, "attachment"),
    Attachment(2, "Reklamation.exe", "application/x-msdownload", 310_272, "attachment"),
)
"""A complaint's attachments: two forwarded, one withheld (`outgoing.enclose`)."""
REPORT_EXAMPLE = {"month": "2026-03", "merchant_name": "Möbel Fuchs"}
REPORT_WRITTEN = {
    "de": {
        "figures": "Neue Fälle: 12\nErste Antwort, Median: 4 Geschäftsstunden",
        "tier_changes": "Stufe geändert am 14.03.2026: Silber → Gold",
    },
    "en": {
        "figures": "New cases: 12\nFirst reply, median: 4 business hours",
        "tier_changes": "Tier changed on 14 March 2026: Silber → Gold",
    },
}


# Values a recipient reads in their own language, made as the service makes them.
_DEADLINE = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
_MERCHANT_REPLIED = datetime(2026, 3, 2, 9, 12, tzinfo=UTC)
_ZONE = "Europe/Berlin"
_WRITTEN = {
    "de": {
        "rating_summary": "Service 4, Erreichbarkeit 5, Reaktionszeit 3",
        "rating_help": "Bitte tragen Sie je eine Zahl von 1 bis 5 ein.",
        "reason": "Die Beschwerde kam doppelt; der Fall SSG-2026-000122 läuft weiter.",
    },
    "en": {
        "rating_summary": "Service 4, Reachability 5, Reaction time 3",
        "rating_help": "Please enter one number from 1 to 5 for each.",
        "reason": "The complaint arrived twice; case SSG-2026-000122 goes on.",
    },
}


_WITHDRAWN = {
    "de": "Die Kundin hat angerufen: Das Sofa wurde ersetzt.",
    "en": "The customer called: the sofa has been replaced.",
}


def _in_language(language: str, reader: str) -> dict[str, str]:
    replied = templates.format_moment(_MERCHANT_REPLIED, language, _ZONE)
    event = templates.event_label("MerchantReplied", language)
    policy = AttachmentPolicy()
    return _WRITTEN[language] | {
        "greeting": templates.greeting(EXAMPLE["customer_name"], "", language),
        "attachments": templates.attachment_list(
            enclose(ATTACHMENTS, policy), policy, language, reader
        ),
        "party": templates.party_label("merchant", language),
        "about_case": templates.about_case(EXAMPLE["ref"], language),
        "held_reason": templates.held_text("not-case-address", language),
        "next_step": templates.bounce_step(
            "forward-stopped",
            language,
            {
                "slug": "moebel-fuchs",
                "ref": EXAMPLE["ref"],
                "address": "service@moebel-fuchs.example",
                "current": "service@moebel-fuchs.example",
            },
        ),
        "stated_reason": templates.stated_reason(_WITHDRAWN[language], language),
        "also_named": templates.also_named(
            ["Gartenwelt Schneider"], "Möbel Fuchs", "beschwerde@siegel.example", language
        ),
        "deadline": templates.format_moment(_DEADLINE, language, _ZONE),
        # A message while a proposal awaits the reader's answer, written as one.
        "what_now": templates.what_now(
            reader, True, templates.format_moment(_DEADLINE, language, _ZONE), language
        ),
        "uncounted_verdict": templates.uncounted_verdict("accept", reader, language),
        "case_file": f"- {replied}: {event} ({templates.party_label('merchant', language)})",
        "problems": f"- #frist fünf: {templates.problem_text('bad-days', language)}",
    }


def _example(language: str, reader: str = "merchant") -> dict[str, str]:
    """The example values in `language` for a mail to `reader` (the party of its
    template), with every block filled: a mail shown as it reads when it carries all it
    may (the rating request in a closing notice, a mediator's words)."""
    values = EXAMPLE | _in_language(language, reader)
    blocks = {"message_text": "> Danke an beide Seiten für die schnelle Einigung."}
    return values | {
        block: templates.render_block(block, language, values | blocks)
        for block in templates.BLOCKS
    }


def document() -> str:
    """The page: every template, German then English, with the example values."""
    lines = [
        "# Mails",
        "",
        "Every mail Service-Siegel writes to a customer, merchant, mediator or the operator,",
        "in German and English, rendered with example values. Generated from",
        "`mediation/templates/*.toml` by",
        "`python -m mediation.templates.examples > docs/mails.md`; do not edit by hand.",
        "Which event sends which mail: [states.md](states.md). A mail with room for a block",
        "(`${rating_request}`: the rating request in a closing notice; `${mediator_message}`:",
        "the mediator's words that came with a proposal, an extension or a closing) is shown",
        "with it filled in; without one the block is left out.",
        "",
    ]
    keys = sorted(templates.names("de"))
    reports = [("merchant.monthly_report", True), ("operator.monthly_report", True)]
    for key, is_report in [(k, False) for k in keys] + reports:
        lines += [f"## `{key}`", ""]
        for language in templates.LANGUAGES:
            if is_report:
                values = REPORT_EXAMPLE | REPORT_WRITTEN[language]
                rendered = templates.render_report(key, language, values)
            else:
                values = _example(language, key.partition(".")[0])
                if key == "customer.merchant_requested":  # several shops named, none decided
                    values["also_named"] = templates.also_named(
                        ["Möbel Fuchs", "Gartenwelt Schneider"], None,
                        "beschwerde@siegel.example", language,
                    )  # fmt: skip
                rendered = templates.render(key, language, values)
            lines += [f"**{language}**: {rendered.subject}", "", "```text", rendered.text.rstrip()]
            lines += ["```", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m mediation.templates.examples > docs/mails.md", file=sys.stderr)
        return 2
    sys.stdout.write(document())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
