"""``genlab synth fit|sample|report``: synthetic tables from the command line."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from genlab import registry
from genlab.cli.options import add_config_flags, collect
from genlab.errors import ConfigError, Interrupted
from genlab.io import read_json

MODELS = ("ctgan", "tvae")
IMAGE_MODELS = ("cvae", "cgan", "cddpm")
LAYOUT_FIELDS = {"spans", "discrete", "category_counts"}  # model config fields the table fills


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("synth", help="synthetic tables: fit ctgan / tvae on a table, sample rows, report quality")
    ssub = p.add_subparsers(dest="synth_command", metavar="fit|sample|report", required=True)

    f = ssub.add_parser("fit", help="fit a synthesizer on a table",
                        description="Fit a table synthesizer: --data csv:FILE or table:NAME (`genlab synth tables` "
                                    "lists the named ones).")
    f.add_argument("--data", metavar="SPEC", help="csv:PATH or table:NAME (required unless --resume)")
    f.add_argument("--model", default="ctgan", choices=MODELS, help="synthesizer model (default: ctgan)")
    f.add_argument("--out", metavar="DIR", help="synthesizer directory to write (required unless --resume)")
    f.add_argument("--resume", metavar="DIR", help="continue the interrupted fit in DIR from its last checkpoint "
                                                   "(--epochs extends it; --data if the table moved)")
    f.add_argument("--overwrite", action="store_true", help="replace an existing synthesizer directory")
    f.add_argument("--metadata", metavar="FILE", help='JSON {"columns": {"NAME": "continuous|integer|categorical|'
                                                      'boolean|datetime"}} overriding inferred column kinds')
    f.add_argument("--target", metavar="COLUMN", help="column the report predicts (default: the table's target, "
                                                      "else the last column)")
    for name, kind, text in [("epochs", int, "passes over the training rows (300)"),
                             ("batch-size", int, "rows per step (ctgan 500; tvae 500, or a quarter of the training "
                                                 "rows if less)"),
                             ("holdout", float, "share of rows held out for the report (0.2)"),
                             ("max-modes", int, "most Gaussian modes per continuous column (10)"),
                             ("seed", int, "seed of the split, the mixtures and training (0)"),
                             ("time-budget", float, "stop training after this many seconds"),
                             ("device", str, "auto, cpu, cuda, ... (auto)"),
                             ("precision", str, "fp32, bf16 or auto (default fp32; tvae: bf16 on CPUs with native bf16 "
                                           "at batches of 160+ rows)")]:
        f.add_argument(f"--{name}", type=kind, default=argparse.SUPPRESS, help=text)
    model = _model_in(argv)
    add_config_flags(f, registry.get(model).config_class, "model", f"model '{model}' (choose it with --model first)")
    f.set_defaults(func=cmd_fit)

    s = ssub.add_parser("sample", help="sample synthetic rows to a CSV file")
    s.add_argument("synthesizer", metavar="DIR", help="directory written by `genlab synth fit`")
    s.add_argument("--n", type=int, required=True, help="number of rows")
    s.add_argument("--out", default="rows.csv", metavar="CSV", help="output CSV (default: rows.csv)")
    s.add_argument("--condition", action="append", default=[], metavar="COL=VALUE",
                   help="fix a categorical column to a value in every row (repeatable)")
    s.add_argument("--seed", type=int, help="sampling seed (default: the synthesizer's)")
    s.set_defaults(func=cmd_sample)

    r = ssub.add_parser("report", help="fidelity, detection, utility and privacy report (JSON, PNGs, HTML)")
    r.add_argument("synthesizer", metavar="DIR", help="directory written by `genlab synth fit`")
    r.add_argument("--real", required=True, metavar="SPEC", help="the real table (csv:PATH or table:NAME); the one "
                                                                   "fitted on gives utility and privacy too")
    r.add_argument("--out", default="report", metavar="DIR", help="report directory (default: report/)")
    r.add_argument("--n", type=int, help="synthetic rows to draw (default: as many as the real training rows)")
    r.add_argument("--target", metavar="COLUMN", help="column to predict for utility (default: the fitted target)")
    r.add_argument("--seed", type=int, default=0, help="seed of sampling and the classifiers (0)")
    r.set_defaults(func=cmd_report)

    t = ssub.add_parser("tables", help="list the named tables (table:NAME)")
    t.set_defaults(func=cmd_tables)

    a = sub.add_parser("augment",
                       help="measure whether generated data helps a classifier: N real vs N real + M generated",
                       description="Train a classifier on N real labelled items, and on the same items plus M items "
                                   "from a conditional model trained on them only; test accuracy of both over several "
                                   "seeds. Tables (--data csv:PATH / table:NAME, --label COLUMN): ctgan or tvae "
                                   "conditioned on the label, gradient boosting. Images (--data mnist, ...): cvae, "
                                   "cgan or cddpm, LeNet-5 on the test split.")
    a.add_argument("--data", required=True, metavar="SPEC", help="a table (csv:PATH, table:NAME) or an image dataset")
    a.add_argument("--label", metavar="COLUMN", help="tables: the categorical column to predict")
    a.add_argument("--model", choices=(*MODELS, *IMAGE_MODELS),
                   help="generative model (default: ctgan for tables, cvae for images)")
    a.add_argument("--n-real", type=int, nargs="+", default=[100], metavar="N", help="real labelled items (100)")
    a.add_argument("--n-synth", type=int, default=500, metavar="M", help="generated items added (500)")
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (0 1 2)")
    a.add_argument("--epochs", type=int, default=300, help="tables: synthesizer epochs (300)")
    a.add_argument("--test-fraction", type=float, default=0.3, help="tables: share of rows held out for testing (0.3)")
    a.add_argument("--gen-steps", type=int, default=2000, help="images: steps of the generative model (2000)")
    a.add_argument("--clf-steps", type=int, default=1000, help="images: steps of each classifier (1000)")
    a.add_argument("--test-limit", type=int, help="images: score only the first N test images")
    a.add_argument("--out", metavar="JSON", help="also write the results to this JSON file")
    a.set_defaults(func=cmd_augment)


def _model_in(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--model" and i + 1 < len(argv) and argv[i + 1] in MODELS:
            return argv[i + 1]
        if arg.startswith("--model=") and arg.partition("=")[2] in MODELS:
            return arg.partition("=")[2]
    return "ctgan"


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit as a run of the run layer in DIR/run (lock, checkpoints, metrics, progress bar): a fit
    stopped by a signal or a kill continues exactly with --resume DIR."""
    from genlab.runs.run import is_run, train
    from genlab.tables import Synthesizer
    from genlab.tables.synthesizer import SYNTH_FILE
    from genlab.training import distributed

    if args.resume:
        return _resume_fit(args)
    if not args.data or not args.out:
        raise ConfigError("synth fit needs --data SPEC and --out DIR (or --resume DIR)")
    out = Path(args.out)
    main = _is_main()  # under torchrun every process trains; rank 0 alone checks and writes the synthesizer
    if main and out.is_file():
        raise ConfigError(f"{out} exists and is not a directory")
    if main and out.is_dir() and any(out.iterdir()):
        if not (out / SYNTH_FILE).is_file():
            raise ConfigError(f"refusing to write into {out}: it is not empty and not a genlab synthesizer")
        if not args.overwrite:
            raise ConfigError(f"{out} already holds a synthesizer; pass --overwrite to replace it"
                              + (f" or --resume {out} to continue its fit" if _pending(out) else ""))
    values = vars(args)
    fields = {k: values[k] for k in ("epochs", "batch_size", "holdout", "max_modes", "seed") if k in values}
    train_cfg = {k: values[k] for k in ("time_budget", "device", "precision") if k in values}
    model_config = collect(args, registry.get(args.model).config_class, "model")
    layout = sorted(set(model_config) & LAYOUT_FIELDS)
    if layout:
        raise ConfigError(f"--{layout[0].replace('_', '-')} is filled from the table; leave it out")
    synth = Synthesizer(args.model, metadata=args.metadata, train=train_cfg, model_config=model_config, **fields)
    created = main and not out.exists()
    run = out / "run"  # the training run: config.json, checkpoints/, metrics.jsonl, loss_curves.png
    try:
        t0 = time.perf_counter()
        plan = synth.prepare(args.data, target=args.target)
        if main and run.exists() and not is_run(run):  # --overwrite of a synthesizer from before fits were runs
            shutil.rmtree(run)
        if main:
            synth.save_pending(out)
        t1 = time.perf_counter()
        net = train(plan.model, out=run, model_config=plan.model_fields, data={"dataset": plan.source},
                    train=plan.train, overwrite=True, splits=plan.splits)
        synth.state.update(fit_seconds=round(t1 - t0, 3), train_seconds=round(time.perf_counter() - t1, 3))
        synth.model = net.eval()
        if main:
            synth.save(out)
    except Interrupted as e:
        raise _stopped(e, out) from None
    except BaseException:
        if created:  # a failed fit leaves nothing behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        distributed.teardown()
    if main:
        _written(synth, out, args.model)
    return 0


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _pending(out: Path) -> bool:
    from genlab.tables.synthesizer import SYNTH_FILE

    try:
        return bool(read_json(out / SYNTH_FILE).get("pending"))
    except (OSError, ValueError):
        return False


