"""Does augmenting a small labelled table with synthetic rows help a classifier? Measured.

For each seed: hold out ``test_fraction`` of the table (stratified by the label) as the test set;
draw ``n_real`` labelled rows from the rest; train a gradient-boosting classifier on (a) those
rows, (b) those rows plus ``n_synth`` rows from a synthesizer fitted on the same rows only and
sampled conditioned on the label (each class in its real share), and (c) the synthetic rows
alone; report the test accuracy of each, and (b) - (a), over the seeds.
"""
from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from genlab.data.tables import load_table
from genlab.errors import DataError
from genlab.tables.report import Columns
from genlab.tables.synthesizer import Synthesizer
from genlab.tables.transformer import DISCRETE_KINDS, TableTransformer


def _stratified(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of about ``fraction`` of the rows of every label."""
    picked = []
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        k = max(1, int(round(len(rows) * fraction)))
        picked.append(rng.choice(rows, min(k, len(rows) - 1) if len(rows) > 1 else 0, replace=False))
    return np.sort(np.concatenate(picked))


def _accuracy(cols: Columns, target: str, train: Any, test: Any, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    y_train = cols.values(train)[target].astype(str)
    y_test = cols.values(test)[target].astype(str)
    if len(set(y_train)) < 2:
        return float(np.mean(y_test == y_train[0]))
    feats = Columns({c: k for c, k in cols.kinds.items() if c != target}, train)
    clf = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    clf.fit(feats.features(train), y_train)
    return float(np.mean(clf.predict(feats.features(test)) == y_test))


def augment_table(data: Any, target: str, model: str = "ctgan", n_real: int = 100, n_synth: int = 500,
                  seeds: tuple[int, ...] = (0, 1, 2), epochs: int = 300, test_fraction: float = 0.3,
                  metadata: Any = None, model_config: dict | None = None, train: dict | None = None) -> dict[str, Any]:
    """Accuracy with and without synthetic rows; see the module docstring."""
    if n_real < 4 or n_synth < 1:
        raise DataError(f"n_real must be at least 4 and n_synth at least 1, got {n_real} and {n_synth}")
    source = load_table(data)
    frame = source.frame
    if target not in frame.columns:
        raise DataError(f"{source.name} has no column '{target}'; columns: {', '.join(map(str, frame.columns))}")
    fitted = TableTransformer().fit(frame, {**source.kinds, **(metadata or {})}, source.name)
    kinds = {c.name: c.kind for c in fitted.columns}
    if kinds[target] not in DISCRETE_KINDS:
        raise DataError(f"augmentation trains a classifier: the label '{target}' must be categorical or boolean, "
                        f"not {kinds[target]} (set it in the metadata)")
    labels = np.array([str(v) for v in frame[target]])
    runs = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        test_idx = _stratified(labels, test_fraction, rng)
        rest = np.setdiff1d(np.arange(len(frame)), test_idx)
        if len(rest) < n_real:
            raise DataError(f"{source.name}: {len(rest)} rows remain after the test split, fewer than n_real {n_real}")
        real_idx = np.sort(rng.choice(rest, n_real, replace=False))
        real, test = frame.iloc[real_idx].reset_index(drop=True), frame.iloc[test_idx].reset_index(drop=True)
        synth = Synthesizer(model, metadata={"columns": kinds}, epochs=epochs, batch_size=min(500, n_real),
                            holdout=0.0, seed=seed, model_config=model_config or {}, train=train or {})
        synth.fit(real, target=target)
        shares = real[target].astype(str).value_counts(normalize=True)
        parts = []
        for value, share in shares.items():
            k = int(round(n_synth * share))
            if k:
                parts.append(synth.sample(k, conditions={target: value}, seed=seed))
        import pandas as pd

        fake = pd.concat(parts, ignore_index=True)
        cols = Columns(kinds, real)
        acc_real = _accuracy(cols, target, real, test, seed)
        acc_aug = _accuracy(cols, target, pd.concat([real, fake], ignore_index=True), test, seed)
        acc_syn = _accuracy(cols, target, fake, test, seed)
        runs.append({"seed": seed, "real": acc_real, "augmented": acc_aug, "synthetic_only": acc_syn,
                     "gain": acc_aug - acc_real, "train_seconds": synth.state["train_seconds"]})

    def stats(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    return {"data": source.name, "target": target, "model": model, "n_real": n_real, "n_synth": n_synth,
            "epochs": epochs, "test_rows": int(len(test_idx)), "classifier": "HistGradientBoostingClassifier",
            "runs": runs, **{k: stats(k) for k in ("real", "augmented", "synthetic_only", "gain")}}


__all__ = ["augment_table"]
