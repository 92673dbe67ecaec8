"""Labels, descriptions, units, category labels and the controller's texts per language
(decisions.translations): checked at registration, read with a fallback to the default, and
listed by `manage.py check_translations` where missing."""

import copy
from dataclasses import replace

import pytest
from django.core.management import call_command

from audit.services import Actor
from config.errors import ApplicationError
from decisions.registration import model_register
from decisions.registry import schema_for_language, schema_of
from decisions.schema import FeatureSchema, SchemaError
from decisions.translations import missing_translations, version_texts
from demo.credit_schema import SCHEMA, SUBJECT_TEXTS
from tests.conftest import register


def _without(document: dict, feature: str, *path: str) -> dict:
    """`document` with one translated field of `feature`'s German translation removed."""
    out = copy.deepcopy(document)
    item = next(f for f in out["features"] if f["name"] == feature)
    target = item["translations"]["de"]
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


def test_a_schema_with_translations_survives_the_round_trip():
    schema = FeatureSchema.from_dict(SCHEMA)
    again = FeatureSchema.from_dict(schema.to_dict())
    assert again == schema
    assert again["housing"].translations["de"]["categories"]["own"] == "Eigentum"


def test_the_localised_schema_reads_german_and_falls_back_per_field():
    schema = FeatureSchema.from_dict(_without(SCHEMA, "housing", "categories", "rent"))
    german = schema.localised("de")
    housing = german["housing"]
    assert (housing.label, housing.description) == (
        "Wohnsituation",
        "Ob Sie zur Miete, im Eigentum oder mietfrei wohnen.",
    )
    assert [c.label for c in housing.categories] == ["Rent", "Eigentum", "Mietfrei"]  # "Rent" falls back
    assert german["duration_months"].display_value(24) == "24 Monate"
    assert german["credit_amount"].display_value(1000) == "1000 DM"
    # A regional variant reads its language's translation; a language without one the default.
    assert schema.localised("de-at")["housing"].label == "Wohnsituation"
    assert schema.localised("fr") is schema and schema.localised("en") is schema
    assert schema["housing"].label == "Housing"  # the default schema is untouched


def test_a_schema_refuses_a_translation_for_an_unknown_category_or_field():
    document = copy.deepcopy(SCHEMA)
    housing = next(f for f in document["features"] if f["name"] == "housing")
    housing["translations"]["de"]["categories"]["castle"] = "Schloss"
    with pytest.raises(SchemaError, match="housing: translations\\['de'\\]: unknown categories 'castle'"):
        FeatureSchema.from_dict(document)
    document = copy.deepcopy(SCHEMA)
    document["features"][0]["translations"]["de"]["lable"] = "Kontostand"
    with pytest.raises(SchemaError, match="'lable' cannot be translated"):
        FeatureSchema.from_dict(document)
    document = copy.deepcopy(SCHEMA)
    document["features"][0]["translations"] = {"German": {"label": "Kontostand"}}
    with pytest.raises(SchemaError, match="'German' is not a language code"):
        FeatureSchema.from_dict(document)


@pytest.mark.django_db
def test_registration_refuses_a_translation_for_an_unknown_category_or_text(credit_trained):
    def attempt(schema, texts):
        return model_register(
            name="credit-risk",
            version="translated",
            framework=credit_trained.framework,
            artifact=credit_trained.artifact,
            schema=schema,
            output=credit_trained.output,
            background=credit_trained.background,
            texts=texts,
            actor=Actor.system("tests"),
            queue_checks=False,
        )

    schema = copy.deepcopy(SCHEMA)
    next(f for f in schema["features"] if f["name"] == "purpose")["translations"]["de"]["categories"][
        "yacht"
    ] = "Yacht"
    with pytest.raises(ApplicationError) as refused:
        attempt(schema, SUBJECT_TEXTS)
    assert refused.value.fields == {"schema": "purpose: translations['de']: unknown categories 'yacht'"}
    texts = {**SUBJECT_TEXTS, "translations": {"de": {"purpos": "Zweck"}}}
    with pytest.raises(ApplicationError) as refused:
        attempt(SCHEMA, texts)
    assert "unknown text 'purpos'" in refused.value.fields["texts"]
    stored = attempt(SCHEMA, SUBJECT_TEXTS)
    assert stored.text_translations["de"]["purpose"].startswith("Wir entscheiden über Kreditanträge")
    assert stored.feature_schema == FeatureSchema.from_dict(SCHEMA).to_dict()


@pytest.mark.django_db
def test_version_texts_fall_back_to_the_default_per_text(credit_trained):
    texts = copy.deepcopy(SUBJECT_TEXTS)
    del texts["translations"]["de"]["purpose"]
    version = register(replace(credit_trained, subject_texts=texts), checked=False)
    german = version_texts(version, "de")
    assert german["purpose"] == SUBJECT_TEXTS["purpose"]
    assert german["legal_basis"].startswith("Artikel 22 Absatz 2 Buchstabe a DSGVO")
    assert version_texts(version, "en")["legal_basis"] == SUBJECT_TEXTS["legal_basis"]
    assert schema_for_language(version, "de")["age_years"].label == "Alter"
    assert schema_for_language(version, "de") is schema_for_language(version, "de")
    assert missing_translations(schema_of(version), version, "de") == ["text: purpose"]


def test_missing_translations_names_each_missing_field():
    schema = FeatureSchema.from_dict(
        _without(_without(SCHEMA, "housing", "categories", "rent"), "duration_months", "unit")
    )
    # Anything with the texts as attributes will do: a ModelVersion is one.
    version = type("Version", (), {**SUBJECT_TEXTS, "text_translations": SUBJECT_TEXTS["translations"]})
    assert missing_translations(schema, version, "de") == [
        "duration_months: unit",
        "housing: category 'rent'",
    ]


@pytest.mark.django_db
def test_check_translations_passes_on_the_demo_and_lists_what_is_missing(
    credit_version, digits_version, credit_trained, capsys
):
    call_command("check_translations")
    assert capsys.readouterr().out.strip() == "every label, category label and text is translated"
    texts = copy.deepcopy(SUBJECT_TEXTS)
    del texts["translations"]["de"]["contact"]
    register(replace(credit_trained, name="credit-partial", subject_texts=texts))
    with pytest.raises(SystemExit) as failed:
        call_command("check_translations", "--language", "de")
    assert failed.value.code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"credit-partial@{credit_trained.version} [de] text: contact"
    ]
