"""How good and how safe are synthetic rows: fidelity, detection, utility (TSTR) and privacy.

Fidelity (SDMetrics-style scores in [0, 1], 1 = identical):

- column shape: 1 - KS statistic (the largest gap between the two empirical CDFs) for numeric
  columns, missing values counted as one value below every number (a wrong missing share costs as
  much as shifted numbers), 1 - total variation distance (half the L1 distance of the category shares) for
  categorical ones;
- column pair trend: 1 - |r_real - r_syn| / 2 for two numeric columns (Pearson r); for any pair with
  a categorical column, 1 - TVD of the joint shares of the two columns (contingency similarity,
  numeric columns cut into 10 bins at the real quantiles);
- overall: the mean of the mean shape score and the mean pair score.

Detection: ROC AUC of a gradient-boosting classifier telling real training rows from as many
synthetic rows, 3-fold cross-validated (0.5 = indistinguishable, 1 = always told apart).

Utility (train on synthetic, test on real): a gradient-boosting model predicts the target column,
once trained on synthetic rows and once on the real training rows, both scored on the held-out
real rows (macro F1 for a categorical target, R^2 for a numeric one), and their ratio.

Privacy, with the Gower distance (numeric columns as |a - b| / training range, categorical as
0 / 1 mismatch, averaged over columns):

- DCR: each synthetic row's distance to its closest training row, next to the same distance for
  held-out real rows (synthetic rows much closer than held-out rows are copies in disguise);
- exact copies: the share of synthetic rows equal to a training row (DCR 0);
- closer-to-training share: among an equal number of training and held-out rows, the share of
  synthetic rows whose closest row is a training row (0.5 = no leak);
- membership inference: ROC AUC of telling training rows from held-out rows by their distance to
  the closest synthetic row (0.5 = an attacker learns nothing).
"""
from __future__ import annotations

import base64
import html
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from genlab.errors import DataError
from genlab.io import atomic_write_json

NUMERIC = ("continuous", "integer", "datetime")


# --- scores on plain arrays (tested by hand) ----------------------------------------------------
def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """max_x |F_a(x) - F_b(x)| of the two empirical CDFs (two-sample Kolmogorov-Smirnov)."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    if not len(a) or not len(b):
        return 1.0
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def ks_with_missing(a: Any, b: Any) -> float:
    """The KS statistic of two numeric columns whose missing values (NaN) count as one value below every
    number: each CDF starts with a jump of its missing share, so a column that drops or invents missing
    values is penalized as much as one that shifts its numbers. Without missing values it is
    :func:`ks_statistic`; a side with no numbers at all is a CDF that is 1 from the start."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        return 1.0
    ma, mb = np.isnan(a).mean(), np.isnan(b).mean()
    pa, pb = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    grid = np.concatenate([pa, pb])
    if not len(grid):
        return 0.0

    def cdf(present: np.ndarray, missing: float) -> np.ndarray:
        if not len(present):
            return np.ones(len(grid))
        return missing + (1.0 - missing) * np.searchsorted(present, grid, side="right") / len(present)

    return float(max(abs(ma - mb), np.abs(cdf(pa, ma) - cdf(pb, mb)).max()))


def tv_distance(a: Any, b: Any) -> float:
    """Half the L1 distance between the category shares of two columns (0 = same shares)."""
    a, b = [str(v) for v in a], [str(v) for v in b]
    cats = sorted(set(a) | set(b))
    pa = np.array([a.count(c) for c in cats], dtype=np.float64) / max(len(a), 1)
    pb = np.array([b.count(c) for c in cats], dtype=np.float64) / max(len(b), 1)
    return float(0.5 * np.abs(pa - pb).sum())


def correlation_similarity(real_x: np.ndarray, real_y: np.ndarray, syn_x: np.ndarray, syn_y: np.ndarray) -> float:
    """1 - |r_real - r_syn| / 2 with Pearson's r (a constant column, or fewer than two rows with both
    values present, counts as r = 0)."""
    def r(x: np.ndarray, y: np.ndarray) -> float:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if len(x) < 2 or x.std() == 0 or y.std() == 0:
            return 0.0
        return float(np.corrcoef(x, y)[0, 1])
    return 1.0 - abs(r(real_x, real_y) - r(syn_x, syn_y)) / 2.0


