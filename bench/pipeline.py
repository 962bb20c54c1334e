"""Pipeline benchmark (issue 11): complaint files stored with `siegel ingest`, drained by the
worker until every mail has its case and both outgoing mails, then checked in the database.

N complaint mails (default 2,000) are generated as files: German and English, eight
complaint categories, plain text, text with HTML, some with a photo attached or the
shop's last answer quoted, From addresses of many customers at many providers. Each
names one of six merchants, registered first with `siegel merchant add`, by its name,
its domain or one of its order numbers only, so that every routing rule is exercised.
The classifier model is trained once into the data directory (`siegel classifier
train`) before anything is timed: the first start's training is not counted.

Timed: storing (`siegel ingest FILE ...`, a process per 1,000 files, each storing and
committing mail by mail as behind an MTA; recipients from the To header, the envelope
sender unknown as from a pipe without -f) and processing (the worker's `drain()` until
the queue is empty, its INFO log written to a file as under `siegel serve`). End to end
is N over the sum of both. During processing an SQLAlchemy `before_cursor_execute`
listener counts SQL statements (an executemany is one), `commit` and `after_flush`
listeners count commits and flushes. Peak RSS is the worker's (`getrusage`) plus that
of its analysis process (`[queue] analysis_process`, started before timing, as it runs
in a service that has had a backlog; `--no-analysis-process` turns it off). Checked
afterwards: every mail stored once and `done` after one attempt, exactly one case per
mail with the merchant the mail named, exactly one acknowledgement and one forward in
the outbox per case, nothing held, quarantined or logged as a warning or error.
Duplicates, lost mails and errors (a count of such findings, not of mails) must all be
0; how many cases got the category and language the mail was written in is printed,
not judged.

SQLite (default: a temporary file, or an empty database by URL; the worker runs in this
process) or PostgreSQL by `--database-url`: then the run is made twice, each in a fresh
schema of that database (created as `siegel_bench_*` and dropped afterwards), once with
one worker process and once with `--workers` (default 2) worker processes draining the
same queue; the first is the run the top-level figures describe. On SQLite `--workers N`
adds a run with N worker processes on a fresh file (printed, not judged: one writer).
The machine's CPU count and load average are reported with the figures: other work
skews the ratio.

Targets (issue 11): end to end on SQLite >= 600 mails/s and <= 6 statements per mail
(judged on every backend); on PostgreSQL N workers >= 0.9 x N times one worker (1.8 for
two); 0 duplicates, 0 lost, 0 errors. The last line printed is one JSON object with the
figures, the targets and `targets_met`; the exit status is 1 when a target is missed.

    .venv/bin/python bench/pipeline.py [--mails 2000] [--database-url URL] [--workers 2]
        [--merchants 6] [--no-analysis-process] [--seed 11] [--keep]

`--merchants N` registers N - 6 more merchants that no complaint is about (names,
domains and order patterns of their own), as a seal has thousands: routing must still
find the six without trying every rule on every merchant.

With BENCH_PROFILE=FILE set, the SQLite drain runs under cProfile and its statistics are
written to FILE (`python -m pstats FILE`); the figures are then the profiler's, not ours.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory import peak_rss_mb  # bench/memory.py, beside this script
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from mailflow import casework
from mailflow import config as config_module
from mailflow.models import MailStatus, OutboxMail, StoredMail
from mailflow.schema import open_database
from mailflow.worker import Worker
from mediation.storage import Case, HeldMail, Merchant

DOMAIN = "siegel-bench.test"
SECRET = "bench-secret-pipeline-0123456789abcdef"  # noqa: S105 - throwaway
FILES_PER_INGEST = 1000
EXPECTED_KINDS = ("customer.complaint_acknowledged", "merchant.complaint_forwarded")
TARGET_END_TO_END = 600.0  # mails/s, SQLite
TARGET_STATEMENTS = 6.0  # per mail
TARGET_SPEEDUP_PER_WORKER = 0.9  # N workers >= 0.9 x N x one worker: 1.8 for two
SCHEMA_PREFIX = "siegel_bench"


# ------------------------------------------------------------------ the six merchants


@dataclass(frozen=True)
class Shop:
    slug: str
    name: str
    alias: str  # how some customers write the name: the name rule does not find it
    email: str
    domain: str
    order_pattern: str
    order_format: str  # str.format with d4..d8 (digits) and a, b (letters): order_pattern's
    language: str
    products_de: tuple[str, ...]  # "GENDER NOUN": m, f or n, for the articles
    products_en: tuple[str, ...]

    def order_number(self, rng: random.Random) -> str:
        digits = {f"d{k}": f"{rng.randrange(10**k):0{k}d}" for k in range(4, 9)}
        return self.order_format.format(**digits, a=rng.choice("ABCDEFGH"), b=rng.choice("KLMNPRS"))


SHOPS = (
    Shop(
        "moebel-fuchs", "Möbel Fuchs", "Fuchs-Möbel",
        "support@moebel-fuchs.example", "moebel-fuchs.example",
        r"\bMF-\d{6}\b", "MF-{d6}", "de",
        ("n Sofa", "m Esstisch aus Eiche", "n Boxspringbett", "m Kleiderschrank", "m Couchtisch"),
        ("sofa", "oak dining table", "box-spring bed", "wardrobe", "coffee table"),
    ),
    Shop(
        "technest", "TechNest", "Tech Nest",
        "service@technest-store.example", "technest-store.example",
        r"\bTN-\d{5}\b", "TN-{d5}", "de",
        ("m Laptop", "m Bluetooth-Kopfhörer", "m Monitor (27 Zoll)", "f Smartwatch", "m Drucker"),
        ("laptop", "bluetooth headphones", "27-inch monitor", "smartwatch", "printer"),
    ),
    Shop(
        "gartenwelt-kroeger", "Gartenwelt Kröger", "Kröger Gartenwelt",
        "kundenservice@gartenwelt-kroeger.example",
        "gartenwelt-kroeger.example", r"\bGK\d{7}\b", "GK{d7}", "de",
        ("m Rasentrimmer", "n Hochbeet", "m Gartenschlauch", "m Rasenmäher", "m Pflanzkübel"),
        ("grass trimmer", "raised bed", "garden hose", "lawn mower", "planter"),
    ),
    Shop(
        "modehaus-lind", "Modehaus Lind", "Mode Lind",
        "hilfe@modehaus-lind.example", "modehaus-lind.example",
        r"\bML/\d{4}/\d{4}\b", "ML/2026/{d4}", "de",
        ("m Wintermantel", "n Paar Lederstiefel", "f Jeans", "m Strickpullover", "n Sommerkleid"),
        ("winter coat", "leather boots", "jeans", "knitted jumper", "summer dress"),
    ),
    Shop(
        "brightbooks", "BrightBooks", "Bright Books",
        "support@brightbooks.example", "brightbooks.example",
        r"\bBB-[A-Z]{2}\d{6}\b", "BB-{a}{b}{d6}", "en",
        ("n Buchpaket", "n Kochbuch", "m E-Reader", "m Bildband", "m Wandkalender"),
        ("book bundle", "cookbook", "e-reader", "illustrated book", "wall calendar"),
    ),
    Shop(
        "kitchen-crafters", "Kitchen Crafters", "KitchenCrafters",
        "care@kitchen-crafters.example",
        "kitchen-crafters.example", r"\bKC\d{8}\b", "KC{d8}", "en",
        ("f Kaffeemaschine", "m Messerblock", "m Standmixer", "n Pfannenset", "f Küchenmaschine"),
        ("coffee machine", "knife block", "blender", "set of pans", "stand mixer"),
    ),
)  # fmt: skip


# ------------------------------------------------------------------ complaint texts
# Per language and category: subjects and an opening; shared closings. The placeholders
# are {shop} (how the mail names the merchant), {product} (the noun), {product_a} (with an
# indefinite article, German accusative), {product_the} (definite, German nominative),
# {order}, {days}, {amount}, {date}.

SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "delivery": ("Wo bleibt meine Bestellung?", "Paket seit {days} Tagen nicht angekommen",
                     "Lieferung {order} fehlt", "Keine Lieferung trotz Zahlung"),
        "damaged_defective": ("{product} beschädigt geliefert", "Ware defekt angekommen",
                              "{product} funktioniert nicht", "Mangel an meiner Bestellung"),
        "wrong_item": ("Falscher Artikel geliefert", "Falsche Größe/Farbe erhalten",
                       "Bestellung {order}: falsche Ware"),
        "return_refund": ("Rückerstattung fehlt", "Retoure seit Wochen nicht erstattet",
                          "Geld für Rücksendung {order} nicht zurück"),
        "payment_billing": ("Doppelt abgebucht", "Falsche Rechnung", "Mahnung trotz Zahlung"),
        "cancellation": ("Stornierung wird ignoriert", "Widerruf nicht bestätigt",
                         "Bestellung {order} storniert - trotzdem geliefert"),
        "service_reachability": ("Kundenservice nicht erreichbar", "Keine Antwort auf meine Mails",
                                 "Seit {days} Tagen keine Rückmeldung"),
        "privacy_data": ("Auskunft nach Art. 15 DSGVO", "Löschung meiner Daten",
                         "Werbung trotz Widerspruch"),
    },
    "en": {
        "delivery": ("Where is my order?", "Parcel not arrived after {days} days",
                     "Order {order} never delivered", "Paid but nothing delivered"),
        "damaged_defective": ("{product} arrived damaged", "Faulty {product}",
                              "Item broken on arrival", "Defect after one week"),
        "wrong_item": ("Wrong item delivered", "Received the wrong size",
                       "Order {order}: not what I ordered"),
        "return_refund": ("Refund still missing", "Return not refunded",
                          "Where is my refund for {order}?"),
        "payment_billing": ("Charged twice", "Incorrect invoice",
                            "Payment reminder although I paid"),
        "cancellation": ("Cancellation ignored", "Withdrawal not confirmed",
                         "Cancelled order {order} shipped anyway"),
        "service_reachability": ("Customer service unreachable", "No reply to my emails",
                                 "No answer for {days} days"),
        "privacy_data": ("Subject access request (GDPR Art. 15)", "Please delete my data",
                         "Marketing emails despite objection"),
    },
}  # fmt: skip

BODIES: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "delivery": (
            "ich habe am {date} bei {shop} {product_a} bestellt und sofort bezahlt. Laut "
            "Bestätigung sollte die Lieferung in 3-5 Werktagen kommen, inzwischen sind "
            "{days} Tage vergangen und ich habe weder Ware noch Versandbestätigung.",
            "die Sendungsverfolgung für meine Bestellung bei {shop} zeigt seit {days} Tagen "
            '"in Zustellung", angekommen ist nichts. Bei den Nachbarn ist auch kein Paket.',
            "laut DHL wurde mein Paket von {shop} zugestellt, ich habe aber nichts bekommen. "
            "Es geht um {product_a} für {amount}.",
        ),
        "damaged_defective": (
            "{product_the} von {shop} kam heute mit deutlichen Schäden an: der Karton war "
            "eingedrückt und die Ware selbst zerkratzt. Fotos habe ich gemacht.",
            "nach nur zwei Wochen ist {product_the}, gekauft bei {shop}, defekt. Es lässt "
            "sich nicht mehr einschalten, ich habe alles nach Anleitung gemacht.",
            "ich habe bei {shop} {product_a} gekauft ({amount}). Schon beim Auspacken "
            "war ein Teil gebrochen, so kann ich das nicht benutzen.",
        ),
        "wrong_item": (
            "ich hatte bei {shop} {product_a} bestellt, geliefert wurde aber ein ganz "
            "anderer Artikel. Ich habe das sofort gemeldet, aber nichts ist passiert.",
            "ich habe bei {shop} {product_a} in Schwarz bestellt und stattdessen ein "
            "anderes Modell in Weiß bekommen.",
        ),
        "return_refund": (
            "ich habe meine Bestellung ({product}) am {date} fristgerecht an {shop} "
            "zurückgeschickt, die "
            "Sendung wurde laut Tracking zugestellt. Die Erstattung von {amount} fehlt "
            "bis heute.",
            "seit {days} Tagen warte ich auf mein Geld von {shop}. Die Retoure wurde "
            "bestätigt, erstattet wurde nichts.",
        ),
        "payment_billing": (
            "{shop} hat mir die Bestellung zweimal abgebucht, insgesamt zweimal {amount}. "
            "Den Kontoauszug kann ich gern schicken.",
            "ich habe eine Mahnung von {shop} bekommen, obwohl ich die Rechnung über "
            "{amount} am {date} überwiesen habe. Jetzt sollen noch Mahngebühren dazukommen.",
        ),
        "cancellation": (
            "ich habe meine Bestellung bei {shop} eine Stunde nach dem Kauf storniert, "
            "schriftlich per Mail. Trotzdem wurde {product_the} verschickt und abgebucht.",
            "ich habe am {date} den Widerruf an {shop} geschickt. Eine Bestätigung habe "
            "ich nie bekommen, das Geld ({amount}) auch nicht.",
        ),
        "service_reachability": (
            "ich versuche seit {days} Tagen, den Kundenservice von {shop} zu erreichen. "
            "Am Telefon läuft nur eine Ansage, auf drei Mails kam keine Antwort.",
            "das Kontaktformular von {shop} liefert nur eine Fehlermeldung, und die "
            "Hotline ist dauernd besetzt. Es geht um eine Reklamation ({product}).",
        ),
        "privacy_data": (
            "ich habe {shop} am {date} um Auskunft über meine gespeicherten Daten nach "
            "Art. 15 DSGVO gebeten. Die Frist von einem Monat ist abgelaufen, ohne Antwort.",
            "trotz meines Widerspruchs bekomme ich von {shop} weiterhin Werbung, und die "
            "Löschung meines Kontos wurde nicht bestätigt.",
        ),
    },
    "en": {
        "delivery": (
            "I ordered {product_a} from {shop} on {date} and paid straight away. Delivery "
            "was promised within 3-5 working days; it has now been {days} days and I have "
            "neither the parcel nor a shipping confirmation.",
            'the tracking for my order with {shop} has said "out for delivery" for {days} '
            "days. Nothing has arrived and the neighbours have nothing either.",
            "the courier claims my parcel from {shop} was delivered, but I never received "
            "it. It is {product_a} worth {amount}.",
        ),
        "damaged_defective": (
            "{product_the} from {shop} arrived today badly damaged: the box was crushed and "
            "the item itself is scratched. I have taken photos.",
            "after only two weeks {product_the} I bought from {shop} stopped working. It "
            "will not switch on any more although I followed the manual.",
            "I bought {product_a} from {shop} for {amount}. One part was already broken "
            "when I unpacked it, so I cannot use it.",
        ),
        "wrong_item": (
            "instead of {product_a}, {shop} sent me a completely different item. I "
            "reported it at once, but nothing has happened.",
            "I ordered {product_a} in black from {shop} and received a different model "
            "in white instead.",
        ),
        "return_refund": (
            "I returned {product_the} to {shop} on {date}, within the return period, and the "
            "tracking shows it was delivered. The refund of {amount} is still missing.",
            "I have been waiting {days} days for my money from {shop}. The return was "
            "confirmed, but nothing has been refunded.",
        ),
        "payment_billing": (
            "{shop} charged my card twice for the same order, two times {amount}. I can "
            "send the bank statement.",
            "I received a payment reminder from {shop} although I paid the invoice of "
            "{amount} on {date}. Now they want a late fee on top.",
        ),
        "cancellation": (
            "I cancelled my order with {shop} one hour after buying, in writing by email. "
            "They shipped {product_a} anyway and took the money.",
            "I sent my withdrawal to {shop} on {date}. I never got a confirmation, and "
            "no money ({amount}) either.",
        ),
        "service_reachability": (
            "I have been trying to reach the customer service of {shop} for {days} days. "
            "The phone line only plays a message and three emails went unanswered.",
            "the contact form of {shop} only shows an error and the hotline is always "
            "busy. I want to complain about {product_a}.",
        ),
        "privacy_data": (
            "on {date} I asked {shop} for a copy of the personal data they hold about me "
            "under Art. 15 GDPR. The one-month deadline has passed without an answer.",
            "despite my objection {shop} keeps sending me marketing emails, and the "
            "deletion of my account was never confirmed.",
        ),
    },
}

ASKS = {
    "de": (
        "Ich bitte Sie, hier zu vermitteln.",
        "Können Sie bitte helfen? Ich möchte entweder die Ware oder mein Geld zurück.",
        "Bitte kümmern Sie sich darum, ich weiß nicht mehr weiter.",
        "Ich erwarte eine Lösung bis Ende der Woche.",
    ),
    "en": (
        "Could you please mediate?",
        "Please help me get either the item or my money back.",
        "I would be grateful if you could look into this.",
        "I expect this to be resolved by the end of the week.",
    ),
}
GREETINGS = {
    "de": ("Guten Tag,", "Sehr geehrte Damen und Herren,", "Hallo,", "Hallo Service-Siegel-Team,"),
    "en": ("Hello,", "Dear Sir or Madam,", "Hi,", "Good afternoon,"),
}
CLOSINGS = {
    "de": ("Mit freundlichen Grüßen", "Viele Grüße", "Freundliche Grüße", "Danke und Gruß"),
    "en": ("Kind regards,", "Best regards,", "Thanks,", "Sincerely,"),
}
QUOTED_SHOP_ANSWER = {
    "de": "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich bei Ihnen.",
    "en": "Thank you for your message. We will get back to you as soon as possible.",
}
FIRST_NAMES = ("Erika", "Jürgen", "Heike", "Marcel", "Aylin", "Sören", "Zoë", "Lukas", "Helen",
               "James", "Priya", "Tomasz", "Ingrid", "Björn", "Fatma", "Oliver", "Chloé",
               "Dmitri", "Mia", "Noah")  # fmt: skip
LAST_NAMES = ("Mustermann", "Brandt", "Özdemir", "Weiß", "Markham", "Kowalski", "Nguyen",
              "Schäfer", "O'Brien", "Hoffmann", "Lindqvist", "Rossi", "Fischer", "Patel",
              "Krüger", "Smith", "Wagner", "Yılmaz", "Becker", "Evans")  # fmt: skip
PROVIDERS = ("web.example", "gmx.example", "posteo.example", "mailbox.example",
             "t-online.example", "outlook.example", "gmail.example", "icloud.example",
             "example.org", "uni-bench.example", "firma-bench.example")  # fmt: skip
MAILERS = ("Mozilla Thunderbird 128.4", "Microsoft Outlook 16.0", "Apple Mail (2.3774)",
           "Roundcube Webmail/1.6.9", "K-9 Mail for Android", None, None)  # fmt: skip


@dataclass(frozen=True)
class Complaint:
    """One generated mail and what it should become."""

    message_id: str
    slug: str
    category: str
    language: str
    raw: bytes


def _ascii(text: str) -> str:
    folded = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = folded.replace(umlaut, plain)
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c in ".-"))


def _sender(rng: random.Random, used: Counter[str]) -> tuple[str, str]:
    """A customer's name and address: mostly new customers, some who complain again
    (never more than three times: the daily cap on automatic answers is ten), each time
    about another shop (`compose`)."""
    if used and rng.random() < 0.08:
        address = rng.choice(list(used))
        if used[address] < 3:
            used[address] += 1
            return address.partition("@")[0].replace(".", " ").title(), address
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    while True:
        local = rng.choice(
            (
                f"{_ascii(first)}.{_ascii(last)}",
                f"{_ascii(first)[0]}.{_ascii(last)}",
                f"{_ascii(first)}{rng.randrange(1950, 2008)}",
                f"{_ascii(last)}.{_ascii(first)}{rng.randrange(100)}",
            )
        )
        address = f"{local}@{rng.choice(PROVIDERS)}"
        if address not in used:
            used[address] += 1
            return f"{first} {last}", address


def _naming(shop: Shop, rng: random.Random) -> tuple[str, str]:
    """How the mail names its merchant, so that each routing rule decides some mails:
    (text for {shop}, the order number in the mail)."""
    generic = f"{rng.randrange(10000, 999999)}"  # matches no merchant's pattern
    way = rng.choices(("name", "domain", "order", "name and order"), (35, 25, 25, 15))[0]
    if way == "name":
        return shop.name, generic
    if way == "domain":
        return rng.choice((shop.domain, f"www.{shop.domain}", f"https://{shop.domain}/")), generic
    if way == "order":
        return shop.alias, shop.order_number(rng)
    return shop.name, shop.order_number(rng)


def _articles(language: str, product: str) -> tuple[str, str, str]:
    """The product's noun, with an indefinite article (accusative) and a definite one
    (nominative)."""
    if language == "en":
        article = "an" if product[0] in "aeiou" else "a"
        return product, f"{article} {product}", f"the {product}"
    gender, _, noun = product.partition(" ")
    indefinite = {"m": "einen", "f": "eine", "n": "ein"}[gender]
    definite = {"m": "der", "f": "die", "n": "das"}[gender]
    return noun, f"{indefinite} {noun}", f"{definite} {noun}"


def compose(
    index: int,
    rng: random.Random,
    used: Counter[str],
    now: datetime,
    shops_of: dict[str, set[str]],
) -> Complaint:
    name, address = _sender(rng, used)
    # A customer who complains again does so about another shop: a second complaint
    # about a shop whose case is still open joins that case (no case of its own).
    shop = rng.choice([s for s in SHOPS if s.slug not in shops_of.setdefault(address, set())])
    shops_of[address].add(shop.slug)
    language = "en" if rng.random() < (0.7 if shop.language == "en" else 0.3) else "de"
    category = rng.choice(sorted(BODIES[language]))
    named, order = _naming(shop, rng)
    order_line = rng.choice(
        (f"Bestellnummer {order}", f"Bestellung #{order}", f"Bestellnummer: {order}")
        if language == "de"
        else (f"Order number {order}", f"Order #{order}", f"Order no.: {order}")
    )
    products = shop.products_de if language == "de" else shop.products_en
    product, product_a, product_the = _articles(language, rng.choice(products))
    ordered_on = now - timedelta(days=rng.randrange(8, 60))
    values = {
        "shop": named,
        "product": product,
        "product_a": product_a,
        "product_the": product_the,
        "order": order,
        "days": rng.randrange(8, 40),
        "amount": (f"{rng.randrange(15, 1500)},{rng.randrange(100):02d} €" if language == "de"
                   else f"EUR {rng.randrange(15, 1500)}.{rng.randrange(100):02d}"),
        "date": ordered_on.strftime("%d.%m.%Y" if language == "de" else "%d %B %Y"),
    }  # fmt: skip
    subject = rng.choice(SUBJECTS[language][category]).format(**values)
    opening = rng.choice(BODIES[language][category]).format(**values)
    paragraphs = [rng.choice(GREETINGS[language]), opening[0].upper() + opening[1:], order_line]
    if rng.random() < 0.5:
        paragraphs.append(rng.choice(ASKS[language]))
    paragraphs.append(f"{rng.choice(CLOSINGS[language])}\n{name}")
    text = "\n\n".join(paragraphs) + "\n"
    if rng.random() < 0.15:
        header = (
            f"-----Ursprüngliche Nachricht-----\nVon: {shop.email}\nBetreff: {subject}\n\n"
            if language == "de"
            else f"On {format_datetime(ordered_on)}, {shop.email} wrote:\n"
        )
        text += "\n" + header + "> " + QUOTED_SHOP_ANSWER[language] + "\n"

    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((name, address))
    message["To"] = rng.choice((f"beschwerde@{DOMAIN}", f"Service-Siegel <beschwerde@{DOMAIN}>"))
    message["Subject"] = subject
    message["Date"] = format_datetime(now - timedelta(minutes=rng.randrange(600)))
    message_id = f"<bench.{index}.{rng.getrandbits(48):012x}@{address.partition('@')[2]}>"
    message["Message-ID"] = message_id
    mailer = rng.choice(MAILERS)
    if mailer:
        message["User-Agent"] = mailer
    if rng.random() < 0.3:
        message["Content-Language"] = "de-DE" if language == "de" else "en-GB"
    message.set_content(text)
    if rng.random() < 0.3:
        paragraphs_html = "".join(
            f"<p>{part.replace(chr(10), '<br>')}</p>" for part in text.split("\n\n") if part
        )
        message.add_alternative(
            f'<html><body><div dir="ltr">{paragraphs_html}</div></body></html>', subtype="html"
        )
    if category == "damaged_defective" and rng.random() < 0.4:
        photo = b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randrange(8_000, 40_000)) + b"\xff\xd9"
        message.add_attachment(photo, maintype="image", subtype="jpeg", filename="foto.jpg")
    return Complaint(message_id, shop.slug, category, language, message.as_bytes())


def generate(count: int, seed: int) -> list[Complaint]:
    rng = random.Random(seed)
    used: Counter[str] = Counter()
    shops_of: dict[str, set[str]] = {}
    now = datetime.now(UTC)
    return [compose(index, rng, used, now, shops_of) for index in range(count)]


# ------------------------------------------------------------------ the service, by its CLI


def write_config(folder: Path, url: str, data_dir: Path, analysis_process: bool = True) -> Path:
    path = folder / "config.toml"
    path.write_text(
        "[siegel]\n"
        f"domain = {json.dumps(DOMAIN)}\n"
        f"secret = {json.dumps(SECRET)}\n"
        f"data_dir = {json.dumps(str(data_dir))}\n"
        "[database]\n"
        f"url = {json.dumps(url)}\n"
        "[queue]\n"
        f"analysis_process = {json.dumps(analysis_process)}\n",
        encoding="utf-8",
    )
    return path


def siegel(config_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`siegel ARGUMENTS` as the operator runs it, against `config_path`."""
    script = Path(sys.executable).with_name("siegel")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mailflow.cli"]
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SIEGEL_SECRET", "SIEGEL_DATABASE_URL")
    }
    environment["SIEGEL_CONFIG"] = str(config_path)
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=3600,
    )


