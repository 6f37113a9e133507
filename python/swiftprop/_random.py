"""The seeded generator shared by the Swift engine and the NumPy reference.

Both backends draw initial weights and shuffling orders from the same
SplitMix64 stream, so a network built with the same ``seed`` starts from the
same weights, and reshuffles in the same order, on either backend.

The Swift twin is ``Sources/SwiftpropCore/SeededGenerator.swift``.
"""

import math
import os

import numpy as np

__all__ = ["SplitMix64", "new_seed"]

_MASK = (1 << 64) - 1


def new_seed():
    """Return a fresh 63-bit seed from the operating system's entropy."""
    return int.from_bytes(os.urandom(8), "little") >> 1


class SplitMix64:
    """SplitMix64 pseudo-random generator (Steele, Lea and Flood, 2014).

    Parameters
    ----------
    seed : int
        Any integer; it is reduced modulo 2**64.
    """

    def __init__(self, seed):
        self.state = int(seed) & _MASK

    def next_uint64(self):
        """Return the next 64-bit unsigned integer."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def uniform(self):
        """Return a float in [0, 1) with 53 random bits."""
        return (self.next_uint64() >> 11) * (1.0 / 9007199254740992.0)

    def uniforms(self, count):
        """Return the next ``count`` uniform draws as a float64 ndarray:
        what ``count`` calls of ``uniform`` return, computed at once (the
        k-th state is the current one plus k times the increment)."""
        steps = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(self.state) + steps * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        self.state = (self.state + count * 0x9E3779B97F4A7C15) & _MASK
        return (z >> np.uint64(11)).astype(np.float64) * (
            1.0 / 9007199254740992.0)

    def below(self, n):
        """Return an integer in [0, n) (the high word of a 64x64 product)."""
        return (self.next_uint64() * n) >> 64

    def normal(self):
        """Return a standard normal draw (Box-Muller, cosine branch only)."""
        u1 = 1.0 - self.uniform()  # in (0, 1], so log(u1) is finite
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def permutation(self, n):
        """Return a Fisher-Yates shuffle of ``range(n)`` as a list."""
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            order[i], order[j] = order[j], order[i]
        return order
