"""The codebase's shape, checked by reading it: speed-ups only behind each app's storage door,
modules a reader can take in at once, and no import hidden in a function to dodge a cycle.
(The layers themselves are import-linter's contracts, run by `make lint`.)"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("config", "audit", "decisions", "explanations", "reviews", "webhooks", "oversight", "demo")
MAX_LINES = 400
# The one door per app for SQL the ORM does not write, and the database backend itself.
STORAGE = re.compile(r"^(\w+/storage\.py|config/postgresql/.*)$")
# SQL as this codebase writes it: keywords in capitals, at the start of a string.
SQL_TEXT = re.compile(
    r"^\s*(SELECT\b|INSERT INTO\b|UPDATE \S+ (AS \w+ )?SET\b|DELETE FROM\b|COPY\b|WITH \w+ AS\b|LISTEN\b"
    r"|CREATE (OR REPLACE|TABLE|INDEX|FUNCTION)\b|DROP (TABLE|FUNCTION|INDEX)\b)"
)
RAW_CALLS = {"execute", "executemany", "raw", "extra", "RawSQL"}


def _modules() -> list[Path]:
    files = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        Path(f)
        for f in files
        if f.split("/")[0] in OUR_PACKAGES and "/migrations/" not in f and not f.startswith("tests/")
    ]


def _raw_sql_in(path: Path) -> list[str]:
    tree = ast.parse((ROOT / path).read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "vendor":
            found.append(f"line {node.lineno}: connection.vendor")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            copies_text = (
                name == "copy" and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            )
            if name in RAW_CALLS or copies_text:
                found.append(f"line {node.lineno}: .{name}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.match(node.value):
            found.append(f"line {node.lineno}: {node.value[:40]!r}")
    return found


def test_the_modules_are_found():
    names = {str(p) for p in _modules()}
    assert {"decisions/storage.py", "explanations/drain.py", "reviews/services/casework.py"} <= names


def test_sql_and_vendor_branches_live_only_in_the_storage_modules():
    offenders = {
        str(path): found
        for path in _modules()
        if not STORAGE.match(str(path)) and (found := _raw_sql_in(path))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "from django.db import connection\nif connection.vendor == 'postgresql': pass\n",
        "def f(cursor):\n    cursor.execute('SELECT 1')\n",
        "def f(cursor, table):\n    with cursor.copy(f'COPY {table} FROM STDIN'):\n        pass\n",
        "QUERY = 'UPDATE t SET a = 1'\n",
        "from django.db.models.expressions import RawSQL\nx = RawSQL('1', [])\n",
    ],
)
def test_the_check_sees_each_kind_of_raw_sql(tmp_path, source):
    path = tmp_path / "module.py"
    path.write_text(source)
    assert _raw_sql_in(path)


def test_no_module_is_longer_than_a_reader_can_take_in():
    long = {str(p): n for p in _modules() if (n := len((ROOT / p).read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _imports_in_functions(path: Path) -> list[str]:
    tree = ast.parse((ROOT / path).read_text())
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
            elif isinstance(node, ast.Import):
                target = node.names[0].name
            else:
                continue
            if getattr(node, "level", 0) or target.split(".")[0] in OUR_PACKAGES:
                found.append(f"line {node.lineno}: {target}")
    return found


@pytest.mark.parametrize(
    "source, found",
    [
        ("def f():\n    from decisions.models import Decision\n", True),
        ("def f():\n    from . import tasks\n", True),
        ("def f():\n    import tensorflow\n", False),  # a heavy library, loaded when needed
    ],
)
def test_the_check_sees_an_import_of_ours_inside_a_function(tmp_path, source, found):
    path = tmp_path / "module.py"
    path.write_text(source)
    assert bool(_imports_in_functions(path)) is found


def test_no_module_of_ours_is_imported_inside_a_function():
    """Heavy libraries may load lazily; our own modules never need to: an import inside a function
    is how a cycle between them hides. AppConfig.ready() is Django's place for registrations."""
    offenders = {
        str(path): found
        for path in _modules()
        if path.name != "apps.py" and (found := _imports_in_functions(path))
    }
    assert offenders == {}
