"""Hard-assignment (Lloyd) statistics for k-means, compiled.

One pass over the rows does all O(n) work of a Lloyd iteration (Lloyd 1982):
the nearest center of every row and the per-cluster weighted sums and weights
from which the next centers follow. The modules, by job:

- :mod:`.tiles`: the float64/float32 distance tiles that find the nearest
  center (and runner-up) of every row of a block, with the float32 error bound
  (the plain float64 tile is written out in :mod:`.lloyd`);
- :mod:`.lloyd`: the full pass (every row against every center), the distances
  to the assigned centers (exact inertia), the distance matrix and
  :func:`is_same_clustering`;
- :mod:`.bounded`: the bounded pass, which skips the rows whose Hamerly bounds
  prove their label (Hamerly 2010);
- :mod:`.state`: the sums and bounds carried from one pass to the next;
- :mod:`.seeding`: the k-means++ pass over data too large for NumPy's way.

Arrays in, arrays out: nothing here validates its input. The public, validated
functions are in :mod:`fastem.kernels._lloyd`.
"""

from .bounded import WINDOW_BLOCKS, lloyd_bounded_chunks
from .lloyd import assigned_sq_distances, distances, is_same_clustering, lloyd_chunks
from .state import LloydBounds, LloydSums, center_geometry
from .tiles import GROUP, block_rows

__all__ = [
    "GROUP",
    "LloydBounds",
    "LloydSums",
    "WINDOW_BLOCKS",
    "assigned_sq_distances",
    "block_rows",
    "center_geometry",
    "distances",
    "is_same_clustering",
    "lloyd_bounded_chunks",
    "lloyd_chunks",
]
