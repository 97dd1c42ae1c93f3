-- The W3C trace context of the event that asked for an import job (traceparent, then after one space
-- its tracestate), so the job's events, run later, carry it on.
ALTER TABLE import_jobs ADD COLUMN trace_context text;