def checked(completed: subprocess.CompletedProcess[str], what: str) -> str:
    if completed.returncode != 0:
        raise SystemExit(f"{what} failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


def register_other_merchants(url: str, count: int) -> None:
    """`count` more registered merchants that no complaint is about, as a seal has
    thousands: each with a name, a domain and an order-number pattern of its own, which
    routing must tell from the six. Inserted directly: `siegel merchant add` each would
    take minutes."""
    engine = open_database(url)
    with Session(engine) as session:
        for number in range(count):
            code = "".join("QRSTUVWXYZ"[int(digit)] for digit in f"{number:05d}")
            session.add(
                Merchant(
                    slug=f"shop-{code.lower()}",
                    name=f"Kontor {code.title()}",
                    support_addresses=[f"service@{code.lower()}-handel.example"],
                    domains=[f"{code.lower()}-handel.example"],
                    order_pattern=rf"\b{code}-\d{{6}}\b",
                    language="de",
                    created_at=datetime.now(UTC),
                )
            )
        session.commit()
    engine.dispose()


def register_merchants(config_path: Path) -> None:
    for shop in SHOPS:
        checked(
            siegel(
                config_path, "merchant", "add", shop.slug, "--name", shop.name,
                "--email", shop.email, "--domain", shop.domain,
                "--order-pattern", shop.order_pattern, "--language", shop.language,
            ),
            f"siegel merchant add {shop.slug}",
        )  # fmt: skip


@dataclass
class Stored:
    seconds: float
    stored: int
    duplicates: int
    processes: int


def store(config_path: Path, files: Sequence[Path]) -> Stored:
    """`siegel ingest FILE ...`, FILES_PER_INGEST files a process, one after the other."""
    stored = duplicates = processes = 0
    started = time.perf_counter()
    for first in range(0, len(files), FILES_PER_INGEST):
        chunk = [str(path) for path in files[first : first + FILES_PER_INGEST]]
        output = checked(siegel(config_path, "ingest", *chunk), "siegel ingest")
        processes += 1
        for line in output.splitlines():
            if ": already stored as mail " in line:
                duplicates += 1
            elif ": stored as mail " in line:
                stored += 1
    return Stored(time.perf_counter() - started, stored, duplicates, processes)


# ------------------------------------------------------------------ the worker, measured


class Meter:
    """SQL statements, commits and flushes on `engine` while attached."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements = self.commits = self.flushes = 0

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1

    def _flush(self, *_: Any) -> None:
        self.flushes += 1

    def __enter__(self) -> Meter:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        event.listen(OrmSession, "after_flush", self._flush)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(OrmSession, "after_flush", self._flush)


class ProblemLog(logging.Handler):
    """Counts warnings and errors (a failed mail is logged by the worker) and keeps a few."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:300]}")


