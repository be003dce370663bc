"""Encryption at rest for secrets (passwords, keys, tokens): Fernet with a key file made on first start."""

import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dbcs_server.files import create_once

KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The key file cannot be used; the message says why and what to do."""


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _create_key(path: Path) -> None:
    create_once(path, Fernet.generate_key() + b"\n")


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
