"""Files of the data directory that are made once and never rewritten (secret.key, install-id)."""

import os
import tempfile
from pathlib import Path


def create_once(path: Path, content: bytes) -> None:
    """Write `content` to a private (0600) temporary file, then link it into place.

    A crash (kill -9, power loss) at any moment leaves either no file, so that the next start
    makes one, or a whole one: never an empty file a server would refuse forever (at worst an
    unused .NAME.* file, 0600, stays behind). The link never replaces a file another process made
    meanwhile: then that one stays, and both processes read the same.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        os.unlink(temporary)
