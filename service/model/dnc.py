"""Do-not-call changes: a number added to (or removed from) a tenant's or the global list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

GLOBAL = ""  # the tenant of the global lists


class DncAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class DncChange(BaseModel):
    """One number of a ``dnc.v1`` event, already in E.164."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str  # GLOBAL for a global list
    list: str
    phone: str
    action: DncAction = DncAction.ADD
    expires_at: datetime | None = None
    dry_run: bool = False
