"""Bulk file imports: where files come from (sources), how they are read (formats), file servers, sealing."""