def contingency_similarity(real_a: Any, real_b: Any, syn_a: Any, syn_b: Any) -> float:
    """1 - TVD between the joint shares of two (categorical) columns in real and synthetic rows."""
    return 1.0 - tv_distance([f"{x}\x1f{y}" for x, y in zip(real_a, real_b, strict=True)],
                             [f"{x}\x1f{y}" for x, y in zip(syn_a, syn_b, strict=True)])


def dcr(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance of each row to its closest reference row (L1 on Gower-encoded rows, / columns)."""
    from sklearn.neighbors import NearestNeighbors

    nn_ = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(reference)
    return nn_.kneighbors(rows, return_distance=True)[0][:, 0]


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + 1/2 P(tie): the ROC AUC."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(y, np.r_[positive, negative]))


# --- column views -------------------------------------------------------------------------------
class Columns:
    """The report's view of a table: numeric columns as floats (NaN = missing), others as strings."""

    def __init__(self, kinds: dict[str, str], reference: Any):
        self.kinds = kinds
        self.numeric = [c for c, k in kinds.items() if k in NUMERIC]
        self.discrete = [c for c, k in kinds.items() if k not in NUMERIC]
        ref = self.values(reference)
        self.low = {c: np.nanmin(ref[c]) for c in self.numeric}
        self.span = {c: (np.nanmax(ref[c]) - np.nanmin(ref[c])) or 1.0 for c in self.numeric}
        self.mean = {c: np.nanmean(ref[c]) for c in self.numeric}
        self.categories = {c: sorted(set(ref[c])) for c in self.discrete}

    def values(self, frame: Any) -> dict[str, np.ndarray]:
        import pandas as pd

        out = {}
        for c, k in self.kinds.items():
            s = frame[c]
            if k == "datetime":
                t = pd.to_datetime(s, format="ISO8601") if not pd.api.types.is_datetime64_any_dtype(s) else s
                v = t.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64) / 1e9
                v[pd.isna(t).to_numpy()] = np.nan
                out[c] = v
            elif k in NUMERIC:
                out[c] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            else:
                out[c] = np.array(["<missing>" if pd.isna(v) else str(v) for v in s.to_numpy(dtype=object)],
                                  dtype=object)
        return out

    def gower(self, frame: Any) -> np.ndarray:
        """Rows encoded so that L1 distance / number of columns is the Gower distance."""
        v = self.values(frame)
        parts = []
        for c in self.numeric:
            x = v[c]
            missing = np.isnan(x)
            parts.append(np.where(missing, 0.0, (x - self.low[c]) / self.span[c])[:, None])
            if missing.any() or c in getattr(self, "_missing", ()):
                parts.append(missing[:, None].astype(np.float64))
        for c in self.discrete:
            cats = self.categories[c]
            index = {k: i for i, k in enumerate(cats)}
            onehot = np.zeros((len(v[c]), len(cats) + 1))
            onehot[np.arange(len(v[c])), [index.get(x, len(cats)) for x in v[c]]] = 0.5  # mismatch adds 1
            parts.append(onehot)
        return np.concatenate(parts, axis=1) / max(len(self.kinds), 1)

    def features(self, frame: Any) -> np.ndarray:
        """Features for the classifiers: numeric values (NaN kept) and one-hot categories."""
        v = self.values(frame)
        parts = [v[c][:, None] for c in self.numeric]
        for c in self.discrete:
            cats = self.categories[c]
            index = {k: i for i, k in enumerate(cats)}
            onehot = np.zeros((len(v[c]), len(cats) + 1))
            onehot[np.arange(len(v[c])), [index.get(x, len(cats)) for x in v[c]]] = 1.0
            parts.append(onehot)
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))


