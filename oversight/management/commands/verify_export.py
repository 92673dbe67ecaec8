"""Check a downloaded export against its signed manifest, offline (no database is touched)."""

from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.chain import checkpoint_message
from audit.signing import public_key as own_key
from audit.signing import verify
from oversight.manifest import check_export, load_public_key, read_manifest


def checkpoint_valid(checkpoint: dict, key) -> bool:
    message = checkpoint_message(
        size=checkpoint["size"],
        last_event_id=checkpoint["last_event_id"],
        head_hash=checkpoint["head_hash"],
        created_at=datetime.fromisoformat(checkpoint["created_at"]),
    )
    return verify(message, checkpoint["signature"], key)


class Command(BaseCommand):
    help = (
        "Verify an export file against its manifest: Ed25519 signature, sha256, size and row count. "
        "Exit 0 when it holds, 1 naming every problem otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("export_file", type=Path)
        parser.add_argument("manifest_file", type=Path)
        parser.add_argument(
            "--public-key",
            type=Path,
            help="PEM file of the platform's public key (GET /api/v1/audit/public-key); "
            "defaults to this installation's own key",
        )

    def handle(self, *args, export_file: Path, manifest_file: Path, public_key: Path | None, **options):
        for path in (export_file, manifest_file):
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        try:
            manifest = read_manifest(manifest_file)
        except ValueError as exc:
            raise CommandError(f"{manifest_file}: not a JSON manifest ({exc})") from None
        if public_key is not None:
            try:
                key = load_public_key(public_key.read_bytes())
            except ValueError as exc:
                raise CommandError(f"{public_key}: {exc}") from None
        else:
            key = own_key()
        result = check_export(export_file, manifest, key, checkpoint_valid=checkpoint_valid)
        if not result.ok:
            raise CommandError("export does NOT verify:\n  - " + "\n  - ".join(result.problems))
        checkpoint = manifest.get("checkpoint") or {}
        self.stdout.write(
            self.style.SUCCESS(
                f"export verifies: {result.rows} rows, sha256 {result.sha256}, signed by key {manifest.get('key_id')}"
                + (f", covers audit checkpoint at event {checkpoint['last_event_id']}" if checkpoint else "")
            )
        )