def _stopped(e: Interrupted, out: Path) -> Interrupted:
    """The run layer's stop, with the command that continues this fit."""
    where = f"checkpoint saved at step {e.step}" if e.saved else "no checkpoint was written yet (it starts again)"
    return Interrupted(e.signal_name, e.step, e.saved, out,
                       detail=f"synth fit stopped by {e.signal_name} at step {e.step}; {where}; "
                              f"continue it with: genlab synth fit --resume {out}")


def _written(synth: Any, out: Path, model: str) -> None:
    st = synth.state
    print(f"synthesizer written to {out}: {model} on {st['source']} ({st['rows'] - len(st['holdout_rows'])} "
          f"training rows, {len(st['holdout_rows'])} held out), trained in {st['train_seconds']:.1f}s", file=sys.stderr)


def _resume_fit(args: argparse.Namespace) -> int:
    from genlab.runs.run import resume
    from genlab.tables import Synthesizer
    from genlab.training import distributed

    out = Path(args.resume)
    if args.out and Path(args.out) != out:
        raise ConfigError("--resume DIR continues the fit in DIR; leave out --out")
    values = vars(args)
    changed = [k for k in ("batch_size", "holdout", "max_modes", "seed", "metadata", "target")
               if values.get(k) is not None] + sorted(collect(args, registry.get(args.model).config_class, "model"))
    if changed:
        raise ConfigError(f"--{changed[0].replace('_', '-')} cannot change when resuming a fit "
                          f"(only --epochs, --time-budget, --device, --precision, --data)")
    synth = Synthesizer.load(out, pending=True)
    splits = synth.resume_splits(args.data)
    overrides = {k: values[k] for k in ("epochs", "time_budget", "device", "precision") if k in values}
    t1 = time.perf_counter()
    try:
        net = resume(out / "run", model=synth.config.model, splits=splits, **overrides)
    except Interrupted as e:
        raise _stopped(e, out) from None
    finally:
        distributed.teardown()
    synth.state.update(train_seconds=round(time.perf_counter() - t1, 3))
    if "epochs" in overrides:
        synth.config.epochs = overrides["epochs"]
    synth.model = net.eval()
    if _is_main():
        synth.save(out)
        _written(synth, out, synth.config.model)
    return 0


