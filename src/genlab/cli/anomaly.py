"""``genlab anomaly fit`` and ``genlab anomaly score``: anomaly detectors from the command line."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from genlab import registry
from genlab.anomaly import AnomalyDetector
from genlab.anomaly.detector import DEFAULT_TRAIN
from genlab.anomaly.inputs import guess_kind, read_inputs, truth_of
from genlab.anomaly.report import plot_roc, plot_scores, summary
from genlab.cli.options import add_config_flags, collect
from genlab.config import RUN_ONLY_FIELDS, TrainConfig
from genlab.errors import ConfigError

DETECTOR_FLAGS = ("score", "contamination", "threshold_quantile", "holdout_fraction", "nll_k", "latent_steps",
                  "latent_lr", "window", "stride")


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("anomaly", help="anomaly detection: fit a detector on normal data, score new inputs")
    asub = p.add_subparsers(dest="anomaly_command", metavar="fit|score", required=True)

    f = asub.add_parser("fit", help="train a model on normal data and calibrate a threshold",
                        description="Fit a detector: images (--dataset mnist --normal-class 3), tables "
                                    "(--dataset csv:FILE or sklearn:NAME, --label-column / --normal-value) or "
                                    "series (--dataset co2, or csv:FILE --kind series).")
    f.add_argument("--dataset", required=True, metavar="SPEC", help="what to fit on (its training split for images)")
    f.add_argument("--out", required=True, metavar="DIR", help="detector directory to write")
    f.add_argument("--overwrite", action="store_true", help="replace an existing detector directory")
    f.add_argument("--model",
                   help="registered model (default: conv-ae for images, ae for tables, recurrent-ae for series)")
    f.add_argument("--kind", choices=["images", "table", "series"], help="kind of data (default: from --dataset)")
    f.add_argument("--normal-class", type=int, nargs="+", metavar="C", help="images: the class(es) that are normal")
    f.add_argument("--label-column", metavar="NAME", help="tables and series: a column that is a label, not a feature")
    f.add_argument("--normal-value", nargs="+", metavar="V",
                   help="tables: label values of the normal rows (fit on those)")
    f.add_argument("--limit", type=int, metavar="N", help="use only the first N training items")
    f.add_argument("--columns", nargs="+", metavar="NAME",
                   help="series: the columns to use, e.g. --columns co2 or --columns a,b (default: every numeric "
                        "column; text columns such as dates are skipped with a notice)")
    f.add_argument("--score", choices=["auto", "mse", "bce", "elbo", "nll", "disc", "latent"],
                   default=argparse.SUPPRESS,
                   help="anomaly score (default: auto = elbo for VAEs, disc for GANs, else mse)")
    for name, kind, text in [("contamination", float,
                              "share of anomalies in the training data (sets the threshold)"),
                             ("threshold-quantile", float,
                              "quantile of held-out normal scores used as threshold (0.95)"),
                             ("holdout-fraction", float, "share of normal data held out for the threshold (0.1)"),
                             ("nll-k", int, "importance samples of the nll score (100)"),
                             ("latent-steps", int, "gradient steps of the latent score (200)"),
                             ("latent-lr", float, "step size of the latent score (0.05)"),
                             ("window", int, "series: window length (32)"),
                             ("stride", int, "series: stride of training windows (4)"),
                             ("score-batch-size", int, "scoring batch size (256)"),
                             ("detector-seed", int, "seed of the hold-out split and stochastic scores (0)")]:
        f.add_argument(f"--{name}", type=kind, default=argparse.SUPPRESS, help=text)
    add_config_flags(f, TrainConfig, "train", "training (a detector's defaults: "
                     f"{', '.join(f'{k} {v}' for k, v in DEFAULT_TRAIN.items())})", defaults=DEFAULT_TRAIN,
                     skip=RUN_ONLY_FIELDS)
    model = _model_in(argv)
    if model is not None:
        add_config_flags(f, registry.get(model).config_class, "model", f"model '{model}'")
    f.set_defaults(func=cmd_fit)

    s = asub.add_parser("score",
                        help="score inputs with a fitted detector: a CSV row per input, histogram and ROC PNGs")
    s.add_argument("detector", metavar="DET", help="detector directory written by `genlab anomaly fit`")
    s.add_argument("--input", required=True, metavar="PATH",
                   help="a dataset spec (its --split), an image folder or .npz, a CSV table or a series")
    s.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="split of a dataset spec (test)")
    s.add_argument("--out", default="scores.csv", metavar="CSV",
                   help="scores file (default: scores.csv); PNGs beside it")
    s.add_argument("--normal-class", type=int, nargs="+", metavar="C",
                   help="images: classes counted as normal for AUC (default: the detector's)")
    s.add_argument("--label-column", metavar="NAME", help="tables / series: the label column (default: the detector's)")
    s.add_argument("--normal-value", nargs="+", metavar="V",
                   help="tables: label values counted as normal for AUC (default: the detector's)")
    s.set_defaults(func=cmd_score)


def _model_in(argv: list[str]) -> str | None:
    if argv[:2] != ["anomaly", "fit"]:
        return None
    for i, arg in enumerate(argv):
        if arg == "--model" and i + 1 < len(argv):
            return registry.get(argv[i + 1]).name
        if arg.startswith("--model="):
            return registry.get(arg.partition("=")[2]).name
    return None


def cmd_fit(args: argparse.Namespace) -> int:
    out = Path(args.out)
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a folder")
            break
    if (out.is_file() or (out.is_dir() and any(out.iterdir()))) and not args.overwrite:
        raise ConfigError(f"{out} already exists; pass --overwrite to replace it")
    values = vars(args)
    det_cfg: dict[str, Any] = {k: values[k] for k in DETECTOR_FLAGS if k in values}
    if "score_batch_size" in values:
        det_cfg["batch_size"] = values["score_batch_size"]
    if "detector_seed" in values:
        det_cfg["seed"] = values["detector_seed"]
    kind = args.kind or guess_kind(args.dataset, args.model)
    model_config = collect(args, registry.get(args.model).config_class, "model") if args.model else {}
    det = AnomalyDetector(model=args.model, kind=kind, train=collect(args, TrainConfig, "train"),
                          model_config=model_config, **det_cfg)
    if kind == "table" and args.normal_value and not args.label_column:
        raise ConfigError("--normal-value needs --label-column (the column holding those values)")
    columns = tuple(c.strip() for v in args.columns or [] for c in v.split(",") if c.strip())
    inputs = read_inputs(args.dataset, kind, "train", args.label_column, args.limit, columns=columns)
    if kind == "images" and args.normal_class is not None and inputs.labels is None:
        raise ConfigError(f"{args.dataset} has no labels, so --normal-class cannot choose the normal images")
    det.fit(inputs.data, labels=inputs.labels, normal_classes=args.normal_class,
            label_column=args.label_column if kind != "images" else None, normal_values=args.normal_value,
            source=args.dataset, columns=inputs.columns,
            select_columns=list(inputs.columns or columns) if columns else None)  # scoring reads them by name
    det.save(out, overwrite=args.overwrite)
    st = det.state
    print(f"detector written to {out}: model {st.model}, score {st.score}, threshold {st.threshold:.6g} "
          f"({st.threshold_from}, quantile {st.threshold_quantile:.3g} of {st.calibration_items} items)",
          file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    det = AnomalyDetector.load(args.detector)
    assert det.kind is not None  # set when fitted, so in every saved detector
    label_column = args.label_column or det.state.label_column
    inputs = read_inputs(args.input, det.kind, args.split, label_column,
                         shape=tuple(det.state.input_shape or ()) if det.kind == "images" else None,
                         columns=tuple(det.state.select_columns or ()))
    if det.kind == "series":
        scores, threshold = det.score_steps(inputs.data, inputs.source, inputs.columns), det.step_threshold
    else:
        drop = [label_column] if det.kind == "table" and label_column else None
        scores, threshold = det.score(inputs.data, inputs.source, drop), det.threshold
    flags = (scores > threshold).astype(np.int64)
    truth = truth_of(det, inputs, args.normal_class, args.normal_value)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        header = ["step" if det.kind == "series" else "item", "score", "flag"]
        w.writerow(header + ([] if truth is None else ["anomaly"]))
        for i, (name, sc, fl) in enumerate(zip(inputs.names, scores, flags, strict=False)):
            w.writerow([name, f"{sc:.6g}", int(fl)] + ([] if truth is None else [int(truth[i])]))
    tmp.replace(out)
    stem = out.with_suffix("")
    plot_scores(scores, threshold, f"{stem}_hist.png", truth, f"{det.state.model} / {det.state.score}")
    if truth is not None and 0 < truth.sum() < len(truth):
        plot_roc(scores, truth, f"{stem}_roc.png", f"{det.state.model} / {det.state.score}")
    result = summary(scores, flags, truth)
    (stem.parent / f"{stem.name}_summary.json").write_text(json.dumps(result, indent=1))
    unit = "time steps" if det.kind == "series" else "items"
    line = f"{result['items']} {unit} scored, {result['flagged']} flagged (threshold {threshold:.6g}) -> {out}"
    if "roc_auc" in result:
        line += (f"; ROC AUC {result['roc_auc']:.4f}, precision {result['precision']:.3f}, "
                 f"recall {result['recall']:.3f} at the threshold")
    print(line)
    return 0
