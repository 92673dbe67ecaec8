"""Export manifests: canonical bytes, Ed25519 signature, and the offline check of a downloaded file.

Plain Python and `cryptography` only (no database): `manage.py verify_export` runs this against a
file and manifest taken away from the platform, with the public key published at
/api/v1/audit/public-key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MANIFEST_TYPE = "rationale-export-manifest/v1"
_READ_BYTES = 1 << 20


def canonical_bytes(manifest: dict) -> bytes:
    """What the signature covers: every field but `signature`, as sorted compact JSON."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def signature_valid(manifest: dict, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(bytes.fromhex(str(manifest.get("signature", ""))), canonical_bytes(manifest))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class FileCheck:
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    sha256: str = ""
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def count_rows(path: Path, fmt: str) -> int:
    """Data rows in the file: lines of JSON Lines, records (after the header) of CSV."""
    with open(path, encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
        return sum(1 for line in handle if line.strip())


def check_export(
    path: Path,
    manifest: dict,
    key: Ed25519PublicKey,
    *,
    checkpoint_valid: Callable[[dict, Ed25519PublicKey], bool] | None = None,
) -> FileCheck:
    """Signature, then sha256 and size of the file, then its row count, against the manifest."""
    result = FileCheck()
    if manifest.get("type") != MANIFEST_TYPE:
        result.problems.append(f"not a {MANIFEST_TYPE} manifest")
        return result
    if not signature_valid(manifest, key):
        result.problems.append("manifest signature is invalid (manifest altered, or signed by another key)")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_BYTES):
            digest.update(chunk)
            result.size_bytes += len(chunk)
    result.sha256 = digest.hexdigest()
    if result.sha256 != manifest.get("sha256"):
        result.problems.append(
            f"sha256 of the file is {result.sha256}, the manifest says {manifest.get('sha256')}"
        )
    if result.size_bytes != manifest.get("size_bytes"):
        result.problems.append(
            f"file has {result.size_bytes} bytes, the manifest says {manifest.get('size_bytes')}"
        )
    try:
        result.rows = count_rows(path, manifest.get("format", "jsonl"))
    except (UnicodeDecodeError, csv.Error) as exc:
        result.problems.append(f"file cannot be read as {manifest.get('format')}: {exc}")
    else:
        if result.rows != manifest.get("rows"):
            result.problems.append(f"file has {result.rows} rows, the manifest says {manifest.get('rows')}")
    checkpoint = manifest.get("checkpoint")
    if checkpoint and checkpoint_valid is not None and not checkpoint_valid(checkpoint, key):
        result.problems.append("the audit checkpoint in the manifest has an invalid signature")
    return result


def read_manifest(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def manifest_text(manifest: dict) -> str:
    """The manifest file as served: indented for people, canonical inside for the signature."""
    out = io.StringIO()
    json.dump(manifest, out, sort_keys=True, indent=2, ensure_ascii=False)
    out.write("\n")
    return out.getvalue()
