"""The `credit-risk` demo in German: every label, description, unit and category label of
credit_schema.FEATURES, and every text the applicant is told (decisions.translations).
Plain Python."""

from __future__ import annotations

_SCALE = "auf einer Skala von 1 bis 4"

FEATURES_DE: dict[str, dict] = {
    "checking_account": {
        "label": "Kontostand Ihres Girokontos",
        "description": "Wie viel Geld auf Ihrem Girokonto bei dieser Bank ist.",
        "categories": {
            "lt_0": "Überzogen (unter 0 DM)",
            "0_to_200": "0 bis unter 200 DM",
            "ge_200": "200 DM oder mehr, oder seit mindestens einem Jahr Gehaltseingang",
            "none": "Kein Girokonto",
        },
    },
    "duration_months": {
        "label": "Laufzeit des Kredits",
        "description": "In wie vielen Monaten Sie den Kredit zurückzahlen würden.",
        "unit": "Monate",
    },
    "credit_history": {
        "label": "Bisherige Rückzahlungen",
        "description": "Wie Sie Kredite bisher zurückgezahlt haben, hier und bei anderen Banken.",
        "categories": {
            "none_taken": "Kein Kredit aufgenommen, oder alle Kredite pünktlich zurückgezahlt",
            "all_paid_here": "Alle Kredite bei dieser Bank pünktlich zurückgezahlt",
            "paid_duly": "Laufende Kredite bisher pünktlich zurückgezahlt",
            "delayed": "Verspätete Rückzahlungen in der Vergangenheit",
            "critical": "Kritisches Konto, oder Kredite bei anderen Banken",
        },
    },
    "purpose": {
        "label": "Wofür der Kredit ist",
        "description": "Wofür Sie den Kredit verwenden wollen.",
        "categories": {
            "car_new": "Neuwagen",
            "car_used": "Gebrauchtwagen",
            "furniture": "Möbel oder Einrichtung",
            "radio_tv": "Radio oder Fernseher",
            "appliances": "Haushaltsgeräte",
            "repairs": "Reparaturen",
            "education": "Ausbildung",
            "retraining": "Umschulung",
            "business": "Geschäftlich",
            "other": "Etwas anderes",
        },
    },
    "credit_amount": {
        "label": "Kreditbetrag",
        "description": "Wie viel Sie leihen möchten, in Deutscher Mark.",
        "unit": "DM",
    },
    "savings": {
        "label": "Ersparnisse",
        "description": "Wie viel Sie auf Sparkonten und in Wertpapieren haben.",
        "categories": {
            "lt_100": "Unter 100 DM",
            "100_to_500": "100 bis unter 500 DM",
            "500_to_1000": "500 bis unter 1000 DM",
            "ge_1000": "1000 DM oder mehr",
            "none": "Keine Ersparnisse, oder nicht bekannt",
        },
    },
    "employment_since": {
        "label": "Dauer Ihrer jetzigen Anstellung",
        "description": "Wie lange Sie schon bei Ihrem jetzigen Arbeitgeber sind.",
        "categories": {
            "unemployed": "Nicht beschäftigt",
            "lt_1": "Unter 1 Jahr",
            "1_to_4": "1 bis unter 4 Jahre",
            "4_to_7": "4 bis unter 7 Jahre",
            "ge_7": "7 Jahre oder länger",
        },
    },
    "installment_rate": {
        "label": "Rate im Verhältnis zu Ihrem Einkommen",
        "description": "Ihre Monatsrate im Verhältnis zu Ihrem verfügbaren Einkommen, als Stufe von 1 bis 4.",
        "unit": _SCALE,
    },
    "other_debtors": {
        "label": "Bürge oder Mitantragsteller",
        "description": "Ob jemand für den Kredit bürgt oder ihn mit Ihnen beantragt.",
        "categories": {
            "none": "Niemand",
            "co_applicant": "Ein Mitantragsteller",
            "guarantor": "Ein Bürge",
        },
    },
    "residence_since": {
        "label": "Wohndauer an Ihrer jetzigen Adresse",
        "description": "Wie lange Sie an Ihrer Adresse wohnen, als Stufe von 1 (am kürzesten) bis 4 (am längsten).",
        "unit": _SCALE,
    },
    "property": {
        "label": "Wertvollster Besitz",
        "description": "Das Wertvollste, was Sie besitzen und was den Kredit absichern könnte.",
        "categories": {
            "real_estate": "Immobilien",
            "savings_insurance": "Bausparvertrag oder Lebensversicherung",
            "car_other": "Ein Auto oder anderer Besitz",
            "none": "Nichts, oder nicht bekannt",
        },
    },
    "other_installment_plans": {
        "label": "Andere Ratenzahlungen",
        "description": "Ob Sie schon andere Ratenzahlungen abzahlen, und bei wem.",
        "categories": {
            "bank": "Bei einer Bank",
            "stores": "Bei einem Geschäft",
            "none": "Keine",
        },
    },
    "housing": {
        "label": "Wohnsituation",
        "description": "Ob Sie zur Miete, im Eigentum oder mietfrei wohnen.",
        "categories": {
            "rent": "Miete",
            "own": "Eigentum",
            "free": "Mietfrei",
        },
    },
    "existing_credits": {
        "label": "Ihre bestehenden Kredite bei uns",
        "description": "Wie viele Kredite Sie schon bei dieser Bank haben, von 1 bis 4 (höher heißt mehr).",
    },
    "job": {
        "label": "Art der Arbeit",
        "description": "Welche Art von Arbeit Sie machen.",
        "categories": {
            "unskilled_nonresident": "Nicht beschäftigt oder ungelernt, nicht ansässig",
            "unskilled_resident": "Ungelernt, ansässig",
            "skilled": "Facharbeiter, Angestellter oder Beamter",
            "highly_qualified": "Führungskraft, selbstständig oder hoch qualifiziert",
        },
    },
    "dependents": {
        "label": "Personen, für die Sie sorgen",
        "description": "Die Personen, für die Sie finanziell sorgen, wie in den Daten erfasst: 1 oder 2.",
    },
    "telephone": {
        "label": "Telefon auf Ihren Namen",
        "description": "Ob ein Telefonanschluss auf Ihren Namen angemeldet ist.",
        "categories": {"none": "Nein", "yes": "Ja"},
    },
    "personal_status_sex": {
        "label": "Geschlecht und Familienstand",
        "description": "Ihr Geschlecht und Familienstand, wie im Antrag angegeben.",
        "categories": {
            "male_divorced": "Mann, geschieden oder getrennt lebend",
            "female_not_single": "Frau, geschieden, getrennt lebend oder verheiratet",
            "male_single": "Mann, ledig",
            "male_married": "Mann, verheiratet oder verwitwet",
        },
    },
    "age_years": {
        "label": "Alter",
        "description": "Ihr Alter bei der Antragstellung.",
        "unit": "Jahre",
    },
    "foreign_worker": {
        "label": "Ausländischer Arbeitnehmer",
        "description": "Ob Sie als ausländischer Arbeitnehmer erfasst wurden.",
        "categories": {"yes": "Ja", "no": "Nein"},
    },
}

