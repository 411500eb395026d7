"""Anomaly detection benchmarks: one-class MNIST (Ruff et al. 2018), breast cancer, a statsmodels series.

    python benchmarks/anomaly.py mnist --detectors conv-ae vae --seeds 0 1 2 --jobs 2
    python benchmarks/anomaly.py table --seeds 0 1 2
    python benchmarks/anomaly.py series --seeds 0 1 2
    python benchmarks/anomaly.py report            # markdown tables from every finished run

One-class MNIST (the Deep SVDD protocol): for each digit d, fit on the training images of d only
(genlab's MNIST train split, about 5k images), score all 10,000 test images, and report the ROC AUC
of "not d" against the scores. Images are used as stored in [0, 1] (no global contrast
normalization). Each detector is :class:`genlab.anomaly.AnomalyDetector` with the settings in
``DETECTORS``, one CPU thread per run, ``--jobs`` runs side by side.

Table: scikit-learn's breast cancer data (569 rows, 30 numeric features); benign (target 1) is
normal. A stratified split keeps 30% of the benign rows and all malignant rows for testing; the
detector and scikit-learn's IsolationForest are fitted on the remaining benign rows only. ROC AUC on
the test rows, over ``--seeds`` splits.

Series: the statsmodels El Nino series (monthly sea surface temperature 1950-2010, 732 steps).
The first 60% (in time order) is the normal training part; the rest is the test part, into which
anomalies are injected (``inject``): 6 spikes (one step moved by +-4 standard deviations of the
training part, sign at random) and 2 level shifts (12 consecutive steps moved by +2.5 standard
deviations), at random non-overlapping positions drawn from the seed. Per time step: ROC AUC of the
detector's per-step scores, and precision / recall of its flags at the threshold calibrated on
held-out normal steps (the last 10% of the training part).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

# name -> (detector fields); every one trains on the normal images only
DETECTORS = {
    "conv-ae": {"model": "conv-ae", "score": "mse", "model_config": {"latent_dim": 32},
                "train": {"epochs": 10, "batch_size": 64, "lr": 1e-3, "precision": "bf16"}},
    "vae": {"model": "vae", "score": "elbo", "model_config": {"latent_dim": 16},
            "train": {"epochs": 10, "batch_size": 64, "lr": 1e-3, "precision": "bf16"}},
    "vae-nll": {"model": "vae", "score": "nll", "nll_k": 100, "model_config": {"latent_dim": 16},
                "train": {"epochs": 10, "batch_size": 64, "lr": 1e-3, "precision": "bf16"}},
    "dcgan-disc": {"model": "dcgan", "score": "disc", "train": {"epochs": 30, "batch_size": 64, "precision": "bf16"}},
}
# Ruff et al. 2018, Table 1, one-class Deep SVDD
DEEP_SVDD = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]


def _mnist_one(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from sklearn.metrics import roc_auc_score

    from genlab.anomaly import AnomalyDetector
    from genlab.config import DataConfig
    from genlab.data import load_splits

    out = Path(spec["out"])
    if (out / "result.json").is_file():
        return json.loads((out / "result.json").read_text())
    splits = load_splits(DataConfig("mnist"))
    fields = {**DETECTORS[spec["detector"]], "seed": spec["seed"]}
    fields["train"] = {**fields["train"], "seed": spec["seed"], "device": "cpu", **spec.get("train", {})}
    t0 = time.perf_counter()
    det = AnomalyDetector(fields).fit(splits.train.images(slice(None)), labels=splits.train.y,
                                      normal_classes=[spec["digit"]], source="mnist")
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    scores = det.score(splits.test.images(slice(None)))
    score_s = time.perf_counter() - t1
    truth = (splits.test.y != spec["digit"]).numpy()
    flags = scores > det.threshold
    row = {"detector": spec["detector"], "digit": spec["digit"], "seed": spec["seed"],
           "auc": float(roc_auc_score(truth, scores)), "fit_seconds": fit_s, "score_seconds": score_s,
           "false_alarm_rate": float(flags[~truth].mean()), "detection_rate": float(flags[truth].mean()),
           "threshold": det.threshold, "config": fields}
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(row, indent=1))
    return row


def run_mnist(args: argparse.Namespace) -> None:
    specs = [{"detector": d, "digit": digit, "seed": s,
              "out": str(args.out / "mnist" / d / f"digit{digit}" / f"seed{s}"),
              "train": json.loads(args.train) if args.train else {}}
             for d in args.detectors for s in args.seeds for digit in args.digits]
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for row in pool.map(_mnist_one, specs):
            print(f"{row['detector']} digit {row['digit']} seed {row['seed']}: AUC {100 * row['auc']:.2f} "
                  f"(fit {row['fit_seconds']:.0f} s, score {row['score_seconds']:.0f} s)", flush=True)


def _split_benign(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    benign = np.flatnonzero(y == 1)
    rng.shuffle(benign)
    n_test = int(round(0.3 * len(benign)))
    test = np.concatenate([benign[:n_test], np.flatnonzero(y == 0)])
    return np.sort(benign[n_test:]), np.sort(test)


def run_table(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    from genlab.anomaly import AnomalyDetector

    data = load_breast_cancer()
    x, y = data.data, data.target
    rows = []
    for seed in args.seeds:
        fit_idx, test_idx = _split_benign(y, seed)
        truth = y[test_idx] == 0
        forest = IsolationForest(n_estimators=300, random_state=seed).fit(x[fit_idx])
        rows.append({"method": "IsolationForest (scikit-learn, 300 trees)", "seed": seed,
                     "auc": float(roc_auc_score(truth, -forest.score_samples(x[test_idx])))})
        for name, fields in {"genlab ae (mse)": {"model": "ae"},
                             "genlab vae (elbo)": {"model": "vae", "model_config": {"likelihood": "gaussian",
                                                                                    "gaussian_std": 0.1}}}.items():
            det = AnomalyDetector({**fields, "seed": seed, "train": {"epochs": 300, "batch_size": 32, "device": "cpu",
                                                                     "seed": seed}})
            det.fit(x[fit_idx])
            scores = det.score(x[test_idx])
            flags = scores > det.threshold
            rows.append({"method": name, "seed": seed, "auc": float(roc_auc_score(truth, scores)),
                         "precision": float(truth[flags].mean()) if flags.any() else 0.0,
                         "recall": float(flags[truth].mean())})
        print(json.dumps(rows[-3:]), flush=True)
    out = args.out / "table"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))


def inject(series: np.ndarray, start: int, scale: float, seed: int, spikes: int = 6, shifts: int = 2,
           shift_len: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Copy of (L, 1) ``series`` with spikes and level shifts injected after ``start``; (L,) 0/1 truth."""
    rng = np.random.default_rng(seed)
    out, truth = series.copy(), np.zeros(len(series), dtype=np.int64)
    taken = np.zeros(len(series), dtype=bool)
    taken[:start] = True
    for kind, count, length in (("shift", shifts, shift_len), ("spike", spikes, 1)):
        for _ in range(count):
            for _attempt in range(1000):
                at = int(rng.integers(start, len(series) - length))
                if not taken[max(0, at - 3):at + length + 3].any():
                    break
            taken[at:at + length] = True
            truth[at:at + length] = 1
            if kind == "spike":
                out[at] += rng.choice([-1.0, 1.0]) * 4.0 * scale
            else:
                out[at:at + length] += 2.5 * scale
    return out, truth