def _conditions(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not col.strip():
            raise ConfigError(f"--condition takes COLUMN=VALUE, got {item!r}")
        out[col.strip()] = value
    return out


def cmd_sample(args: argparse.Namespace) -> int:
    from genlab.tables import Synthesizer

    conditions = _conditions(args.condition)
    synth = Synthesizer.load(args.synthesizer)
    rows = synth.sample(args.n, conditions=conditions, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    rows.to_csv(tmp, index=False)
    tmp.replace(out)
    print(f"{len(rows)} rows written to {out}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genlab.tables import Synthesizer
    from genlab.tables.report import make_report

    if args.n is not None and args.n <= 0:
        raise ConfigError(f"--n must be positive, got {args.n}")
    synth = Synthesizer.load(args.synthesizer)
    rep = make_report(synth, args.real, args.out, n=args.n, target=args.target, seed=args.seed)
    fid, det = rep["fidelity"], rep["detection"]
    line = f"fidelity {fid['overall']:.3f} (shapes {fid['column_shape_score']:.3f}, " \
           f"pairs {fid['column_pair_score']:.3f}); " \
           f"detection AUC {det['auc']:.3f}"
    if "utility" in rep:
        u, p = rep["utility"], rep["privacy"]
        line += (f"; TSTR {u['metric']} {u['synthetic']:.3f} vs real {u['real']:.3f}; DCR median synthetic "
                 f"{p['dcr_synthetic_median']:.3f} vs held-out {p['dcr_holdout_median']:.3f}, exact copies "
                 f"{p['exact_copies']:.1%}, membership AUC {p['membership_inference_auc']:.3f}")
    print(line)
    print(f"report written to {Path(args.out) / 'report.html'}", file=sys.stderr)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from genlab.data.tables import list_tables

    for spec, desc in list_tables():
        print(f"{spec:22s} {desc}")
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    import json

    table = args.data.split(":", 1)[0] in ("table", "csv") or args.data.lower().endswith(".csv")
    model = args.model or ("ctgan" if table else "cvae")
    if table != (model in MODELS):
        raise ConfigError(f"--model {model} does not fit {'a table' if table else 'images'}; use "
                          f"{' or '.join(MODELS if table else IMAGE_MODELS)}")
    if table and not args.label:
        raise ConfigError("tables need --label COLUMN: the categorical column the classifier predicts")
    if not 0 < args.test_fraction < 0.9:
        raise ConfigError(f"--test-fraction must be in (0, 0.9), got {args.test_fraction}")
    if min(args.n_real) < 1 or args.n_synth < 1:
        raise ConfigError("--n-real and --n-synth must be positive")
    results = []
    print("| N real | M generated | accuracy real | accuracy real + generated | gain |"
          + (" synthetic only |" if table else ""))
    print("|---:|---:|---:|---:|---:|" + ("---:|" if table else ""))
    for n in args.n_real:
        if table:
            from genlab.tables.augment import augment_table

            r = augment_table(args.data, args.label, model, n, args.n_synth, tuple(args.seeds), args.epochs,
                              args.test_fraction)
        else:
            from genlab.apps.augment import augment_images

            r = augment_images(args.data, model, n, args.n_synth, tuple(args.seeds), args.gen_steps, args.clf_steps,
                               test_limit=args.test_limit)
        results.append(r)
        print(f"| {n} | {args.n_synth} | {r['real']['mean']:.3f} ± {r['real']['std']:.3f} | "
              f"{r['augmented']['mean']:.3f} ± {r['augmented']['std']:.3f} | {r['gain']['mean']:+.3f} ± "
              f"{r['gain']['std']:.3f} |" + (f" {r['synthetic_only']['mean']:.3f} |" if table else ""), flush=True)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
    return 0
