"""Reading a detector's results: ROC AUC, precision / recall at the threshold, score histogram and ROC PNGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def summary(scores: np.ndarray, flags: np.ndarray, truth: np.ndarray | None) -> dict[str, float]:
    """Counts, and with ground truth (1 = anomaly) ROC AUC, average precision, precision, recall and F1 of the flags."""
    out: dict[str, float] = {"items": int(len(scores)), "flagged": int(flags.sum())}
    if truth is None:
        return out
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = truth.astype(bool)
    out["anomalies"] = int(truth.sum())
    if 0 < truth.sum() < len(truth):
        out["roc_auc"] = float(roc_auc_score(truth, scores))
        out["average_precision"] = float(average_precision_score(truth, scores))
    tp = int((flags.astype(bool) & truth).sum())
    out["precision"] = tp / max(int(flags.sum()), 1)
    out["recall"] = tp / max(int(truth.sum()), 1)
    p, r = out["precision"], out["recall"]
    out["f1"] = 2 * p * r / (p + r) if p + r else 0.0
    return out


def plot_scores(scores: np.ndarray, threshold: float, path: str | Path, truth: np.ndarray | None = None,
                title: str = "") -> Path:
    """Histogram of scores (split into normal / anomaly when ``truth`` is given) with the threshold line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    bins = np.histogram_bin_edges(scores, bins=60).tolist()  # a list: matplotlib's stubs take Sequence[float]
    if truth is None:
        ax.hist(scores, bins=bins, color="tab:blue", alpha=0.8, label="inputs")
    else:
        ax.hist(scores[~truth.astype(bool)], bins=bins, color="tab:blue", alpha=0.6, label="normal")
        ax.hist(scores[truth.astype(bool)], bins=bins, color="tab:red", alpha=0.6, label="anomaly")
    ax.axvline(threshold, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("anomaly score (higher = more unusual)")
    ax.set_ylabel("count")
    ax.set_title(title or "anomaly scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_roc(scores: np.ndarray, truth: np.ndarray, path: str | Path, title: str = "") -> Path:
    """ROC curve with its AUC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    path = Path(path)
    fpr, tpr, _ = roc_curve(truth.astype(bool), scores)
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=110)
    ax.plot(fpr, tpr, color="tab:red", label=f"AUC {roc_auc_score(truth.astype(bool), scores):.4f}")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or "ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
