"""Building blocks every layer may use: metrics, the HTTP endpoint, JSON logs, fail points."""
