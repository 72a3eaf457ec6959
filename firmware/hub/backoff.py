"""Jittered exponential backoff shared by the cloud link and the task supervisor."""

import random


class Backoff:
    """Delays that double from min_ms up to max_ms, each drawn in [d/2, d] ("equal jitter")."""

    def __init__(self, min_ms, max_ms):
        self.min_ms = max(1, min_ms)
        self.max_ms = max(self.min_ms, max_ms)
        self.attempt = 0

    def ceiling_ms(self):
        """The un-jittered delay for the next attempt."""
        d = self.min_ms
        for _ in range(self.attempt):
            d *= 2
            if d >= self.max_ms:
                return self.max_ms
        return d

    def next_ms(self):
        """The delay to wait before the next attempt; grows with each call until reset()."""
        d = self.ceiling_ms()
        self.attempt += 1
        half = d // 2
        # Jitter spreads reconnects of a fleet that lost the cloud at the same moment.
        return half + random.randint(0, d - half)

    def reset(self):
        """Back to min_ms after a success."""
        self.attempt = 0
