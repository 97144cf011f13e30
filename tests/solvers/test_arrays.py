"""solvers.arrays: the sort-based distinct values the solvers use instead of np.unique."""

import numpy as np

from sourcing_engine.solvers.arrays import unique


def test_unique_matches_numpy_on_random_keys() -> None:
    """Same values as np.unique, sorted, on seeded random keys with many repeats."""
    rng = np.random.default_rng(7)
    for size, high in ((0, 1), (1, 5), (1000, 30), (50_000, 10**7)):
        keys = rng.integers(0, high, size).astype(np.int64)
        assert np.array_equal(unique(keys), np.unique(keys))


def test_unique_flattens() -> None:
    """A 2-d array gives the distinct values of all its entries, as np.unique does."""
    keys = np.array([[3, 1, 3], [2, 1, 9]], dtype=np.int64)
    assert unique(keys).tolist() == [1, 2, 3, 9]
