"""The README's configuration table is generated from the settings model and must stay in sync."""

from __future__ import annotations

from service.config import markdown_table
from tests.support import ROOT


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, (
        "regenerate with: python -c 'from service.config import markdown_table as t; print(t())'"
    )