def run_series(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    from sklearn.metrics import roc_auc_score

    from genlab.anomaly import AnomalyDetector
    from genlab.data.sequences import SERIES

    values, _ = SERIES["elnino"][0]()
    start = int(0.6 * len(values))
    rows = []
    for seed in args.seeds:
        test, truth = inject(values, start, float(values[:start].std()), seed)
        det = AnomalyDetector(model="recurrent-ae", window=24, stride=1, seed=seed,
                              model_config={"hidden_size": 64, "latent_dim": 8},
                              train={"epochs": 150, "batch_size": 32, "device": "cpu", "seed": seed, "lr": 2e-3})
        det.fit(values[:start])
        steps = det.score_steps(test)[start:]
        flags = det.predict_steps(test)[start:]
        t = truth[start:].astype(bool)
        rows.append({"seed": seed, "auc": float(roc_auc_score(t, steps)),
                     "precision": float(t[flags.astype(bool)].mean()) if flags.any() else 0.0,
                     "recall": float(flags[t].mean()), "anomalous_steps": int(t.sum()), "test_steps": int(len(t)),
                     "flagged": int(flags.sum())})
        print(json.dumps(rows[-1]), flush=True)
        if seed == args.seeds[0]:
            _plot_series(test[start:, 0], t, steps, det.state["step_threshold"], args.out / "series_elnino.png")
    out = args.out / "series"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))


