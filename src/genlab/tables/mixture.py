"""Variational Dirichlet-process Gaussian mixtures of many 1-D columns at once.

The same model, initialisation and updates as scikit-learn's ``BayesianGaussianMixture``
(``weight_concentration_prior_type='dirichlet_process'``, ``covariance_type='full'``,
``init_params='kmeans'``, ``n_init=1``; Bishop's variational EM with a Gaussian-Wishart prior and
a stick-breaking prior on the weights), for one-dimensional data only, written for a stack of
columns: every E and M step is a few numpy operations on (columns, rows, components) arrays, so
a table's 30 columns cost about what one costs. scikit-learn's per-iteration Python overhead
(per-component Cholesky factorizations and input checks, ~1 ms an iteration) was most of a small
table's fit time (3 s of 30 columns x 100 iterations on breast cancer). Each column stops where
scikit-learn's would (change of the lower bound below ``tol``, or ``max_iter``); the initial
responsibilities are scikit-learn's KMeans labels with the same seed, so the fitted weights,
means and variances equal scikit-learn's to rounding (tests/tables/test_mixture.py checks this).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function (torch's, in float64: scipy is not a core dependency)."""
    import torch

    return torch.special.digamma(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()


def gammaln(x: np.ndarray) -> np.ndarray:
    import torch

    return torch.lgamma(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()


def betaln(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gammaln(a) + gammaln(b) - gammaln(a + b)


@dataclass
class Mixture:
    """One column's fitted mixture (scikit-learn's weights_, means_[:, 0], covariances_[:, 0, 0])."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    n_iter: int
    converged: bool


def _kmeans_resp(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """scikit-learn's 'kmeans' initial responsibilities (n, k) of one column."""
    import warnings

    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few distinct values: fewer clusters found, as in scikit-learn
        labels = KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(x[:, None]).labels_
    resp = np.zeros((x.size, k))
    resp[np.arange(x.size), labels] = 1.0
    return resp


class _Group:
    """Columns of the same length and component count, fitted together (arrays (C, n[, k]))."""

    def __init__(self, x: np.ndarray, wcp: float, mpp: float, reg_covar: float):
        self.x, self.wcp, self.mpp, self.reg = x, wcp, mpp, reg_covar
        self.m0 = x.mean(1)                                  # mean prior (C,)
        self.cov0 = x.var(1, ddof=1)                         # covariance prior: np.cov of the column

    def m_step(self, x: np.ndarray, resp: np.ndarray, m0: np.ndarray, cov0: np.ndarray) -> dict[str, np.ndarray]:
        nk = resp.sum(1) + 10 * EPS                          # (C, k)
        xk = np.einsum("cn,cnk->ck", x, resp) / nk
        sk = np.einsum("cnk,cnk->ck", resp, (x[:, :, None] - xk[:, None, :]) ** 2) / nk + self.reg
        tail = np.cumsum(nk[:, ::-1], axis=1)[:, -2::-1]     # sum of nk over the later components
        wc1 = self.wcp + np.concatenate([tail, np.zeros((nk.shape[0], 1))], 1)
        mp = self.mpp + nk
        means = (self.mpp * m0[:, None] + nk * xk) / mp
        dof = 1.0 + nk
        cov = (cov0[:, None] + nk * sk + nk * self.mpp / mp * (xk - m0[:, None]) ** 2) / dof
        return {"wc0": 1.0 + nk, "wc1": wc1, "mp": mp, "means": means, "dof": dof, "cov": cov}

    @staticmethod
    def e_step(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        """log responsibilities (C, n, k)."""
        pc = 1.0 / np.sqrt(p["cov"])                         # precision Cholesky factor
        y = (x[:, :, None] - p["means"][:, None, :]) * pc[:, None, :]
        log_gauss = -0.5 * (math.log(2 * math.pi) + y ** 2) + (np.log(pc) - 0.5 * np.log(p["dof"]))[:, None, :]
        log_lambda = math.log(2.0) + digamma(0.5 * p["dof"])
        ds = digamma(p["wc0"] + p["wc1"])
        steps = np.cumsum(digamma(p["wc1"]) - ds, axis=1)[:, :-1]
        log_w = digamma(p["wc0"]) - ds + np.concatenate([np.zeros((ds.shape[0], 1)), steps], 1)
        weighted = log_gauss + (0.5 * (log_lambda - 1.0 / p["mp"]) + log_w)[:, None, :]
        top = weighted.max(2, keepdims=True)
        return weighted - (np.log(np.exp(weighted - top).sum(2, keepdims=True)) + top)

    @staticmethod
    def lower_bound(log_resp: np.ndarray, resp: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        dof = p["dof"]
        log_det = -0.5 * np.log(p["cov"]) - 0.5 * np.log(dof)
        log_wishart = -(dof * log_det + dof * 0.5 * math.log(2.0) + gammaln(0.5 * dof)).sum(1)
        log_norm_weight = -betaln(p["wc0"], p["wc1"]).sum(1)
        entropy = -np.einsum("cnk,cnk->c", resp, log_resp)
        return entropy - log_wishart - log_norm_weight - 0.5 * np.log(p["mp"]).sum(1)


def fit_mixtures(columns: list[np.ndarray], components: list[int], seed: int = 0, max_iter: int = 100,
                 tol: float = 1e-3, weight_concentration_prior: float = 1e-3, mean_precision_prior: float = 1e-3,
                 reg_covar: float = 1e-6) -> list[Mixture]:
    """Fit one mixture per 1-D column (``columns[i]`` with ``components[i]`` components), as
    ``BayesianGaussianMixture(n_components=components[i], weight_concentration_prior_type=
    'dirichlet_process', weight_concentration_prior=..., mean_precision_prior=..., reg_covar=...,
    max_iter=..., tol=..., random_state=seed).fit(column[:, None])`` would."""
    out: list[Mixture | None] = [None] * len(columns)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (x, k) in enumerate(zip(columns, components, strict=True)):
        if x.ndim != 1 or x.size < max(k, 2):
            raise ValueError("each column must be 1-D with at least max(2, components) values")
        groups.setdefault((x.size, int(k)), []).append(i)
    for (_, k), idx in groups.items():
        x = np.stack([np.asarray(columns[i], dtype=np.float64) for i in idx])
        g = _Group(x, weight_concentration_prior, mean_precision_prior, reg_covar)
        resp = np.stack([_kmeans_resp(x[c], k, seed) for c in range(len(idx))])
        p = g.m_step(x, resp, g.m0, g.cov0)
        bound = np.full(len(idx), -np.inf)
        n_iter = np.zeros(len(idx), dtype=int)
        active = np.ones(len(idx), dtype=bool)
        for it in range(1, max_iter + 1):
            a = np.flatnonzero(active)
            if not a.size:
                break
            pa = {key: v[a] for key, v in p.items()}
            log_resp = g.e_step(x[a], pa)
            resp = np.exp(log_resp)
            new = g.m_step(x[a], resp, g.m0[a], g.cov0[a])
            lb = g.lower_bound(log_resp, resp, new)
            for key, v in new.items():
                p[key][a] = v
            done = np.abs(lb - bound[a]) < tol
            bound[a], n_iter[a] = lb, it
            active[a[done]] = False
        total = p["wc0"] + p["wc1"]
        w = p["wc0"] / total * np.concatenate([np.ones((len(idx), 1)), np.cumprod(p["wc1"] / total, 1)[:, :-1]], 1)
        w /= w.sum(1, keepdims=True)
        for c, i in enumerate(idx):
            out[i] = Mixture(w[c], p["means"][c].copy(), p["cov"][c].copy(), int(n_iter[c]), not bool(active[c]))
    return [m for m in out if m is not None]


__all__ = ["Mixture", "fit_mixtures"]
