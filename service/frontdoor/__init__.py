"""The vendor-compatible HTTP front door: a thin producer in front of the same pipeline (docs/frontdoor.md)."""
