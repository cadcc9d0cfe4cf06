"""Settings from the environment, in one place.

Every setting is read from an environment variable prefixed ``ORDERDECK_`` (for example
``ORDERDECK_DATABASE_URL``). Nothing else in orderdeck reads the environment.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated

DEFAULT_DATABASE_URL = "sqlite://orderdeck.sqlite3"


class Settings(BaseSettings):
    """orderdeck's configuration."""

    model_config = SettingsConfigDict(env_prefix="ORDERDECK_", extra="ignore", hide_input_in_errors=True)  # keys, passwords

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite://PATH (embedded default, a file in the working folder) or "
        "postgres://user:password@host:port/database",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to call the API from a browser (SPAs).",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Encrypts channel secrets at rest (any string of 32+ characters). Unset on SQLite: "
        "a key is generated once and kept beside the database file; required on PostgreSQL.",
    )
    sqlite_busy_timeout_ms: int = Field(
        30_000, ge=0, le=600_000,
        description="How long a SQLite write waits for another process's write (the CLI, a second server "
        "start) before failing with 'database is locked'.",
    )
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated older keys that still decrypt channel secrets after ORDERDECK_SECRET_KEY "
        "was replaced (until `orderdeck rotate-key` has re-encrypted them with the new one).",
    )
    graphiql: bool = Field(True, description="Serve the GraphiQL IDE on GET /graphql.")
    max_query_depth: int = Field(12, ge=2, le=50, description="Deepest GraphQL query accepted.")
    max_query_cost: int = Field(
        50_000, ge=100, le=100_000_000,
        description="Costliest GraphQL operation accepted, computed before it runs: an object costs 1, a list "
        "its page size (first/last/limit, or their default) times its children.",
    )
    query_cost_list_size: int = Field(
        10, ge=1, le=1000, description="Items assumed in a list field that takes no page size (order lines, levels...).",
    )
    max_answer_bytes: int = Field(
        5_000_000, ge=1000, le=1_000_000_000, description="Largest JSON answer sent; a larger one is refused with an error."
    )
    request_timeout_seconds: float = Field(
        15.0, gt=0, le=3600, description="Longest a GraphQL request may run before it is cancelled and answered with an error."
    )
    rate_limit_per_minute: int = Field(
        600, ge=0, le=1_000_000, description="GraphQL requests per minute per API token (0: no limit)."
    )
    rate_limit_burst: int = Field(100, ge=1, le=1_000_000, description="Requests a token may send at once above its pace.")
    rate_limit_store: str = Field(
        "auto",
        description="Where the rate limits' buckets live (the API's per token, and the partners' per connection and "
        "operation): auto (the Redis of the event bus or the broker when one is configured, else memory), memory "
        "(each process counts alone), or redis://host:port/db.",
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1000, le=1_000_000_000,
        description="Largest HTTP request body and websocket message accepted (413 / close 1009 beyond).",
    )
    max_json_depth: int = Field(20, ge=4, le=200, description="Deepest JSON nesting accepted in a request (400 beyond).")
    max_list_items: int = Field(
        1000, ge=10, le=1_000_000,
        description="Most items in any list of the variables or a list literal of the document, checked before parsing them.",
    )
    broker_url: str | None = Field(
        None,
        description="redis://host:port/db or amqp://user:password@host:port/vhost: the Dramatiq broker that "
        "`orderdeck worker` processes consume. Unset: `orderdeck serve` runs the jobs in-process.",
    )
    broker_namespace: str = Field(
        "orderdeck", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of the broker's queue names (Redis), to keep several installations apart.",
    )
    job_max_retries: int = Field(8, ge=0, le=100, description="Retries of a failed job before it is recorded as failed.")
    job_min_backoff_ms: int = Field(1000, ge=10, le=3_600_000, description="Delay before a job's first retry (doubles each time).")
    job_max_backoff_ms: int = Field(300_000, ge=10, le=86_400_000, description="Longest delay between a job's retries.")
    worker_threads: int = Field(4, ge=1, le=64, description="Jobs run at once by the in-process worker (and by default by `orderdeck worker`).")
    scheduler_interval_seconds: float = Field(
        5.0, ge=0.05, le=3600, description="How often the scheduler looks for channels due a download and for missed work."
    )
    run_lease_seconds: float = Field(
        20.0, ge=0.5, le=3600,
        description="How long a running download, stock push or dispatch holds its channel without a heartbeat "
        "(renewed every quarter of it): a worker that dies frees the channel, and its run is closed, this long after.",
    )
    retry_min_backoff_seconds: float = Field(
        30.0, ge=0.05, le=86_400,
        description="Wait before sending again a stock level or dispatch note the channel could not take for a "
        "passing reason (timeout, 5xx, unreadable answer, rate limit); doubles with each failure in a row.",
    )
    retry_max_backoff_seconds: float = Field(
        1800.0, ge=0.05, le=86_400, description="Longest wait between those attempts (they go on until one succeeds)."
    )
    exact_count_limit: int = Field(
        10_000, ge=0, le=10_000_000,
        description="Order lists count totalCount exactly up to this many results; above it, on PostgreSQL, "
        "totalCount is the query planner's estimate (totalCountIsEstimate is then true).",
    )
    event_bus: str = Field(
        "auto",
        description="How live events reach the API processes' subscribers: auto (PostgreSQL LISTEN/NOTIFY on "
        "PostgreSQL, in-memory on SQLite), memory (one process), postgres, or redis://host:port/db (pub/sub).",
    )
    event_retention_hours: float = Field(
        24.0, ge=0.01, le=24 * 90,
        description="How long events are kept for subscribers resuming after a disconnect (`after`).",
    )
    event_poll_seconds: float = Field(
        2.0, ge=0.05, le=3600,
        description="How often the API looks for new events even without a wake-up from the bus (a safety net).",
    )
    subscriber_buffer: int = Field(
        1000, ge=10, le=100_000,
        description="Events one subscription may have waiting; beyond it the oldest are dropped and the "
        "subscriber is told which it missed.",
    )

    @field_validator("event_bus")
    @classmethod
    def _known_bus(cls, value: str) -> str:
        value = value.strip() or "auto"
        if value in ("auto", "memory", "postgres") or value.startswith(("redis://", "rediss://")):
            return value
        raise ValueError("ORDERDECK_EVENT_BUS must be auto, memory, postgres or a redis:// URL")

    @field_validator("rate_limit_store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        value = value.strip() or "auto"
        if value in ("auto", "memory") or value.startswith(("redis://", "rediss://")):
            return value
        raise ValueError("ORDERDECK_RATE_LIMIT_STORE must be auto, memory or a redis:// URL")

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError(
                "ORDERDECK_DATABASE_URL must start with sqlite://, postgres:// or postgresql://"
            )
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        if not value:  # unset, or set to "" (as compose files often do): the embedded default
            return None
        if not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("ORDERDECK_BROKER_URL must start with redis://, rediss://, amqp:// or amqps://")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("ORDERDECK_SECRET_KEY must be at least 32 characters")
        return value

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("previous_secret_keys")
    @classmethod
    def _all_long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(len(key.get_secret_value()) < 32 for key in value):
            raise ValueError("each of ORDERDECK_PREVIOUS_SECRET_KEYS must be at least 32 characters")
        return value

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite default."""
        return self.database_url.startswith("sqlite://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
