import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from decisions.schema_draft import MAX_CATEGORIES, MAX_MEGABYTES, MAX_ROWS, DraftError, draft_from_csv


def _write(path: str, document: dict) -> None:
    try:
        Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise CommandError(f"{path}: cannot be written: {exc.strerror or exc}") from None


class Command(BaseCommand):
    help = (
        "Draft a feature schema JSON (and, with --output-json, output semantics) from a CSV of "
        "training data, for the controller to edit before register_model. Warnings go to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", help="the training data, with a header row")
        parser.add_argument("--target", required=True, help="the column the model predicts (left out)")
        parser.add_argument("--out", help="write the schema here instead of to stdout")
        parser.add_argument("--output-json", help="also write draft output semantics here")
        parser.add_argument(
            "--max-categories",
            type=int,
            default=MAX_CATEGORIES,
            help=f"text columns with more distinct values are skipped (default {MAX_CATEGORIES})",
        )
        parser.add_argument(
            "--max-rows", type=int, default=MAX_ROWS, help=f"read at most this many rows (default {MAX_ROWS})"
        )
        parser.add_argument(
            "--max-mb",
            type=float,
            default=MAX_MEGABYTES,
            help=f"refuse larger files (default {MAX_MEGABYTES})",
        )
        parser.add_argument(
            "--round-bounds", action="store_true", help="widen numeric bounds outward to round numbers"
        )
        parser.add_argument("--delimiter", default=",", help="the field separator (default ',')")

    def handle(self, *args, **o):
        if o["max_categories"] < 2 or o["max_rows"] < 1 or o["max_mb"] <= 0:
            raise CommandError("--max-categories must be at least 2, --max-rows and --max-mb positive")
        try:
            draft = draft_from_csv(
                o["csv"],
                target=o["target"],
                max_categories=o["max_categories"],
                max_rows=o["max_rows"],
                max_megabytes=o["max_mb"],
                round_bounds=o["round_bounds"],
                with_output=bool(o["output_json"]),
                delimiter=o["delimiter"],
            )
        except DraftError as exc:
            raise CommandError(str(exc)) from None
        for warning in draft.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        if o["out"]:
            _write(o["out"], draft.schema)
        else:
            self.stdout.write(json.dumps(draft.schema, indent=2, ensure_ascii=False))
        if draft.output is not None:
            _write(o["output_json"], draft.output)
        self.stderr.write(
            f"drafted {len(draft.schema['features'])} features from {draft.rows} rows; "
            "edit labels, descriptions, units, mutable and protected before register_model"
        )
