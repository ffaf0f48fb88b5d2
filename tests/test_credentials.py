"""Credentials never printed (issue 29, item 4): every error that quotes a database URI
redacts user and password, whatever characters the password holds, with or without a
scheme. Each case runs the CLI in a subprocess against a URI that cannot work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCREENING = str(Path(sys.executable).with_name("screening"))
FRAGMENTS = ("P@ss", "ss/w", "w:0rd", "0rd@", "hunter2", "s3cr", "cr@t", "admin")
"""Pieces of the passwords (and the user) below: none may appear, whole or split."""
URIS = [
    "mongodb://admin:P@ss/w:0rd@127.0.0.1:9/screening",  # unescaped @ / : in the password
    "mongodb://admin:hunter2@127.0.0.1:9",  # well formed, nothing listens on port 9
    "mongodb+srv://admin:s3cr@t@db.invalid",  # srv, @ in the password
    "admin:hunter2@db.example",  # no scheme
    "http://admin:hunter2@db.example",  # wrong scheme
]


@pytest.mark.parametrize("uri", URIS)
def test_error_lines_never_show_the_password(tmp_path, uri):
    env = {
        **os.environ,
        "SCREENING_DB_URI": uri,
        "SCREENING_DB_TIMEOUT_S": "1",
        "SCREENING_DATA_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [SCREENING, "rank", "x"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for piece in FRAGMENTS:
        assert piece not in out.stderr + out.stdout, lines[0]


def test_redact_uri_keeps_scheme_and_host():
    from screening.store.server import redact_uri

    assert redact_uri("mongodb://admin:P@ss/w:0rd@db.example:27017/x") == (
        "mongodb://***@db.example:27017/x"
    )
    assert redact_uri("admin:hunter2@db.example") == "***@db.example"
    assert redact_uri("mongodb://db.example") == "mongodb://db.example"