# --- the four parts -------------------------------------------------------------------------------
def fidelity(cols: Columns, real: Any, syn: Any, max_pairs: int = 400, seed: int = 0) -> dict[str, Any]:
    rv, sv = cols.values(real), cols.values(syn)
    shapes = {}
    for c in cols.kinds:
        if c in cols.numeric:
            shapes[c] = {"metric": "ks", "score": 1.0 - ks_with_missing(rv[c], sv[c])}
        else:
            shapes[c] = {"metric": "tv", "score": 1.0 - tv_distance(rv[c], sv[c])}
    binned_r, binned_s = {}, {}
    for c in cols.kinds:
        if c in cols.numeric:
            present = rv[c][~np.isnan(rv[c])]
            edges = np.unique(np.quantile(present, np.linspace(0, 1, 11)[1:-1])) if len(present) else np.array([])
            binned_r[c] = np.where(np.isnan(rv[c]), -1, np.searchsorted(edges, rv[c], side="right"))
            binned_s[c] = np.where(np.isnan(sv[c]), -1, np.searchsorted(edges, sv[c], side="right"))
        else:
            binned_r[c], binned_s[c] = rv[c], sv[c]
    pairs = list(itertools.combinations(list(cols.kinds), 2))
    if len(pairs) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)
        pairs = [pairs[i] for i in sorted(pick)]
    pair_scores = []
    for a, b in pairs:
        if a in cols.numeric and b in cols.numeric:
            keep_r = ~np.isnan(rv[a]) & ~np.isnan(rv[b])
            keep_s = ~np.isnan(sv[a]) & ~np.isnan(sv[b])
            score = correlation_similarity(rv[a][keep_r], rv[b][keep_r], sv[a][keep_s], sv[b][keep_s])
            metric = "correlation"
        else:
            score = contingency_similarity(binned_r[a], binned_r[b], binned_s[a], binned_s[b])
            metric = "contingency"
        pair_scores.append({"columns": [a, b], "metric": metric, "score": score})
    shape_mean = float(np.mean([s["score"] for s in shapes.values()]))
    pair_mean = float(np.mean([p["score"] for p in pair_scores])) if pair_scores else shape_mean
    return {"column_shapes": shapes, "column_pairs": pair_scores, "column_shape_score": shape_mean,
            "column_pair_score": pair_mean, "overall": (shape_mean + pair_mean) / 2}


def detection(cols: Columns, real: Any, syn: Any, seed: int = 0, max_rows: int = 5000) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(real), len(syn), max_rows)
    xr = cols.features(real.iloc[rng.choice(len(real), n, replace=False)])
    xs = cols.features(syn.iloc[rng.choice(len(syn), n, replace=False)])
    x, y = np.r_[xr, xs], np.r_[np.ones(n), np.zeros(n)]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    p = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
    auc = roc_auc(p[y == 1], p[y == 0])
    return {"classifier": "HistGradientBoostingClassifier, 3-fold", "rows_each": int(n), "auc": auc,
            "score": 1.0 - 2 * abs(max(auc, 0.5) - 0.5)}


def utility(cols: Columns, target: str, train: Any, syn: Any, test: Any, seed: int = 0) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    if target not in cols.kinds:
        raise DataError(f"target column '{target}' is not in the table; columns: {', '.join(cols.kinds)}")
    feats = Columns({c: k for c, k in cols.kinds.items() if c != target}, train)
    x_train, x_syn, x_test = feats.features(train), feats.features(syn), feats.features(test)
    classify = target not in cols.numeric
    yv = {name: cols.values(f)[target] for name, f in (("train", train), ("syn", syn), ("test", test))}

    def fit_score(x: np.ndarray, y: np.ndarray) -> float:
        if classify:
            if len(set(y)) < 2:  # one class only: predict it
                pred = np.full(len(x_test), y[0], dtype=object)
            else:
                pred = HistGradientBoostingClassifier(max_iter=200, random_state=seed).fit(x, y).predict(x_test)
            return float(f1_score(yv["test"].astype(str), np.asarray(pred).astype(str), average="macro"))
        keep = ~np.isnan(y)
        model = HistGradientBoostingRegressor(max_iter=200, random_state=seed).fit(x[keep], y[keep])
        test_keep = ~np.isnan(yv["test"])
        return float(r2_score(yv["test"][test_keep], model.predict(x_test[test_keep])))

    real_score, syn_score = fit_score(x_train, yv["train"]), fit_score(x_syn, yv["syn"])
    return {"target": target, "task": "classification" if classify else "regression",
            "metric": "macro_f1" if classify else "r2", "model": "HistGradientBoosting",
            "real": real_score, "synthetic": syn_score,
            "ratio": syn_score / real_score if real_score > 0 else None, "test_rows": int(len(test))}