def quiet_logging(log_file: Path) -> ProblemLog:
    """The service's INFO log goes to a file, as under `siegel serve`; problems are counted."""
    from mailflow import logs

    logs.configure(False, stream=log_file.open("a", encoding="utf-8"))
    problems = ProblemLog()
    logging.getLogger().addHandler(problems)
    return problems


@dataclass
class Drained:
    workers: int
    seconds: float
    taken: int
    statements: int
    commits: int
    flushes: int
    rss_mb: float
    problems: int
    first_problems: list[str] = field(default_factory=list)


def prepare_worker(config_path: Path) -> tuple[Any, Engine]:
    """Configuration, engine and the loaded, warmed-up model: everything before timing."""
    config = config_module.load(config_path, environ={})
    engine = open_database(config.database_url)
    if not casework.preload(config):
        raise SystemExit("the classifier model is missing from the data directory")
    casework.preload_merchants(engine)  # as `siegel serve` does at start
    return config, engine


def started_worker(config_path: Path) -> tuple[Worker, Engine]:
    """A worker as `siegel serve` runs one, once a backlog has started its analysis
    process: that process is started before timing, as the model is loaded."""
    config, engine = prepare_worker(config_path)
    worker = Worker(engine, config)
    if worker.analyst:
        worker.analyst.start()
    gc.freeze()  # as `Service.start` does
    return worker, engine


