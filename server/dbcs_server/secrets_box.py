"""Encryption at rest for passwords and SSL keys: Fernet with a key file made on first start."""

import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The key file cannot be used; the message says why and what to do."""


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _create_key(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place.

    A crash (kill -9, power loss) at any moment leaves either no key file, so that the next start
    makes one, or a whole one: never an empty key file the server would refuse forever (at worst
    an unused .secret.key.* file, 0600, stays behind). The link never replaces a key file another
    process made meanwhile.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=path.parent)  # mode 0600
    try:
        try:
            os.write(fd, Fernet.generate_key() + b"\n")
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


def _read_key(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SecretKeyError(
            f"the secret key file {path} has mode {mode:04o}; it must be readable by its owner only"
            f" (chmod 600 {path})"
        )
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    try:
        Fernet(key)
    except ValueError:
        raise SecretKeyError(f"the secret key file {path} does not hold a Fernet key") from None
    return key


class SecretBox:
    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    def seal(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def open(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                "the stored secrets cannot be decrypted with secret.key (was the key file replaced?)"
            ) from None
