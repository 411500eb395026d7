"""The batched variational mixtures (genlab.tables.mixture) equal scikit-learn's BayesianGaussianMixture."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from genlab.tables.mixture import fit_mixtures


def _sklearn(x: np.ndarray, k: int, max_iter: int) -> object:
    from sklearn.mixture import BayesianGaussianMixture

    gm = BayesianGaussianMixture(n_components=k, weight_concentration_prior_type="dirichlet_process",
                                 weight_concentration_prior=0.001, max_iter=max_iter, n_init=1, random_state=0,
                                 reg_covar=1e-6, mean_precision_prior=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.fit(x[:, None])


@pytest.mark.parametrize("max_iter", [100, 7])
def test_batched_mixtures_equal_sklearn(max_iter: int) -> None:
    rng = np.random.default_rng(3)
    cols = [np.concatenate([rng.normal(-2, 0.3, 150), rng.normal(1.5, 0.5, 90)]),  # two clear modes
            rng.exponential(1.0, 240),
            rng.normal(0, 1, 240),
            rng.normal(0, 1, 60),                                    # another length: its own group
            np.repeat([0.0, 1.0, 2.5, 4.0], 20) + rng.normal(0, 1e-3, 80)]
    ks = [10, 10, 10, 10, 4]
    fits = fit_mixtures(cols, ks, seed=0, max_iter=max_iter)
    converged = 0
    for x, k, m in zip(cols, ks, fits, strict=True):
        gm = _sklearn(x, k, max_iter)
        assert m.n_iter == gm.n_iter_ and m.converged == gm.converged_
        np.testing.assert_allclose(m.weights, gm.weights_, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(m.means, gm.means_[:, 0], rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(m.covariances, gm.covariances_[:, 0, 0], rtol=1e-7, atol=1e-12)
        converged += m.converged
    if max_iter == 100:
        assert converged >= 1  # the stopping rule (a column stops on its own) is exercised
        heavy = fits[0].weights > 0.1  # the two clear modes are found
        assert sorted(np.round(fits[0].means[heavy] * 2) / 2) == [-2.0, 1.5]


def test_bad_column() -> None:
    with pytest.raises(ValueError):
        fit_mixtures([np.zeros((3, 2))], [2])
