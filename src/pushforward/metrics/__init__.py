"""Metrics: pure functions of `[n, d]` point sets that return floats (or small dicts of floats).

Distances between sample sets (MMD, energy, sliced / exact / entropic Wasserstein, Fréchet),
mode coverage, distance to a known manifold, k-NN precision / recall / density / coverage, and
intrinsic dimension. O(n²) computations run in row chunks; every random draw takes a generator.
"""

from pushforward.metrics.distances import (
    DEFAULT_BANDWIDTHS,
    KERNELS,
    energy_distance,
    gaussian_w2,
    mmd,
    sinkhorn,
    sliced_wasserstein,
    wasserstein2,
)
from pushforward.metrics.frechet import frechet_distance, gaussian_fit
from pushforward.metrics.intrinsic_dim import (
    covariance_rank,
    covariance_spectrum,
    mle_dimension,
    pca_dimension,
    twonn_dimension,
)
from pushforward.metrics.manifold import HasDistance, manifold_report
from pushforward.metrics.modes import (
    class_accuracy,
    dominant_mode_mass,
    mode_assignment,
    mode_masses,
    mode_report,
    modes_covered,
    off_mode_share,
)
from pushforward.metrics.precision_recall import density_coverage, precision_recall

__all__ = [
    "class_accuracy",
    "DEFAULT_BANDWIDTHS",
    "KERNELS",
    "mmd",
    "energy_distance",
    "sliced_wasserstein",
    "sinkhorn",
    "wasserstein2",
    "gaussian_w2",
    "gaussian_fit",
    "frechet_distance",
    "mode_assignment",
    "mode_masses",
    "modes_covered",
    "dominant_mode_mass",
    "off_mode_share",
    "mode_report",
    "HasDistance",
    "manifold_report",
    "precision_recall",
    "density_coverage",
    "covariance_spectrum",
    "covariance_rank",
    "pca_dimension",
    "mle_dimension",
    "twonn_dimension",
]