def worker_rss_mb(worker: Worker) -> float:
    """The worker's peak RSS and its analysis process's: both are resident at once."""
    return _rss_mb() + (worker.analyst.peak_rss_mb() if worker.analyst else 0.0)


def drain_here(config_path: Path, log_file: Path) -> Drained:
    """One worker in this process, as `siegel serve` runs it."""
    problems = quiet_logging(log_file)
    worker, engine = started_worker(config_path)
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    with Meter(engine) as meter:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        taken = worker.drain()
        if profiler:
            profiler.disable()
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
        seconds = time.perf_counter() - started
    rss_mb = worker_rss_mb(worker)
    worker.close()
    engine.dispose()
    return Drained(
        1, seconds, taken, meter.statements, meter.commits, meter.flushes, rss_mb,
        problems.count, problems.first,
    )  # fmt: skip


def worker_process(config_path: Path, log_file: Path) -> int:
    """`--drain-worker`: load, say `ready`, wait for `go`, drain, print one JSON line."""
    problems = quiet_logging(log_file)
    worker, engine = started_worker(config_path)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    with Meter(engine) as meter:
        started = time.perf_counter()
        taken = worker.drain()
        seconds = time.perf_counter() - started
    rss_mb = worker_rss_mb(worker)
    worker.close()
    engine.dispose()
    print(
        json.dumps(
            {
                "taken": taken, "seconds": seconds, "statements": meter.statements,
                "commits": meter.commits, "flushes": meter.flushes, "rss_mb": rss_mb,
                "problems": problems.count, "first_problems": problems.first,
            }
        ),
        flush=True,
    )  # fmt: skip
    return 0