def privacy(cols: Columns, train: Any, syn: Any, holdout: Any, seed: int = 0, max_rows: int = 5000) -> dict[str, Any]:
    rng = np.random.default_rng(seed)

    def pick(frame: Any, n: int) -> Any:
        return frame if len(frame) <= n else frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]

    g_train = cols.gower(train)
    g_syn = cols.gower(pick(syn, max_rows))
    g_hold = cols.gower(pick(holdout, max_rows))
    d_syn, d_hold = dcr(g_syn, g_train), dcr(g_hold, g_train)
    m = min(len(g_hold), len(g_train))
    train_eq = g_train[rng.choice(len(g_train), m, replace=False)]
    closer = float(np.mean(dcr(g_syn, train_eq) < dcr(g_syn, g_hold[:m]))) if m else None
    members = dcr(train_eq, g_syn)
    outsiders = dcr(g_hold[:m], g_syn)
    return {"distance": "gower", "dcr_synthetic_median": float(np.median(d_syn)),
            "dcr_synthetic_p5": float(np.quantile(d_syn, 0.05)),
            "dcr_holdout_median": float(np.median(d_hold)), "dcr_holdout_p5": float(np.quantile(d_hold, 0.05)),
            "exact_copies": float(np.mean(d_syn < 1e-12)), "holdout_exact_copies": float(np.mean(d_hold < 1e-12)),
            "closer_to_training_share": closer,
            "membership_inference_auc": roc_auc(-members, -outsiders) if m else None}


def _finite(obj: Any) -> Any:
    """The report as plain JSON: numpy numbers as Python ones, a score that is not a number as null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# --- plots and the page ---------------------------------------------------------------------------
def _plots(cols: Columns, real: Any, syn: Any, out: Path, max_columns: int = 40) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rv, sv = cols.values(real), cols.values(syn)
    files = []
    (out / "columns").mkdir(parents=True, exist_ok=True)
    for i, c in enumerate(list(cols.kinds)[:max_columns]):
        fig, ax = plt.subplots(figsize=(4.5, 3))
        if c in cols.numeric:
            a, b = rv[c][~np.isnan(rv[c])], sv[c][~np.isnan(sv[c])]
            lo, hi = np.nanmin(np.r_[a, b]), np.nanmax(np.r_[a, b])
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 31).tolist()
            for values, label in ((a, "real"), (b, "synthetic")):
                if len(values):  # a column with no numbers on one side has no histogram there
                    ax.hist(values, bins=bins, alpha=0.5, density=True, label=label)
        else:
            cats = sorted(set(rv[c]) | set(sv[c]))[:30]
            xs = np.arange(len(cats))
            ax.bar(xs - 0.2, [np.mean(rv[c] == k) for k in cats], 0.4, label="real")
            ax.bar(xs + 0.2, [np.mean(sv[c] == k) for k in cats], 0.4, label="synthetic")
            ax.set_xticks(xs, [k[:12] for k in cats], rotation=45, ha="right", fontsize=7)
        ax.set_title(c, fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"columns/{i:02d}.png"
        fig.savefig(out / name, dpi=80)
        plt.close(fig)
        files.append(name)
    if len(cols.numeric) >= 2:
        def corr(v: dict[str, np.ndarray]) -> np.ndarray:
            m = np.stack([np.nan_to_num(v[c], nan=np.nanmean(v[c]) if np.isfinite(v[c]).any() else 0.0)
                          for c in cols.numeric], 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.nan_to_num(np.corrcoef(m, rowvar=False))
        cr, cs = corr(rv), corr(sv)
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
        for ax, m, title, cmap, lim in zip(axes, (cr, cs, np.abs(cr - cs)), ("real", "synthetic", "|difference|"),
                                           ("coolwarm", "coolwarm", "viridis"), ((-1, 1), (-1, 1), (0, 1)),
                                           strict=True):
            im = ax.imshow(m, cmap=cmap, vmin=lim[0], vmax=lim[1])
            ax.set_title(f"correlation: {title}")
            ticks = np.arange(len(cols.numeric))
            labels = [c[:10] for c in cols.numeric] if len(cols.numeric) <= 20 else []
            ax.set_xticks(ticks if labels else [], labels, rotation=90, fontsize=6)
            ax.set_yticks(ticks if labels else [], labels, fontsize=6)
            fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(out / "correlations.png", dpi=80)
        plt.close(fig)
        files.insert(0, "correlations.png")
    return files


def _html(report: dict[str, Any], images: list[str], out: Path) -> None:
    def fmt(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))

    def table(d: dict[str, Any]) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in d.items()
                       if not isinstance(v, (dict, list)))
        return f"<table>{rows}</table>"

    fid = report["fidelity"]
    shapes = "".join(f"<tr><th>{html.escape(c)}</th><td>{s['metric']}</td><td>{s['score']:.4f}</td></tr>"
                     for c, s in fid["column_shapes"].items())
    parts = [f"<h1>Synthetic data report</h1><p>{html.escape(report['synthesizer'])}: {report['model']} fitted on "
             f"{html.escape(report['source'])}; {report['rows']['synthetic']} synthetic rows vs "
             f"{report['rows']['real_train']} real training rows ({report['rows']['real_holdout']} held out).</p>",
             "<h2>Fidelity</h2>", table(fid),
             f"<table><tr><th>column</th><th>metric</th><th>score</th></tr>{shapes}</table>",
             "<h2>Detection</h2>", table(report["detection"])]
    for key, title in (("utility", "Utility (train synthetic, test real)"), ("privacy", "Privacy")):
        parts.append(f"<h2>{title}</h2>")
        parts.append(table(report[key]) if report.get(key)
                     else f"<p>{html.escape(report.get(key + '_note', 'skipped'))}</p>")
    parts.append("<h2>Plots</h2>")
    for name in images:
        data = base64.b64encode((out / name).read_bytes()).decode()
        parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;margin:8px 0}"
             "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:100%;margin:4px}")
    (out / "report.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>genlab synthetic data "
                                     f"report</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def score_rows(kinds: dict[str, str], train: Any, holdout: Any, syn: Any, target: str | None, seed: int = 0,
               note: str = "no held-out rows") -> dict[str, Any]:
    """Every score of synthetic rows ``syn`` against the real ``train`` rows (and ``holdout`` rows,
    which give utility and privacy when there are at least 2). Works for any synthesizer's output."""
    cols = Columns(kinds, train)
    out: dict[str, Any] = {
        "rows": {"synthetic": int(len(syn)), "real_train": int(len(train)), "real_holdout": int(len(holdout))},
        "fidelity": fidelity(cols, train, syn, seed=seed), "detection": detection(cols, train, syn, seed=seed)}
    if len(holdout) >= 2 and target is not None:
        out["utility"] = utility(cols, target, train, syn, holdout, seed=seed)
        out["privacy"] = privacy(cols, train, syn, holdout, seed=seed)
    else:
        out["utility_note"] = out["privacy_note"] = note
    return out


