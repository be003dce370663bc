"""Encryption at rest for passwords and SSL keys: Fernet with a key file made on first start."""

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The key file cannot be used; the message says why and what to do."""


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = Fernet.generate_key()
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


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