def drain_in_processes(config_path: Path, workers: int, log_file: Path) -> Drained:
    """`workers` worker processes on one queue; timed from `go` until the last is done."""
    command = [
        sys.executable, str(Path(__file__).resolve()),
        "--drain-worker", str(config_path), "--log-file", str(log_file),
    ]  # fmt: skip
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise SystemExit(f"worker process {process.pid} did not start (see above)")
        started = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if process.wait(timeout=3600) != 0 or not line:
                raise SystemExit(f"worker process {process.pid} failed (see above)")
            reports.append(json.loads(line))
        seconds = time.perf_counter() - started
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return Drained(
        workers,
        seconds,
        sum(r["taken"] for r in reports),
        sum(r["statements"] for r in reports),
        sum(r["commits"] for r in reports),
        sum(r["flushes"] for r in reports),
        max(r["rss_mb"] for r in reports),
        sum(r["problems"] for r in reports),
        [p for r in reports for p in r["first_problems"]][:5],
    )


def _rss_mb() -> float:
    return peak_rss_mb()


# ------------------------------------------------------------------ the check


@dataclass
class Verdict:
    stored: int
    done: int
    cases: int
    agreeing: int  # cases whose category and language are the ones the mail was written as
    duplicates: int  # stored twice, a second case for a mail, a second mail of a kind for a case
    lost: int  # a stored mail that is not done or has no case, a mail never stored
    errors: int  # wrong merchant, missing or stray outgoing mail, held, retried, logged
    details: list[str] = field(default_factory=list)