def make_report(synth: Any, real: Any, out: str | Path, n: int | None = None, target: str | None = None,
                seed: int = 0, plots: bool = True) -> dict[str, Any]:
    """The full report of a fitted synthesizer against a real table: report.json, PNGs, report.html.

    When ``real`` is the table the synthesizer was fitted on, its held-out rows are known and
    utility and privacy are computed; for another table only fidelity and detection are.
    """
    from genlab.data.tables import load_table
    from genlab.tables.synthesizer import fingerprint

    synth._require_fitted()
    table = load_table(real)
    frame = table.frame
    tr = synth.transformer
    tr.check_columns(frame, table.name)
    frame = frame[tr.names]
    kinds = {c.name: c.kind for c in tr.columns}
    same = fingerprint(frame) == synth.state.get("fingerprint")
    hold_idx = np.array(synth.state.get("holdout_rows", []), dtype=np.int64) if same else np.array([], dtype=np.int64)
    mask = np.zeros(len(frame), dtype=bool)
    mask[hold_idx] = True
    train, holdout = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    n = len(train) if n is None else n
    syn = synth.sample(n, seed=seed)
    report: dict[str, Any] = {
        "synthesizer": "genlab", "model": synth.config.model, "source": synth.state.get("source", "?"),
        "real": table.name, "train_seconds": synth.state.get("train_seconds")}
    note = ("the real table is not the one the synthesizer was fitted on, so its held-out rows are unknown"
            if not same else "the synthesizer was fitted with no held-out rows (holdout 0)")
    report.update(score_rows(kinds, train, holdout, syn, target or synth.state.get("target"), seed, note))
    cols = Columns(kinds, train)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = _plots(cols, train, syn, out) if plots else []
    report["images"] = images
    atomic_write_json(out / "report.json", _finite(report))
    _html(report, images, out)
    return report


__all__ = ["Columns", "contingency_similarity", "correlation_similarity", "dcr", "detection", "fidelity",
           "ks_statistic", "ks_with_missing", "make_report", "privacy", "roc_auc", "score_rows", "tv_distance",
           "utility"]
