"""Runtime settings of one server process (built by the CLI, consumed by create_app)."""

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "dbcs-server"


API_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Settings:
    api_keys: tuple[str, ...]
    api_version: int = 2  # the dialect served: 1 (documented v1 API) or 2 (2.x servers)
    data_dir: Path = field(default_factory=default_data_dir)
    strict_configs: bool = False
    hide_passwords: bool = False
    list_summary: bool = False
    sparse_create: bool = False
    db_timeout: float = 5.0
    request_log: Path | None = None
    cors_origins: tuple[str, ...] = ()
    # Empty means any host; otherwise probes refuse every other host before any network traffic.
    allowed_db_hosts: tuple[str, ...] = ()
    sse_heartbeat: float = 15.0  # seconds between heartbeats on GET /logs/stream (2.x)