def check(
    engine: Engine, complaints: Sequence[Complaint], ingest: Stored, problems: int
) -> Verdict:
    """What the database says after the drain, against what was generated."""
    with Session(engine) as session:
        mails = session.execute(
            select(StoredMail.id, StoredMail.message_id, StoredMail.status, StoredMail.attempts)
        ).all()
        slugs = dict(session.execute(select(Merchant.id, Merchant.slug)).all())
        cases = session.execute(
            select(Case.ref, Case.complaint_mail_id, Case.merchant_id, Case.category, Case.language)
        ).all()
        outbox = session.execute(select(OutboxMail.case_ref, OutboxMail.kind)).all()
        held = session.scalar(select(func.count()).select_from(HeldMail)) or 0
    complaint_of = {complaint.message_id: complaint for complaint in complaints}
    message_of = {mail_id: message_id for mail_id, message_id, _, _ in mails}
    never_stored = len(complaint_of.keys() - message_of.values())
    strangers = len(message_of.values() - complaint_of.keys())  # stored, never generated
    statuses = Counter(status for _, _, status, _ in mails)
    not_done = {status: n for status, n in statuses.items() if status != MailStatus.DONE}
    retried = sum(1 for *_, attempts in mails if attempts != 1)
    cases_of = Counter(mail_id for _, mail_id, *_ in cases)
    without_case = sum(
        1 for mail_id, _, status, _ in mails if status == MailStatus.DONE and not cases_of[mail_id]
    )
    misrouted = agreeing = 0
    for _, mail_id, merchant_id, category, language in cases:
        complaint = complaint_of.get(message_of.get(mail_id, ""))
        if complaint is None or complaint.slug != slugs.get(merchant_id):
            misrouted += 1
        elif (complaint.category, complaint.language) == (category, language):
            agreeing += 1
    kinds_of: dict[str | None, Counter[str]] = {}
    for case_ref, kind in outbox:
        kinds_of.setdefault(case_ref, Counter())[kind] += 1
    extra_mails = wrong_mails = 0
    for ref, *_ in cases:
        kinds = kinds_of.pop(ref, Counter())
        extra = sum(max(0, kinds[kind] - 1) for kind in EXPECTED_KINDS)
        extra_mails += extra
        if set(kinds) != set(EXPECTED_KINDS) or extra:
            wrong_mails += 1
    not_about_a_case = sum(sum(kinds.values()) for kinds in kinds_of.values())
    second_cases = sum(n - 1 for n in cases_of.values() if n > 1)
    duplicates = ingest.duplicates + second_cases + extra_mails
    lost = (
        never_stored + not_done.get(MailStatus.NEW, 0) + not_done.get(MailStatus.PROCESSING, 0)
        + without_case
    )  # fmt: skip
    quarantined = not_done.get(MailStatus.QUARANTINED, 0)
    errors = (
        strangers + misrouted + wrong_mails + not_about_a_case + held + retried + quarantined
        + problems
    )  # fmt: skip
    details = [
        f"{label}: {value}"
        for label, value in (
            ("mails never stored", never_stored),
            ("mails stored twice (`already stored`)", ingest.duplicates),
            ("stored mails that were not generated", strangers),
            (f"mails not done {not_done}", sum(not_done.values())),
            ("done mails without a case", without_case),
            ("second cases for one mail", second_cases),
            ("cases with another merchant than the mail named", misrouted),
            ("cases without exactly an acknowledgement and a forward", wrong_mails),
            ("outgoing mails beyond one of each kind per case", extra_mails),
            ("outgoing mails not about a case", not_about_a_case),
            ("held mails", held),
            ("mails tried more than once", retried),
            ("warnings and errors logged by the worker", problems),
        )
        if value
    ]
    return Verdict(
        len(mails), statuses.get(MailStatus.DONE, 0), len(cases), agreeing, duplicates, lost,
        errors, details,
    )  # fmt: skip


