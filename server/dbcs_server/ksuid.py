"""KSUIDs: 4-byte timestamp (seconds since 2014-05-13) + 16 random bytes, as 27 base62 chars."""

import os
import time

EPOCH = 1_400_000_000
LENGTH = 27
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def encode(raw: bytes) -> str:
    """Fixed-width base62 of 20 bytes (left-padded with '0', as the reference implementation)."""
    if len(raw) != 20:
        raise ValueError("a KSUID is 20 bytes")
    number = int.from_bytes(raw, "big")
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars)).rjust(LENGTH, "0")


def decode(text: str) -> bytes:
    if len(text) != LENGTH or any(c not in ALPHABET for c in text):
        raise ValueError("not a KSUID")
    number = 0
    for char in text:
        number = number * 62 + ALPHABET.index(char)
    return number.to_bytes(20, "big")


def timestamp(text: str) -> int:
    """Unix seconds encoded in a KSUID."""
    return int.from_bytes(decode(text)[:4], "big") + EPOCH


def new(now: float | None = None) -> str:
    seconds = int(time.time() if now is None else now) - EPOCH
    return encode(seconds.to_bytes(4, "big") + os.urandom(16))
