"""Operations: JSON logs, the metrics and health endpoint, the embedded dev stack."""