TEXTS_DE: dict[str, str] = {
    "controller": "Demo Bank AG",
    "purpose": (
        "Wir entscheiden über Kreditanträge mit einer automatisierten Kreditprüfung. Sie schätzt "
        "aus den Angaben in Ihrem Antrag und Ihrer bisherigen Geschichte bei uns, wie "
        "wahrscheinlich ein Kredit wie Ihrer wie vereinbart zurückgezahlt wird. Ihr Geschlecht und "
        "Familienstand, Ihr Alter und ob Sie ausländischer Arbeitnehmer sind, werden nur erfasst, "
        "um zu prüfen, dass Antragsteller fair behandelt werden: die Prüfung verwendet sie nicht."
    ),
    "significance": (
        "Die Prüfung entscheidet Ihren Antrag allein: liegt die geschätzte Chance der Rückzahlung "
        "bei 50 % oder mehr, wird der Kredit bewilligt, sonst abgelehnt. Kein Mensch sieht den "
        "Antrag vor der Entscheidung, außer Sie verlangen es."
    ),
    "consequences": (
        "Wird Ihr Antrag abgelehnt, erhalten Sie diesen Kredit nicht von uns. Eine Ablehnung wird "
        "keiner Auskunftei gemeldet und hindert Sie nicht daran, erneut einen Antrag zu stellen, "
        "zum Beispiel über einen kleineren Betrag, eine andere Laufzeit oder mit einem Bürgen. Sie "
        "können verlangen, dass ein Mensch die Entscheidung überprüft, Ihren Standpunkt darlegen "
        "und die Entscheidung anfechten."
    ),
    "legal_basis": (
        "Artikel 22 Absatz 2 Buchstabe a DSGVO: die automatisierte Entscheidung ist für den "
        "Abschluss eines Kreditvertrags mit Ihnen erforderlich. Ihre Angaben werden nach Artikel 6 "
        "Absatz 1 Buchstabe b DSGVO verarbeitet, um die von Ihnen gewünschten Schritte vor "
        "Abschluss dieses Vertrags durchzuführen."
    ),
    "contact": (
        "Datenschutzbeauftragte, Demo Bank AG, dpo@demo-bank.example. Sie können sich auch bei "
        "Ihrer Datenschutz-Aufsichtsbehörde beschweren."
    ),
}
