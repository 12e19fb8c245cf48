"""Precision and recall of xsignal's redactor per kind, side by side with Microsoft Presidio.

Generates English and German feedback comments with personal data planted by Faker (en_US and
de_DE, fixed seed) and gold spans, runs `examples/redact.rs` and Presidio's recognizers over them,
and prints a Markdown table. Run through `scripts/pii-eval`, which pins the packages.

Presidio's PERSON recognizer needs a spaCy model, and spaCy's own models are not published on PyPI
(only third-party re-uploads are), so Presidio runs its pattern recognizers only (e-mail, phone,
IBAN, card, IP, URL) with no NLP engine; it has no handle recognizer, and its URL recognizer flags
every URL, not only those carrying a secret.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys

from faker import Faker

KINDS = ["email", "phone", "iban", "card", "ip", "url_secret", "handle", "name"]

TEMPLATES = {
    "en": {
        "email": [
            "Please contact me at {email}, the app keeps crashing after the update.",
            "I sent three mails to support and nobody answered, reply to {email} please",
            "Refund still missing. My account is {email}.",
            "{email} is the address on my account, please delete it",
        ],
        "phone": [
            "Call me back on {phone}, the thermostat has been offline since Monday.",
            "Your hotline {phone} never picks up.",
            "You can reach me at {phone} after 5pm",
            "I was on hold for 40 minutes at {phone}, terrible service.",
        ],
        "iban": [
            "Refund the 49.99 to {iban} please.",
            "I paid twice, my IBAN is {iban}",
            "The direct debit from {iban} was taken twice this month.",
        ],
        "card": [
            "You charged my card {card} twice for the same order.",
            "Payment with {card} fails at checkout every time",
            "Card ending... actually the full number is {card}, please cancel the subscription.",
        ],
        "ip": [
            "The router shows {ip} as the blocked address.",
            "Login from {ip} was not me!",
            "Cannot reach the dashboard from {ip} since the update",
        ],
        "url_secret": [
            "The reset link {url} does not work.",
            "Sharing my dashboard {url} so you can see the bug",
            "After login I get redirected to {url} and it shows an error.",
        ],
        "handle": [
            "Ask {handle}, they had the same problem.",
            "{handle} posted a workaround on the forum",
            "I wrote to {handle} on Twitter but got no reply.",
        ],
        "name": [
            "{name} from support was really helpful.",
            "My name is {name} and I have been a customer for ten years.",
            "Thanks to {name} the issue was fixed in a day.",
            "I spoke to {name} twice and nothing happened",
            "Best regards, {name}",
            "Mr. {last} promised a callback that never came.",
            "talked to {lower} on the phone, no help at all",
        ],
    },
    "de": {
        "email": [
            "Bitte melden Sie sich unter {email}, die App stürzt seit dem Update ab.",
            "Ich habe drei Mails an den Support geschrieben, Antwort bitte an {email}",
            "Die Erstattung fehlt immer noch. Mein Konto ist {email}.",
        ],
        "phone": [
            "Rufen Sie mich bitte unter {phone} zurück, das Thermostat ist offline.",
            "Die Hotline {phone} ist nie erreichbar.",
            "Erreichbar bin ich unter {phone} ab 17 Uhr",
        ],
        "iban": [
            "Bitte die 49,99 € auf {iban} zurücküberweisen.",
            "Ich habe doppelt bezahlt, meine IBAN ist {iban}",
            "Die Lastschrift von {iban} wurde zweimal abgebucht.",
        ],
        "card": [
            "Meine Karte {card} wurde doppelt belastet.",
            "Die Zahlung mit {card} schlägt jedes Mal fehl",
        ],
        "ip": [
            "Der Router zeigt {ip} als gesperrte Adresse.",
            "Anmeldung von {ip}, das war nicht ich!",
        ],
        "url_secret": [
            "Der Link {url} zum Zurücksetzen funktioniert nicht.",
            "Nach dem Login lande ich auf {url} mit einer Fehlermeldung.",
        ],
        "handle": [
            "Fragt mal {handle}, der hatte dasselbe Problem.",
            "{handle} hat im Forum eine Lösung gepostet",
        ],
        "name": [
            "{name} vom Kundenservice war sehr hilfsbereit.",
            "Mein Name ist {name} und ich bin seit zehn Jahren Kunde.",
            "Dank {name} war das Problem nach einem Tag gelöst.",
            "Frau {last} hat einen Rückruf versprochen, der nie kam.",
            "Viele Grüße, {name}",
            "Herr {last} war unfreundlich.",
            "hab mit {lower} telefoniert, keine hilfe",
        ],
    },
}

# Sentences without personal data but with the things that look like it: versions, dates,
# prices, order numbers, times, capitalised nouns, first names that are words.
FILLERS = {
    "en": [
        "Version 4.2.1 broke the WiFi connection.",
        "Order 20260220 arrived on 2026-02-20 at 14:30.",
        "Paid $49.99 for the Pro plan and it still shows ads.",
        "Will the next update fix the battery drain?",
        "May I ask why the price went up by 20%?",
        "Great app, five stars.",
        "The Smart Home hub loses its settings every night.",
        "Mark as read does not work in the Android app.",
        "Support ticket 458812 has been open for 3 weeks.",
        "Battery drops from 100 to 20 in two hours.",
        "Apple Pay and Google Pay both fail at checkout.",
        "Why does the app need access to my contacts?",
    ],
    "de": [
        "Version 4.2.1 hat das WLAN kaputt gemacht.",
        "Die Bestellung 20260220 kam am 20.02.2026 um 14:30 an.",
        "49,99 € für das Pro-Abo und trotzdem Werbung.",
        "Der Akku hält nur noch drei Stunden.",
        "Tolle App, fünf Sterne.",
        "Die Lieferung nach 10115 Berlin hat zwei Wochen gedauert.",
        "Seit dem Update im Mai funktioniert die Synchronisation nicht mehr.",
        "Ticket 458812 ist seit drei Wochen offen.",
        "Ernsthaft, warum braucht die App Zugriff auf meine Kontakte?",
        "Der Kundenservice am Telefon war freundlich, aber hat nichts gelöst.",
    ],
}


def plant(fake, rng, kind, lang):
    """A value of `kind`, and for names the template fields."""
    if kind == "email":
        return {"email": fake.email()}
    if kind == "phone":
        return {"phone": fake.phone_number()}
    if kind == "iban":
        iban = fake.iban()
        if rng.random() < 0.5:
            iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return {"iban": iban}
    if kind == "card":
        card = fake.credit_card_number()
        if rng.random() < 0.5 and len(card) == 16:
            card = " ".join(card[i : i + 4] for i in range(0, 16, 4))
        return {"card": card}
    if kind == "ip":
        return {"ip": fake.ipv4() if rng.random() < 0.7 else fake.ipv6()}
    if kind == "url_secret":
        domain = fake.domain_name()
        choice = rng.randrange(4)
        if choice == 0:
            url = f"https://{fake.user_name()}:{fake.password(special_chars=False)}@{domain}/admin"
        elif choice == 1:
            url = f"https://{domain}/reset?token={fake.sha1()[:24]}"
        elif choice == 2:
            url = f"https://api.{domain}/v1/export?key={fake.md5()[:20]}&format=csv"
        else:
            url = f"https://{domain}/files/{fake.uuid4()}.pdf?sig={fake.sha256()[:32]}&exp=1760000000"
        return {"url": url}
    if kind == "handle":
        return {"handle": "@" + re.sub(r"[^A-Za-z0-9_]", "_", fake.user_name())[:15]}
    if kind == "name":
        first, last = fake.first_name(), fake.last_name()
        return {"name": f"{first} {last}", "last": last, "lower": f"{first} {last}".lower()}
    raise ValueError(kind)


def make_comment(fake, rng, lang):
    """A comment of 1-3 sentences, most with one or two planted values; gold spans in chars."""
    parts = []
    gold = []
    planted = rng.choice([0, 1, 1, 1, 2])
    sentences = [("filler", None)] * rng.randrange(0, 2)
    for _ in range(planted):
        sentences.append(("pii", rng.choice(KINDS)))
    rng.shuffle(sentences)
    if not sentences:
        sentences = [("filler", None)]
    text = ""
    for what, kind in sentences:
        if text:
            text += " "
        if what == "filler":
            text += rng.choice(FILLERS[lang])
            continue
        template = rng.choice(TEMPLATES[lang][kind])
        values = plant(fake, rng, kind, lang)
        # Fill the template piece by piece to know where each value lands.
        for piece in re.split(r"(\{[a-z]+\})", template):
            match = re.fullmatch(r"\{([a-z]+)\}", piece)
            if match:
                value = values[match.group(1)]
                gold.append({"start": len(text), "end": len(text) + len(value), "kind": kind, "value": value})
                text += value
            else:
                text += piece
    return {"text": text, "lang": lang, "gold": gold}


def generate(count, seed):
    rows = []
    for lang, locale in (("en", "en_US"), ("de", "de_DE")):
        fake = Faker(locale)
        fake.seed_instance(seed)
        rng = random.Random(seed)
        for index in range(count):
            row = make_comment(fake, rng, lang)
            row["id"] = f"{lang}{index:05d}"
            rows.append(row)
    return rows


def char_spans(text, findings):
    """Byte offsets (from Rust) to character offsets."""
    encoded = text.encode("utf-8")
    return [
        {
            "start": len(encoded[: f["start"]].decode("utf-8")),
            "end": len(encoded[: f["end"]].decode("utf-8")),
            "kind": f["kind"],
        }
        for f in findings
    ]


PRESIDIO_KINDS = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IBAN_CODE": "iban",
    "CREDIT_CARD": "card",
    "IP_ADDRESS": "ip",
    "URL": "url_secret",
}


def presidio_predictions(rows):
    # Presidio validates domains with tldextract, which would fetch the public suffix list: use the
    # snapshot it ships, offline.
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
    )

    recognizers = [
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=("US", "DE", "GB")),
        IbanRecognizer(),
        CreditCardRecognizer(),
        IpRecognizer(),
        UrlRecognizer(),
    ]
    predictions = []
    for row in rows:
        found = []
        for recognizer in recognizers:
            for result in recognizer.analyze(row["text"], recognizer.supported_entities, None):
                kind = PRESIDIO_KINDS.get(result.entity_type)
                if kind:
                    found.append({"start": result.start, "end": result.end, "kind": kind})
        # Presidio's URL recognizer also fires inside e-mail addresses; keep the longest of overlaps
        # as its analyzer does.
        found.sort(key=lambda f: (f["start"], -(f["end"] - f["start"])))
        kept = []
        for finding in found:
            if not kept or finding["start"] >= kept[-1]["end"]:
                kept.append(finding)
        predictions.append(kept)
    return predictions


def overlaps(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


def score(rows, predictions, kinds):
    """Per kind: true positives (a prediction of the kind overlapping a gold span of the kind),
    precision, recall; and the share of gold spans left fully or partly visible (leaks)."""
    table = {}
    for kind in kinds:
        true_positive = false_positive = false_negative = 0
        for row, predicted in zip(rows, predictions):
            gold = [g for g in row["gold"] if g["kind"] == kind]
            mine = [p for p in predicted if p["kind"] == kind]
            matched = set()
            for g in gold:
                hit = next((i for i, p in enumerate(mine) if i not in matched and overlaps(g, p)), None)
                if hit is None:
                    false_negative += 1
                else:
                    matched.add(hit)
                    true_positive += 1
            false_positive += len(mine) - len(matched)
        precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else float("nan")
        recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else float("nan")
        table[kind] = (precision, recall, true_positive + false_negative)
    return table


def leak_rate(rows, predictions):
    """Gold spans of which some character stays visible (not covered by any finding of any kind)."""
    leaked = total = 0
    for row, predicted in zip(rows, predictions):
        for g in row["gold"]:
            total += 1
            covered = set()
            for p in predicted:
                covered.update(range(max(p["start"], g["start"]), min(p["end"], g["end"])))
            if any(ch not in covered and not row["text"][ch].isspace() for ch in range(g["start"], g["end"])):
                leaked += 1
    return leaked, total


def name_recall_by_list(rows, predictions, list_path):
    """Name recall split by whether the planted first name is in the gazetteer."""
    listed = {line.strip().lstrip("*") for line in open(list_path, encoding="utf-8")}
    result = {}
    for lang in ("en", "de"):
        for in_list in (True, False):
            hit = total = 0
            for row, predicted in zip(rows, predictions):
                if row["lang"] != lang:
                    continue
                for g in row["gold"]:
                    if g["kind"] != "name":
                        continue
                    first = g["value"].split()[0]
                    if (first in listed) != in_list or " " not in g["value"] or first.islower():
                        continue
                    total += 1
                    hit += any(p["kind"] == "name" and overlaps(g, p) for p in predicted)
            result[(lang, in_list)] = (hit, total)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redact", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=1000, help="comments per language")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = generate(args.count, args.seed)
    data_path = os.path.join(args.out, "labelled.jsonl")
    with open(data_path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(data_path, "rb") as data:
        completed = subprocess.run([args.redact], stdin=data, capture_output=True, check=True)
    redacted = [json.loads(line) for line in completed.stdout.decode("utf-8").splitlines()]
    with open(os.path.join(args.out, "redacted.jsonl"), "wb") as out:
        out.write(completed.stdout)
    ours = [char_spans(row["text"], row["findings"]) for row in redacted]
    theirs = presidio_predictions(rows)

    for lang_filter in (None, "en", "de"):
        subset = [i for i, row in enumerate(rows) if lang_filter in (None, row["lang"])]
        sub_rows = [rows[i] for i in subset]
        mine = score(sub_rows, [ours[i] for i in subset], KINDS)
        presidio = score(sub_rows, [theirs[i] for i in subset], KINDS)
        title = {None: "English and German", "en": "English (en_US)", "de": "German (de_DE)"}[lang_filter]
        print(f"\n{title}: {len(sub_rows)} comments\n")
        print("| kind | planted | xsignal precision | xsignal recall | Presidio precision | Presidio recall |")
        print("|---|---|---|---|---|---|")
        for kind in KINDS:
            p, r, n = mine[kind]
            pp, pr, _ = presidio[kind]
            fmt = lambda x: "—" if x != x else f"{x:.3f}"
            presidio_cells = (
                "— | —" if kind in ("handle", "name") else f"{fmt(pp)} | {fmt(pr)}"
            )
            print(f"| {kind} | {n} | {fmt(p)} | {fmt(r)} | {presidio_cells} |")
        leaked, total = leak_rate(sub_rows, [ours[i] for i in subset])
        print(f"\nxsignal: {leaked} of {total} planted values keep a visible character ({leaked / total:.1%}).")
    split = name_recall_by_list(rows, ours, os.path.join(os.path.dirname(__file__), "..", "src", "privacy", "first_names.txt"))
    print("\nName recall (first name + surname) by whether the first name is in the gazetteer:\n")
    for (lang, in_list), (hit, total) in split.items():
        share = f"{hit / total:.3f}" if total else "—"
        print(f"- {lang}, first name {'in' if in_list else 'not in'} the list: {hit}/{total} = {share}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
