"""The README's configuration table is the settings' declarations, rendered: one source."""

from __future__ import annotations

import re

from flask_captcha_ext.settings import PREFIX, SETTINGS_FIELDS
from tests.support import ROOT

HEADER = "| key | default | meaning |\n|---|---|---|\n"


def config_table() -> str:
    """The Markdown table of every CAPTCHA_* key: name, default as shown, one-line doc."""
    rows = []
    for f in SETTINGS_FIELDS:
        shown = f.metadata["shown"] or f"`{f.default!r}`"
        rows.append(f"| `{PREFIX}{f.name.upper()}` | {shown} | {f.metadata['doc']} |\n")
    return HEADER + "".join(rows)


def readme_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1]
    match = re.search(re.escape(HEADER) + r"(\|.*\|\n)+", section)
    assert match, "README's Configuration section has no key table"
    return match.group(0)


def test_readme_config_table_is_the_declarations():
    assert readme_table() == config_table(), (
        "README.md's configuration table drifted from flask_captcha_ext/settings.py; "
        "replace it with:\n" + config_table()
    )


def test_every_key_has_a_doc_line():
    for f in SETTINGS_FIELDS:
        doc = f.metadata["doc"]
        assert doc and "\n" not in doc, f.name
