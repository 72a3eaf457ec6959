"""Argon2id password hashing (CPU-heavy: call from the thread pool, never on the event loop)."""

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cloud.config import DEFAULT_ARGON2

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class PasswordHasher:
    """Hash and verify passwords with Argon2id; knows when a stored hash needs upgrading."""

    def __init__(self, params: tuple = DEFAULT_ARGON2):
        time_cost, memory_kib, parallelism = params
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # Verifying an unknown user's login against this keeps the timing of "no such user"
        # the same as "wrong password".
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        """An encoded Argon2id hash ($argon2id$v=19$...) with a random salt."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """True when `password` matches; False for a mismatch, a missing or a corrupt hash."""
        try:
            return self._hasher.verify(encoded or self._dummy_hash, password) and bool(encoded)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(encoded)
