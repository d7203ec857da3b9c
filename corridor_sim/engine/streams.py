"""Random-number streams: one numpy Generator per replication and named purpose.

A stream is keyed by (seed, replication, crc32(name)) through SeedSequence's spawn_key, so it does
not depend on how many other streams exist or in what order they were made: adding a flow leaves
every other flow's arrivals and every facility's service times unchanged. That makes paired
comparisons between scenarios sharp (common random numbers) and makes a replication the same
whether it runs serially, in a process pool or on Dask.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The Generator for one purpose (e.g. 'arrivals:IN-RU', 'handling:ASI') of one replication."""
    key = (int(replication), zlib.crc32(name.encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=key))
