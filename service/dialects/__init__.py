"""Dialect plug-ins: one module, one JSON Schema and one registry entry each."""

from __future__ import annotations

from pathlib import Path

from service.dialects.contact_erase import ContactErase
from service.dialects.contact_v1 import ContactV1
from service.dialects.dialler import Dialler
from service.dialects.dnc_v1 import DncV1
from service.dialects.importws import ImportWS
from service.dialects.isales import ISales
from service.dialects.registry import Registry
from service.dialects.thulium import Thulium


def default_registry(schema_dir: Path) -> Registry:
    """Every dialect the service speaks."""
    return Registry(
        [
            ContactV1(schema_dir),
            ImportWS(schema_dir),
            Dialler(schema_dir),
            ISales(schema_dir),
            Thulium(schema_dir),
            DncV1(schema_dir),
            ContactErase(schema_dir),
        ]
    )
