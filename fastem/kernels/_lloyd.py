"""k-means' hard-assignment pass (placeholder until the k-means split lands)."""

from .._kernels.kmeans import LloydStep, lloyd_step

__all__ = ["LloydStep", "lloyd_step"]