# ------------------------------------------------------------------ one run


@dataclass
class Run:
    backend: str
    stored: Stored
    drained: Drained
    verdict: Verdict

    def per_second(self, seconds: float) -> float:
        return self.stored.stored / seconds if seconds > 0 else 0.0


def run_once(
    url: str,
    workers: int,
    complaints: Sequence[Complaint],
    files: Sequence[Path],
    folder: Path,
    data_dir: Path,
    in_process: bool,
    analysis_process: bool,
    other_merchants: int = 0,
) -> Run:
    folder.mkdir()
    config_path = write_config(folder, url, data_dir, analysis_process)
    register_merchants(config_path)
    if other_merchants:
        register_other_merchants(url, other_merchants)
    engine = open_database(url)
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(StoredMail)).scalar_one():
            raise SystemExit(f"{url} holds mails already: the bench needs an empty database")
    engine.dispose()
    stored = store(config_path, files)
    log_file = folder / "worker.log"
    if in_process:
        drained = drain_here(config_path, log_file)
    else:
        drained = drain_in_processes(config_path, workers, log_file)
    engine = open_database(url)
    verdict = check(engine, complaints, stored, drained.problems)
    engine.dispose()
    return Run(make_url(url).get_backend_name(), stored, drained, verdict)


@contextlib.contextmanager
def fresh_schema(url: str, name: str) -> Iterator[str]:
    """A new PostgreSQL schema in the database of `url`, first on the search path of the
    URL returned; dropped with everything in it afterwards."""
    import psycopg

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')  # type: ignore[arg-type]
    options = parsed.query.get("options", "")
    options = f"{options} -csearch_path={name}".strip()  # type: ignore[str-bytes-safe]
    try:
        yield parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # type: ignore[arg-type]


