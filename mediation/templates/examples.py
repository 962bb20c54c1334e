"""docs/mails.md: every mail template in German and English, rendered with examples.

``python -m mediation.templates.examples > docs/mails.md`` regenerates it; a test fails
when the committed file differs, so the page always shows what the parties read.
"""

from __future__ import annotations

import sys

from mediation import templates

EXAMPLE = {
    "ref": "SSG-2026-000123",
    "merchant_name": "Möbel Fuchs",
    "customer_name": "Erika Muster",
    "customer_address": "erika.muster@example.org",
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
    "party": "der Händler",
    "party_name": "Möbel Fuchs",
    "days": "5",
    "deadline": "Mittwoch, 4. März 2026, 17:00 Uhr (MEZ)",
    "case_file": "- Montag, 2. März 2026, 10:12 Uhr (MEZ): Beschwerde eingegangen (Kundin)",
    "complaint_address": "beschwerde@siegel.example",
    "case_address": "fall+SSG-2026-000123.customer.TOKEN@siegel.example",
    "problems": "- #frist fünf: erwartet eine Zahl von Werktagen, z. B. #frist 5",
    "rating_summary": "Service 4, Erreichbarkeit 5, Reaktionszeit 3",
    "rating_help": "Bitte tragen Sie je eine Zahl von 1 bis 5 ein.",
    "rating_link": "https://siegel.example/bewerten/TOKEN",
    "reason": "Die Beschwerde kam doppelt; der Fall SSG-2026-000122 läuft weiter.",
    "forwarded_to": "Möbel Fuchs",
    "previous_mediator": "schlichter@siegel-schlichtung.example",
}
REPORT_EXAMPLE = {
    "month": "2026-03",
    "merchant_name": "Möbel Fuchs",
    "figures": "Neue Fälle: 12\nErste Antwort, Median: 4 Geschäftsstunden",
    "tier_changes": "Stufe geändert am 2026-03-14: silber → gold",
}


def _example(language: str) -> dict[str, str]:
    """The example values with every block filled: a mail shown as it reads when it
    carries all it may (the rating request in a closing notice, a mediator's words)."""
    blocks = {"message_text": "> Danke an beide Seiten für die schnelle Einigung."}
    return EXAMPLE | {
        block: templates.render_block(block, language, EXAMPLE | blocks)
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
                rendered = templates.render_report(key, language, REPORT_EXAMPLE)
            else:
                rendered = templates.render(key, language, _example(language))
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
