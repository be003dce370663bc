"""The install id (2.x): made on first start, kept in the data directory, the same ever after.

Clients read it from GET /system/defaults and send it as X-Install-ID with every authenticated
request. It is no secret (any caller may read it), but it is written like secret.key: 0600,
through a temporary file linked into place, so a crash leaves none or a whole one.
"""

import uuid
from pathlib import Path

from dbcs_server.files import create_once

INSTALL_ID_FILE = "install-id"


class InstallIdError(Exception):
    """The install id file cannot be used; the message says why and what to do."""


def load_or_create_install_id(data_dir: Path) -> str:
    path = data_dir / INSTALL_ID_FILE
    if not path.exists():
        create_once(path, f"{uuid.uuid4()}\n".encode())
    try:
        text = path.read_text(encoding="ascii").strip()
        uuid.UUID(text)
    except OSError as exc:
        raise InstallIdError(f"cannot read the install id file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError):
        raise InstallIdError(
            f"the install id file {path} does not hold an install id; remove it to make a new one"
            " (clients then read the new one from GET /system/defaults)"
        ) from None
    return text