def _plot_series(values: np.ndarray, truth: np.ndarray, scores: np.ndarray, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 4.5), dpi=110, sharex=True)
    a.plot(values, color="tab:blue", lw=1)
    a.scatter(np.flatnonzero(truth), values[truth], color="tab:red", s=10, label="injected")
    a.set_ylabel("temperature (C)")
    a.legend(loc="upper left")
    b.plot(scores, color="black", lw=1)
    b.axhline(threshold, color="tab:red", ls="--", label="threshold")
    b.set_yscale("log")
    b.set_ylabel("step score")
    b.set_xlabel("month of the test part")
    b.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def report(args: argparse.Namespace) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("mnist/*/digit*/seed*/result.json"))]
    if rows:
        detectors = sorted({r["detector"] for r in rows})
        print("| detector | seeds | " + " | ".join(str(d) for d in range(10)) + " | mean |")
        print("|---|---|" + "---|" * 11)
        print("| Deep SVDD (Ruff et al. 2018, published) | - | " + " | ".join(f"{v:.1f}" for v in DEEP_SVDD)
              + f" | {statistics.mean(DEEP_SVDD):.1f} |")
        for d in detectors:
            mine = [r for r in rows if r["detector"] == d]
            per_digit = [[100 * r["auc"] for r in mine if r["digit"] == digit] for digit in range(10)]
            seeds = sorted({r["seed"] for r in mine})
            means = [statistics.mean([100 * r["auc"] for r in mine if r["seed"] == s]) for s in seeds
                     if len([r for r in mine if r["seed"] == s]) == 10]
            cells = [_ms(v) if v else "-" for v in per_digit]
            print(f"| genlab {d} | {len(seeds)} | " + " | ".join(cells) + f" | {_ms(means) if means else '-'} |")
    for name in ("table", "series"):
        path = args.out / name / "results.json"
        if path.is_file():
            print(f"\n{name}:")
            res = json.loads(path.read_text())
            keys = sorted({k for r in res for k in r if k not in ("seed", "method")})
            for method in dict.fromkeys(r.get("method", "genlab recurrent-ae") for r in res):
                mine = [r for r in res if r.get("method", "genlab recurrent-ae") == method]
                print(f"| {method} | {len(mine)} | " + " | ".join(
                    f"{k} {_ms([100 * r[k] if k in ('auc', 'precision', 'recall') else r[k] for r in mine])}"
                    for k in keys if all(k in r for r in mine)) + " |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=["mnist", "table", "series", "report"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_anomaly"))
    p.add_argument("--detectors", nargs="+", default=["conv-ae", "vae"], choices=sorted(DETECTORS))
    p.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--train", help="JSON of training overrides for the mnist task (e.g. '{\"epochs\": 5}')")
    args = p.parse_args(argv)
    {"mnist": run_mnist, "table": run_table, "series": run_series, "report": report}[args.task](args)


if __name__ == "__main__":
    sys.exit(main())
