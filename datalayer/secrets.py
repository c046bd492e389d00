"""Encryption of stored secrets (API credentials) with a key that lives only in configuration.

The embedded PostgreSQL wheel is built without OpenSSL, so pgcrypto is not available there; encrypting in
the application also means the key never reaches the server (no key in SQL text, logs or pg_stat_statements).
Fernet is AES-128-CBC with an HMAC-SHA256 tag: a wrong key or a tampered value is detected, never garbled.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from datalayer.config import Settings
from datalayer.errors import InvalidData


class Cipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise InvalidData(
                "DATALAYER_SECRET_KEY is not a valid key: it must be 32 url-safe base64-encoded bytes; "
                "create one with `datalayer secret-key`"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> Cipher:
        if settings.secret_key is None:
            raise InvalidData("DATALAYER_SECRET_KEY is not set; it is needed to store or read API credentials")
        return cls(settings.secret_key.get_secret_value())

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt_json(self, value: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode())

    def decrypt_json(self, token: bytes) -> dict[str, str]:
        try:
            plain = self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise InvalidData(
                "stored credentials cannot be decrypted with this key (wrong DATALAYER_SECRET_KEY?)"
            ) from exc
        result: dict[str, str] = json.loads(plain)
        return result
