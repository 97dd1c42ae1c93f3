"""The batch pipeline: decode envelopes, parse records through dialects, apply, build outcomes."""
