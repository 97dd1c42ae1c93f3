"""Settings, read once from the environment (prefix ``CIS_``)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
DEV_ENV_FILE = str(Path(os.environ.get("CIS_STATE_DIR", ".state")) / "dev.env")  # see state_dir


class Settings(BaseSettings):
    """Every knob of the service. Environment variables are ``CIS_<FIELD>`` (upper case)."""

    # ``make run`` writes where its embedded broker and Postgres are to <state folder>/dev.env while it
    # runs, so that the CLI tools started from the repository find them; real environment variables win.
    model_config = SettingsConfigDict(env_prefix="CIS_", extra="ignore", env_file=DEV_ENV_FILE)

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for TLS.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate for TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client key for TLS.")
    kafka_idempotent_producer: bool = Field(
        True, description="Idempotent producer; turn off for brokers without InitProducerId (tansu)."
    )
    kafka_fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        description="Longest a fetch waits at the broker for records (fetch.max.wait.ms). A broker that does not"
        " answer as soon as records arrive (tansu) adds up to this to latency at low load.",
    )
    kafka_max_request_bytes: int = Field(
        1_048_576,
        ge=65_536,
        description="The producer's max.request.size: the largest message published (value, key and headers)."
        " A larger dead letter goes out truncated (its original stays in the outbox), a larger outcome without"
        " its contact snapshot; other messages refused for good are parked. Raise it with the topics'"
        " max.message.bytes.",
    )
    group_id: str = Field("contact-import", description="Consumer group id.")
    input_topic: str = Field("contact-imports", description="Topic the import events are read from.")
    results_topic: str = Field("contact-import-results", description="Topic the outcome events go to.")
    dead_letter_topic: str = Field("contact-imports-dlq", description="Topic undecodable messages go to.")
    jobs_topic: str = Field(
        "contact-import-jobs", description="Topic file-import job events go to (accepted, progress, completed)."
    )
    topic_partitions: int = Field(6, description="Partitions when the service creates its topics.")
    topic_replication_factor: int = Field(
        3, ge=1, description="Replication factor of the topics the service creates (3 brokers; 1 on the embedded one)."
    )
    topic_min_insync_replicas: int = Field(
        2,
        ge=1,
        description="min.insync.replicas of the topics the service creates: with acks=all a write survives the loss"
        " of all but this many replicas (1 on the embedded broker).",
    )
    kafka_client_id: str = Field(
        "",
        description="client.id of every Kafka client, seen in broker logs and quotas (empty: contact-import-<host>).",
    )
    kafka_group_instance_id: str = Field(
        "",
        description="Static group membership (group.instance.id), unique per replica and stable across its restarts"
        " (a StatefulSet pod name): a restarted replica gets its partitions back without a rebalance. Empty: dynamic.",
    )
    kafka_session_timeout_ms: int = Field(
        10_000,
        ge=1,
        description="session.timeout.ms: a replica silent for this long (killed, frozen) loses its partitions.",
    )
    kafka_heartbeat_interval_ms: int = Field(
        3_000, ge=1, description="heartbeat.interval.ms (at most a third of the session timeout)."
    )
    kafka_max_poll_interval_ms: int = Field(
        300_000,
        ge=1,
        description="max.poll.interval.ms: longest a replica may spend on one fetch's transactions before it is"
        " treated as stuck and leaves the group.",
    )
    create_topics: bool = Field(True, description="Create missing topics at start-up.")

    # Access
    topic_tenants: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Input topics bound to the tenants they may write, as JSON "
        '(`{"imports-acme": ["acme"]}`); once set, a topic not listed may write no tenant.',
    )
    dnc_global_topics: list[str] = Field(
        default_factory=list,
        description="Input topics whose `dnc.v1` events may change the global do-not-call lists, which reach every "
        "tenant's dial lists (JSON list); empty: only `contact-import dnc` changes them.",
    )
    erase_tombstone_tenant: str = Field(
        "",
        description="The tenant a tombstone (a message with a key and no value) on an input topic erases: the"
        " UserData in its key (docs/erasure.md); empty: tombstones are dead-lettered.",
    )
    require_tenant_attribute: bool = Field(
        False, description="Every event must carry the CloudEvents `tenant` attribute, naming a catalog tenant."
    )
    login_max_failures: int = Field(
        5, description="Failed logins of an API user within the window that lock it (0: never lock)."
    )
    login_failure_window_s: float = Field(900.0, description="Window in which failed logins are counted.")
    login_lock_s: float = Field(900.0, description="How long a login stays locked after too many failures.")

    # Postgres
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"), description="PostgreSQL DSN."
    )
    database_pool_size: int = Field(4, description="Connections in the pool.")
    pg_idle_in_transaction_timeout_s: float = Field(
        30.0,
        ge=0,
        description="idle_in_transaction_session_timeout of the service's connections: the server ends a"
        " transaction left idle this long (a frozen replica) and frees its offset rows; 0: never.",
    )
    pg_lock_timeout_s: float = Field(
        10.0,
        ge=0,
        description="lock_timeout of the service's connections: a statement waiting this long for a lock fails and"
        " its batch is retried; 0: wait forever.",
    )

    # Pipeline
    batch_max_records: int = Field(2000, description="Most messages taken from Kafka for one transaction.")
    batch_max_bytes: int = Field(
        262_144,
        description="Most bytes of message values applied in one transaction (a fetch is split); the service's"
        " peak memory grows with it (about 1,000 contact.v1 contacts per 256 KiB).",
    )
    batch_max_wait_ms: int = Field(50, description="Longest wait for a batch to fill.")
    max_message_bytes: int = Field(1_048_576, description="Messages larger than this are dead-lettered.")
    max_records_per_event: int = Field(10_000, description="Most records one event may carry.")
    contact_locks_max: int = Field(
        2000,
        description="Most per-contact locks one transaction takes (consumer batch or import step); one with more"
        " contacts locks the whole store instead, waiting for and holding up every other. Postgres holds about"
        " max_locks_per_transaction x max_connections locks at once (6,400 by default): keep"
        " replicas x (this + import_rows_per_tx) below it.",
    )
    event_id_retention_hours: float = Field(
        168.0, description="How long processed event ids (and their outcomes) are remembered."
    )
    retry_initial_s: float = Field(0.2, description="First back-off after a transient failure.")
    retry_max_s: float = Field(10.0, description="Longest back-off after a transient failure.")
    catalog_refresh_s: float = Field(5.0, description="How often tenants, users and campaigns are re-read.")
    default_phone_region: str | None = Field(
        None,
        description="Region (ISO 3166 alpha-2, e.g. DE) for national phone numbers when the campaign names none.",
    )
    phone_validation: Literal["strict", "off"] = Field(
        "strict",
        description="strict: phones normalised to E.164, invalid ones flagged and never dialled; off: kept as given.",
    )
    relay_batch: int = Field(5000, description="Most outbox rows relayed per round.")
    relay_idle_ms: int = Field(200, description="Outbox poll interval when nothing was signalled.")

    # File imports: sources and formats
    import_max_bytes: int = Field(536_870_912, description="Largest file an import may fetch (bytes).")
    import_timeout_s: float = Field(
        900.0, description="Most seconds an import may spend waiting on its source (connect and reads)."
    )
    import_allow_private_networks: bool = Field(
        False, description="Let imports fetch from loopback, link-local and private addresses."
    )
    import_allowed_networks: str | None = Field(
        None, description="Networks imports may reach even when private ones are refused (CIDR, comma separated)."
    )
    import_allowed_schemes: str = Field(
        "http,https,ftp,sftp", description="URL schemes an import may fetch from, comma separated."
    )
    import_request_check_s: float = Field(
        2.0,
        ge=0,
        description="Longest a file-import request waits when it arrives for its host name to resolve, so that a"
        " refused address is answered at once (checked again when the file is fetched); 0: literal addresses only.",
    )
    import_ca_file: Path | None = Field(
        None, description="CA bundle https import sources are verified against (default: certifi's)."
    )
    import_secret_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) sealing stored source credentials, comma separated; the first seals "
        "(generate: contact-import secret-key). `make run` keeps one in the state folder.",
    )
    import_spool_dir: Path | None = Field(
        None, description="Folder for spooled XLSX downloads (default: the system's temporary folder)."
    )

    # HTTP (metrics and health)
    http_host: str = Field("0.0.0.0", description="Address of the metrics and health endpoint.")
    http_port: int = Field(8080, description="Port of /metrics, /healthz and /readyz.")
    frontdoor_enabled: bool = Field(
        False, description="Serve the vendor-compatible HTTP front door (docs/frontdoor.md) on its own port."
    )
    frontdoor_port: int = Field(8081, description="Port of the front door (0: any free port, logged).")
    frontdoor_prefix: str = Field("", description="Path prefix of every front-door route, e.g. /cis (empty: none).")
    frontdoor_wait_s: float = Field(
        5.0,
        gt=0,
        description="How long a front-door request waits for its outcomes; then it answers 202 and a Location to poll.",
    )
    frontdoor_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest front-door request body; a larger one is refused with 413."
    )
    frontdoor_rate_per_s: float = Field(
        20.0, ge=0, description="Front-door requests per second allowed to one user (0: no limit); more get 429."
    )
    frontdoor_rate_burst: int = Field(40, ge=1, description="Requests one user may send at once above that rate.")
    frontdoor_tls_certfile: Path | None = Field(
        None, description="TLS certificate of the front door (with the key); without it terminate TLS in front."
    )
    frontdoor_tls_keyfile: Path | None = Field(None, description="TLS key of the front door.")

    # Misc
    log_level: str = Field("INFO", description="Log level.")
    schema_dir: Path = Field(REPO_SCHEMAS, description="Folder holding the dialects' JSON Schemas.")
    state_dir: Path = Field(Path(".state"), description="Folder for the embedded broker and database.")
    failpoint: str | None = Field(None, description="Test only: exit hard (os._exit) at this named point.")

    # File imports: jobs
    import_poll_s: float = Field(1.0, description="How often each replica looks for due import jobs.")
    import_rows_per_tx: int = Field(1000, description="File rows applied per transaction (the checkpoint step).")
    import_progress_every: int = Field(10_000, description="A job progress event every this many rows.")
    import_lease_s: float = Field(
        30.0, description="A running job's lease; a replica that stops renewing it loses the job to another."
    )
    import_max_rows: int = Field(
        1_000_000, description="Most data rows in one import file (iSales: 500,000, the seed's cap)."
    )
    import_timezone: str = Field(
        "UTC",
        description="Time zone (an IANA name) of the vendors' local times (Thulium next_call_date, importWS"
        " dialtime and exetime, iSales hour/minute and recycleTime, dialler dates) for a campaign and tenant"
        " without a --timezone of their own.",
    )

    @field_validator("import_allowed_networks")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        for item in (value or "").split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the bad network
        return value

    @field_validator("import_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)  # an unknown zone fails at start-up, not when a job is scheduled
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value

    def client_id(self) -> str:
        return self.kafka_client_id or f"contact-import-{socket.gethostname()}"

    def pg_server_settings(self) -> dict[str, str]:
        """Session settings of the service's Postgres connections (milliseconds, as the server takes them)."""
        return {
            "idle_in_transaction_session_timeout": str(round(self.pg_idle_in_transaction_timeout_s * 1000)),
            "lock_timeout": str(round(self.pg_lock_timeout_s * 1000)),
        }

    def kafka_common(self) -> dict[str, object]:
        """Connection arguments shared by every aiokafka client."""
        args: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            args["sasl_mechanism"] = self.kafka_sasl_mechanism
            args["sasl_plain_username"] = self.kafka_sasl_username
            args["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            args["ssl_context"] = create_ssl_context(
                cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None,
                certfile=str(self.kafka_ssl_certfile) if self.kafka_ssl_certfile else None,
                keyfile=str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
            )
        return args


def markdown_table() -> str:
    """The configuration table of the README, generated from the settings model."""
    lines = ["| variable | default | description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "(secret)"
        elif isinstance(default, Path) and default.is_absolute():
            default = f"<repo>/{default.name}"
        shown = "" if default is None else f"`{default}`"
        lines.append(f"| `CIS_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines)
