"""Where the settings read from: the environment (django-environ) and the project's folders."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("RATIONALE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