def describe(run: Run, label: str) -> None:
    drained, verdict = run.drained, run.verdict
    n = max(verdict.stored, 1)
    print(
        f"{label}: stored {run.stored.stored} mails in {run.stored.seconds:.2f} s "
        f"({run.per_second(run.stored.seconds):.0f} mails/s, {run.stored.processes} "
        f"`siegel ingest` process(es)); processed {drained.taken} in {drained.seconds:.2f} s "
        f"({run.per_second(drained.seconds):.1f} mails/s, {drained.workers} worker(s))"
    )
    print(
        f"{label}: per mail {drained.statements / n:.1f} SQL statements, "
        f"{drained.commits / n:.1f} commits, {drained.flushes / n:.1f} flushes; "
        f"worker peak RSS {drained.rss_mb:.0f} MB"
    )
    print(
        f"{label}: {verdict.done}/{verdict.stored} done, {verdict.cases} cases "
        f"({verdict.agreeing} with the category and language the mail was written as); "
        f"duplicates {verdict.duplicates}, lost {verdict.lost}, errors {verdict.errors}"
    )
    for line in verdict.details + drained.first_problems:
        print(f"{label}:   {line}")


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes of the second run (PostgreSQL: 2; SQLite: none unless given)",
    )
    parser.add_argument(
        "--no-analysis-process",
        dest="analysis_process",
        action="store_false",
        help="each worker analyses its batches itself ([queue] analysis_process = false)",
    )
    parser.add_argument(
        "--merchants",
        type=int,
        default=len(SHOPS),
        help=f"registered merchants (default {len(SHOPS)}, the ones complained about; "
        "more are registered that no complaint is about)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--drain-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--log-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain_worker:
        return worker_process(args.drain_worker, args.log_file)
    if args.mails < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--mails and --workers must be at least 1")
    if args.merchants < len(SHOPS):
        parser.error(f"--merchants: at least {len(SHOPS)}")
    url = args.database_url
    postgres = url is not None and make_url(url).get_backend_name() == "postgresql"
    if url and not postgres and make_url(url).get_backend_name() != "sqlite":
        parser.error("--database-url: SQLite or PostgreSQL")

    folder = Path(tempfile.mkdtemp(prefix="siegel-bench-pipeline-"))
    try:
        return measure(args, folder, url, postgres)
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def measure(args: argparse.Namespace, folder: Path, url: str | None, postgres: bool) -> int:
    started = time.perf_counter()
    complaints = generate(args.mails, args.seed)
    mail_dir = folder / "mails"
    mail_dir.mkdir()
    files = []
    for index, complaint in enumerate(complaints):
        path = mail_dir / f"{index:06d}.eml"
        path.write_bytes(complaint.raw)
        files.append(path)
    sizes = sorted(len(c.raw) for c in complaints)
    print(
        f"generated {len(complaints)} complaint mails for {len(SHOPS)} merchants in "
        f"{time.perf_counter() - started:.1f} s (median {sizes[len(sizes) // 2]} bytes, "
        f"largest {sizes[-1]})"
    )
    data_dir = folder / "data"
    started = time.perf_counter()
    model_config = write_config(folder, f"sqlite:///{folder}/model.db", data_dir)
    checked(siegel(model_config, "classifier", "train"), "siegel classifier train")
    print(f"classifier trained into the data directory in {time.perf_counter() - started:.1f} s")

    runs: list[Run] = []
    if not postgres:
        target = url or f"sqlite:///{folder}/run/siegel.db"
        first = run_once(
            target, 1, complaints, files, folder / "run", data_dir, True,
            args.analysis_process, args.merchants - len(SHOPS),
        )  # fmt: skip
        runs.append(first)
        describe(runs[0], "sqlite")
        if args.workers not in (None, 1) and url is None:
            target = f"sqlite:///{folder}/run{args.workers}/siegel.db"
            run = run_once(
                target, args.workers, complaints, files, folder / f"run{args.workers}", data_dir,
                False, args.analysis_process, args.merchants - len(SHOPS),
            )  # fmt: skip
            runs.append(run)
            describe(run, f"sqlite, {args.workers} worker processes")
    else:
        assert url is not None
        for workers in dict.fromkeys((1, args.workers or 2)):
            name = f"{SCHEMA_PREFIX}_{os.getpid()}_w{workers}"
            with fresh_schema(url, name) as schema_url:
                run = run_once(
                    schema_url, workers, complaints, files, folder / f"w{workers}", data_dir,
                    False, args.analysis_process, args.merchants - len(SHOPS),
                )  # fmt: skip
            runs.append(run)
            describe(run, f"postgresql, {workers} worker(s)")
    return report(args, runs, postgres)


def report(args: argparse.Namespace, runs: Sequence[Run], postgres: bool) -> int:
    first = runs[0]
    mails = first.stored.stored
    store_rate = first.per_second(first.stored.seconds)
    process_rate = first.per_second(first.drained.seconds)
    end_to_end = first.per_second(first.stored.seconds + first.drained.seconds)
    statements = first.drained.statements / max(mails, 1)
    figures: dict[str, Any] = {
        "backend": first.backend,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),  # others' work competes for the CPUs
        "mails": mails,
        "store_mails_per_s": round(store_rate, 1),
        "process_mails_per_s": round(process_rate, 1),
        "end_to_end_mails_per_s": round(end_to_end, 1),
        "statements_per_mail": round(statements, 2),
        "commits_per_mail": round(first.drained.commits / max(mails, 1), 2),
        "flushes_per_mail": round(first.drained.flushes / max(mails, 1), 2),
        "peak_rss_mb": round(max(run.drained.rss_mb for run in runs), 1),
        "duplicates": sum(run.verdict.duplicates for run in runs),
        "lost": sum(run.verdict.lost for run in runs),
        "errors": sum(run.verdict.errors for run in runs),
    }
    missed = []
    if statements > TARGET_STATEMENTS:
        missed.append("statements_per_mail")
    for key in ("duplicates", "lost", "errors"):
        if figures[key]:
            missed.append(key)
    figures["target_statements_per_mail"] = TARGET_STATEMENTS
    if postgres or len(runs) > 1:
        for run in runs:
            rate = run.per_second(run.drained.seconds)
            figures[f"workers_{run.drained.workers}_mails_per_s"] = round(rate, 1)
    if len(runs) > 1:
        workers = runs[1].drained.workers
        speedup = runs[1].per_second(runs[1].drained.seconds) / process_rate
        figures["workers_speedup"] = round(speedup, 2)
        print(f"{workers} workers: {speedup:.2f} x one worker's rate")
        if postgres:  # SQLite's single writer: printed, not judged
            figures["target_workers_speedup"] = round(TARGET_SPEEDUP_PER_WORKER * workers, 2)
            if speedup < TARGET_SPEEDUP_PER_WORKER * workers:
                missed.append("workers_speedup")
    if not postgres:
        figures["target_end_to_end_mails_per_s"] = TARGET_END_TO_END
        if end_to_end < TARGET_END_TO_END:
            missed.append("end_to_end_mails_per_s")
    print(
        f"end to end {end_to_end:.1f} mails/s (store {store_rate:.0f}/s, process "
        f"{process_rate:.1f}/s), {statements:.1f} statements per mail"
    )
    print("targets met" if not missed else f"TARGETS MISSED: {', '.join(missed)}")
    figures["missed"] = missed
    figures["targets_met"] = not missed
    print(json.dumps(figures))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
