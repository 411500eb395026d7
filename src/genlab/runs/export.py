"""``genlab export``: a model part of a run as ONNX (checked by onnxruntime) or TorchScript.

What can be exported is declared on the model class (``export_parts``, ``export_refusals`` in
:mod:`genlab.models.base`), never probed. Each part in :data:`PARTS` names the method it calls, its
inputs (the batch dimension is dynamic) and its output:

=========  =============================================  ==========================================
part       inputs                                          output
=========  =============================================  ==========================================
sample     noise (B, *noise_shape) N(0, I) [, labels (B,)]  images (B, C, H, W) in [0, 1]
encoder    images (B, C, H, W) in [0, 1] [, labels (B,)]   codes (B, D)
decoder    codes (B, D) [, labels (B,)]                    images (B, C, H, W) in [0, 1]
denoiser   x_t (B, C, H, W) in [-1, 1], t (B,) [, labels]   the network's prediction (eps, x0 or v)
score      x (B, C, H, W) in [-1, 1], t (B,)               the score grad_x log p_t(x) (score models)
translate  source (B, *A shape) in [0, 1]                  images (B, *B shape) in [0, 1] (A -> B)
upscale    source (B, C, h, w) in [0, 1]                   images (B, C, s h, s w) in [0, 1] (one tile)
rows       noise (B, E) [, condition (B, C) (ctgan) |       numeric (B, columns) float64, categories
           offset_noise (B, T) (tvae)]                     (B, columns) int64, plus a JSON sidecar
=========  =============================================  ==========================================

The 'rows' part of a table model (ctgan, tvae) is its sampling path with the synth transformer's
inverse as tensor ops (:mod:`genlab.tables.export`), so it needs the `genlab synth fit` directory; it
is checked against genlab's own inverse transform of the model's rows on the same inputs.

Every export is checked right after writing: the written file (onnxruntime for ONNX, ``torch.jit.load``
for TorchScript) runs on fixed inputs of a batch size other than the traced one, and its outputs must
match PyTorch's within ``ATOL + RTOL * |reference|``; otherwise the file is removed and the command
fails naming the part and why. A new model family exports by declaring one of these parts (and
implementing its method); a part of another shape is added here as one more :class:`Part`.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlab.anomaly import scores as anomaly_scores
from genlab.anomaly.detector import DETECTOR_FILE, AnomalyDetector
from genlab.errors import ConfigError
from genlab.io import atomic_write_json
from genlab.models.base import GenerativeModel, LatentModel
from genlab.models.score import ScoreModel
from genlab.models.translation import ImageTranslator
from genlab.models.video_diffusion import VideoDDPM
from genlab.runs.report import training_run
from genlab.runs.run import load, read_run_config
from genlab.tables.export import TableSampler, frame_outputs, sidecar
from genlab.tables.synthesizer import SYNTH_FILE, Synthesizer

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".ts", ".torchscript")}
ATOL, RTOL = 1e-4, 1e-3  # fp32 on both sides; the difference is float reassociation only
TRACE_BATCH, CHECK_BATCH = 2, 3  # traced with one batch size, checked with another: the batch is dynamic
OPSET = 17
TABLE_PART = "rows"  # a table model's part: not in PARTS (two outputs, a sidecar; see export_table)
TABLE_CHECK_BATCH = 64


class ExportError(ConfigError):
    """A part that cannot be exported (or failed its check): one line naming the part and why."""


@dataclass(frozen=True)
class Part:
    """One exportable part: how to build example inputs and the function that is exported."""

    inputs: Callable[[GenerativeModel, int, torch.Generator], dict[str, torch.Tensor]]
    function: Callable[[GenerativeModel], Callable[..., torch.Tensor]]
    output: str
    summary: str


def _labels(model: GenerativeModel, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"labels": torch.randint(0, model.num_classes, (n,), generator=gen)} if model.num_classes else {}


def _images(model: GenerativeModel, n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, *model.config.data_shape, generator=gen)


def _latent(model: GenerativeModel) -> LatentModel:
    if not isinstance(model, LatentModel):  # a declaration that does not fit the class: a bug in the model
        raise ExportError(f"model '{model.registry_name}' declares an encoder/decoder but is not a LatentModel")
    return model


def _code_size(model: GenerativeModel, gen: torch.Generator) -> int:
    x = _images(model, 1, gen)
    return int(_latent(model)._codes(x, _labels(model, 1, gen).get("labels")).shape[-1])


def _sample_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"noise": torch.randn(n, *m.noise_shape(), generator=g), **_labels(m, n, g)}


def _encoder_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"images": _images(m, n, g), **_labels(m, n, g)}


def _decoder_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"codes": torch.randn(n, _code_size(m, g), generator=g), **_labels(m, n, g)}


def _denoiser_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    steps = int(m.config.diffusion_steps if isinstance(m, VideoDDPM) else m.config.timesteps)
    return {"x_t": _images(m, n, g) * 2 - 1, "t": torch.randint(0, steps, (n,), generator=g), **_labels(m, n, g)}


def _score_model(model: GenerativeModel) -> ScoreModel:
    if not isinstance(model, ScoreModel):  # a declaration that does not fit the class: a bug in the model
        raise ExportError(f"model '{model.registry_name}' declares a score part but is not a score model")
    return model


def _score_net_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"x": _images(m, n, g) * 2 - 1, "t": _score_model(m).score_times(n, g)}


def _translator(model: GenerativeModel) -> ImageTranslator:
    if not isinstance(model, ImageTranslator):  # a declaration that does not fit the class: a bug in the model
        raise ExportError(f"model '{model.registry_name}' declares translate/upscale but is not an ImageTranslator")
    return model


def _source_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"source": torch.rand(n, *_translator(m).a_shape, generator=g)}


PARTS: dict[str, Part] = {
    "sample": Part(_sample_inputs, lambda m: m.sample_from_noise, "images", "noise [+ labels] -> images in [0, 1]"),
    "encoder": Part(_encoder_inputs, lambda m: _latent(m)._codes, "codes", "images [+ labels] -> codes"),
    "decoder": Part(_decoder_inputs, lambda m: _latent(m)._images, "images", "codes [+ labels] -> images in [0, 1]"),
    "denoiser": Part(_denoiser_inputs, lambda m: m.denoiser_output, "prediction",
                     "x_t in [-1, 1], step t [+ labels] -> the network's prediction (one sampling step's network)"),
    "score": Part(_score_net_inputs, lambda m: lambda x, t, labels: _score_model(m).score(x, t), "score",
                  "x in [-1, 1], time t (score-sde) or noise level index (ncsn) -> the score (one sampler step's "
                  "network)"),
    "translate": Part(_source_inputs, lambda m: lambda x, labels: _translator(m).translate(x), "images",
                      "A images in [0, 1] -> B images in [0, 1] (an image-to-image model's A -> B generator)"),
    "upscale": Part(_source_inputs, lambda m: lambda x, labels: _translator(m).translate(x), "images",
                    "low-resolution images in [0, 1] -> upscaled images (one tile; tiling stays outside)"),
}


def refusal(model_class: type[GenerativeModel], part: str) -> str | None:
    """Why a model class cannot export ``part`` (None: it can), from its declarations alone."""
    if part not in PARTS and part != TABLE_PART:
        return f"genlab exports the parts {', '.join([*PARTS, TABLE_PART])}, not '{part}'"
    if part in model_class.export_parts:
        return None
    if part == TABLE_PART:
        return "only table models (ctgan, tvae) export decoded rows"
    if part in model_class.export_refusals:
        return model_class.export_refusals[part]
    if model_class.tabular:
        return (f"a table model exports its '{TABLE_PART}' part (noise -> decoded rows through the `genlab synth` "
                f"transformer, with a JSON sidecar)")
    if not model_class.generative:
        return "it is not a generative model"
    declared = ", ".join(model_class.export_parts) or "none"
    return f"the model does not declare it (its exportable parts: {declared})"


class _Graph(nn.Module):
    """A model method as a module with positional tensor inputs (what tracing needs)."""

    def __init__(self, model: GenerativeModel, function: Callable[..., torch.Tensor], names: list[str]):
        super().__init__()
        self.model, self.function, self.names = model, function, names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        kwargs = dict(zip(self.names, args, strict=True))
        main = [v for k, v in kwargs.items() if k != "labels"]
        return self.function(*main, kwargs.get("labels"))  # every part's method takes labels last (None: none)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    part: str
    format: str
    inputs: dict[str, tuple[int, ...]]
    max_abs_diff: float

    def line(self) -> str:
        shapes = ", ".join(f"{k} {'x'.join(['B', *map(str, s[1:])])}" for k, s in self.inputs.items())
        return (f"{self.part} -> {self.path} ({self.format}; inputs {shapes}; checked at batch {CHECK_BATCH}: "
                f"max |diff| {self.max_abs_diff:.2e} <= {ATOL:g} + {RTOL:g} * |reference|)")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}' (choose {' or '.join(FORMATS)})")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401 - deferred: an optional extra, never needed for training
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ConfigError("--format onnx needs the onnx and onnxruntime packages: "
                              "pip install 'genlab[export]' (or use --format torchscript)") from None


def parts_to_export(model: GenerativeModel, part: str | None) -> list[str]:
    """The parts one command exports: ``part``, 'all' declared ones, or the first declared one (None)."""
    name = model.registry_name
    if part == "all" or part is None:
        if not model.export_parts:
            why = refusal(type(model), "sample") or "it declares no exportable part"
            raise ExportError(f"model '{name}' has no exportable part: {why}")
        return list(model.export_parts) if part == "all" else [model.export_parts[0]]
    reason = refusal(type(model), part)
    if reason is not None:
        raise ExportError(f"model '{name}' cannot export part '{part}': {reason}")
    return [part]


def _onnx_symbolics() -> None:
    """Symbolics the ONNX exporter lacks at OPSET: expm1 (the VP SDE's marginal) as exp(x) - 1."""
    from torch.onnx import register_custom_op_symbolic

    def expm1(g: Any, x: Any) -> Any:
        return g.op("Sub", g.op("Exp", x), g.op("Constant", value_t=torch.tensor(1.0)))

    register_custom_op_symbolic("aten::expm1", expm1, OPSET)


def _quiet() -> contextlib.AbstractContextManager[Any]:
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    return stack


def export_part(model: GenerativeModel, part: str, fmt: str, out: Path, spec: Part | None = None) -> ExportResult:
    """Write one part of ``model`` to ``out`` and check it (see the module docstring); ``spec``: a part that is
    not in :data:`PARTS` (an anomaly detector's score)."""
    spec = spec or PARTS[part]
    model = model.float().eval()
    example = spec.inputs(model, TRACE_BATCH, torch.Generator().manual_seed(0))
    check = spec.inputs(model, CHECK_BATCH, torch.Generator().manual_seed(1))
    names = list(example)
    graph = _Graph(model, spec.function(model), names).eval()
    where = f"part '{part}' of model '{model.registry_name}'"
    with torch.no_grad():
        reference = graph(*check.values()).float()
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with _quiet(), torch.no_grad():
            if fmt == "onnx":
                _onnx_symbolics()
                torch.onnx.export(graph, tuple(example.values()), str(tmp), input_names=names,
                                  output_names=[spec.output], opset_version=OPSET, dynamo=False,
                                  dynamic_axes={k: {0: "batch"} for k in [*names, spec.output]})
            else:
                torch.jit.save(torch.jit.trace(graph, tuple(example.values()), check_trace=False), str(tmp))
    except Exception as e:  # noqa: BLE001 - any tracer/exporter failure is this part's limitation
        tmp.unlink(missing_ok=True)
        other = "torchscript" if fmt == "onnx" else "onnx"
        raise ExportError(f"{where} cannot be exported to {fmt}: {_first_line(e)} (try --format {other})") from None
    try:
        try:
            got = _run_written(tmp, fmt, check)
        except Exception as e:  # noqa: BLE001 - the written file does not run: this part's limitation
            raise ExportError(f"{where}: the {fmt} file fails at batch {CHECK_BATCH} ({_first_line(e)}); "
                              f"not written") from None
        if got.shape != reference.shape:
            raise ExportError(f"{where}: the {fmt} file gives shape {tuple(got.shape)} at batch {CHECK_BATCH}, "
                              f"PyTorch {tuple(reference.shape)} (the batch size is not dynamic)")
        diff = (got - reference).abs()
        if not bool(torch.isfinite(got).all()) or bool((diff > ATOL + RTOL * reference.abs()).any()):
            raise ExportError(f"{where}: the {fmt} file disagrees with PyTorch (max |diff| {float(diff.max()):.3g} "
                              f"> {ATOL:g} + {RTOL:g} * |reference|); not written")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(out, part, fmt, {k: tuple(v.shape) for k, v in example.items()}, float(diff.max()))


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def _run_written(path: Path, fmt: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    if fmt == "onnx":
        import onnxruntime  # deferred: an optional extra

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {i.name: inputs[i.name].numpy() for i in session.get_inputs()}
        return torch.from_numpy(session.run(None, feed)[0]).float()
    with _quiet():
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(*inputs.values()).float()


def _score_inputs(m: GenerativeModel, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"images": _images(m, n, g)}


def export_detector(directory: str | Path, fmt: str, out: Path, part: str | None = None) -> list[ExportResult]:
    """The 'score' part of an anomaly detector (``genlab anomaly fit``): images -> per-image anomaly scores
    (higher: more unusual; the detector flags scores above its threshold). Deterministic scores only."""
    if part not in (None, "score", "all"):
        raise ExportError(f"an anomaly detector exports its 'score' part, not '{part}' (export the run of a model "
                          f"for its other parts)")
    det = AnomalyDetector.load(directory)
    score, kind = det.state.score, det.kind
    if kind != "images":
        raise ExportError(f"detector {directory} scores {kind}; only image detectors export their score "
                          f"(tables and series are prepared in Python before scoring)")
    if score not in anomaly_scores.DETERMINISTIC:
        raise ExportError(f"detector {directory} uses the '{score}' score, which samples or searches per input; "
                          f"deterministic scores ({', '.join(anomaly_scores.DETERMINISTIC)}) can be exported "
                          f"(refit with --score)")
    model = det.model
    spec = Part(_score_inputs, lambda m: lambda x, labels: anomaly_scores.image_scores(m, x, score), "scores",
                "images -> anomaly scores")
    return [export_part(model, "score", fmt, out, spec)]


def export_run(run_dir: str | Path, fmt: str, out: str | Path, part: str | None = None) -> list[ExportResult]:
    """Export parts of a run's model: ``part`` (default: the first declared; 'all': every declared one,
    written next to ``out`` as ``STEM.PART.SUFFIX``). An anomaly detector's directory exports its score."""
    check_format(fmt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)  # like every other command's --out
    if (Path(run_dir) / DETECTOR_FILE).is_file():
        return export_detector(run_dir, fmt, out, part)
    run_dir = training_run(run_dir)  # a `genlab synth fit` directory: its training run
    read_run_config(run_dir)  # not a run: one line saying so
    model = load(run_dir)
    parts = parts_to_export(model, part)
    if parts == [TABLE_PART]:
        return [export_table(run_dir, model, fmt, out)]
    paths = [out] if len(parts) == 1 else [out.with_name(f"{out.stem}.{p}{out.suffix}") for p in parts]
    return [export_part(model, p, fmt, path) for p, path in zip(parts, paths, strict=True)]


@dataclass(frozen=True)
class TableExportResult(ExportResult):
    sidecar: Path = Path()
    rows: int = 0

    def line(self) -> str:
        shapes = ", ".join(f"{k} Bx{s[1]}" for k, s in self.inputs.items())
        return (f"{self.part} -> {self.path} ({self.format}; inputs {shapes}; outputs numeric (float64), categories "
                f"(int64); columns and categories in {self.sidecar}; checked at batch {self.rows} against genlab's "
                f"inverse transform of the model's rows: categories equal, numeric max |diff| "
                f"{self.max_abs_diff:.2e} <= {ATOL:g} * max(1, 4 std of the column's modes) + {RTOL:g} * |reference|)")


def _table_inputs(model: GenerativeModel, transformer: Any, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Inputs of a table model's rows_from_noise: N(0, 1) noise; ctgan's condition one category of one discrete
    column per row (as genlab's sampling gives, with uniform categories)."""
    widths: dict[str, int] = model.row_inputs()  # type: ignore[operator]  # declared by export_parts ('rows')
    out = {}
    for name, width in widths.items():
        if name != "condition":
            out[name] = torch.randn(n, width, generator=gen)
            continue
        cond = torch.zeros(n, width)
        sizes = [len(c.categories) for c in transformer.columns if c.kind in ("categorical", "boolean")]
        starts = torch.tensor([sum(sizes[:j]) for j in range(len(sizes))] or [0])
        if sizes:
            cols = torch.randint(len(sizes), (n,), generator=gen)
            cats = (torch.rand(n, generator=gen) * torch.tensor(sizes)[cols]).long()
            cond[torch.arange(n), starts[cols] + cats] = 1.0
        out[name] = cond
    return out


def export_table(run_dir: Path, model: GenerativeModel, fmt: str, out: Path) -> TableExportResult:
    """The 'rows' part of a table model: noise (and ctgan's condition; tvae's offset noise) -> decoded rows, with
    the one-hot blocks read by argmax; ``OUT.json`` beside it names the columns and categories. Checked: the
    written file on fresh inputs against genlab's own inverse transform (numpy) of the model's rows."""
    import numpy as np

    synth_dir = run_dir.parent
    where = f"part '{TABLE_PART}' of model '{model.registry_name}'"
    if not (synth_dir / SYNTH_FILE).is_file():
        raise ExportError(f"{where} needs the table transformer of its `genlab synth fit` directory ({SYNTH_FILE} "
                          f"beside {run_dir.name}/); export that directory")
    synth = Synthesizer.load(synth_dir)
    transformer = synth.transformer
    assert transformer is not None  # a loaded synthesizer has one
    model = model.float().eval()
    sampler = TableSampler(model, transformer).eval()
    example = _table_inputs(model, transformer, TRACE_BATCH, torch.Generator().manual_seed(0))
    check = _table_inputs(model, transformer, TABLE_CHECK_BATCH, torch.Generator().manual_seed(1))
    names = list(example)
    with torch.no_grad():
        rows = model.rows_from_noise(*check.values()).numpy()  # type: ignore[operator]  # declared ('rows')
    ref_numeric, ref_cats = frame_outputs(transformer, transformer.inverse(rows, clip=True))
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with _quiet(), torch.no_grad():
            if fmt == "onnx":
                torch.onnx.export(sampler, tuple(example.values()), str(tmp), input_names=names,
                                  output_names=["numeric", "categories"], opset_version=OPSET, dynamo=False,
                                  dynamic_axes={k: {0: "batch"} for k in [*names, "numeric", "categories"]})
            else:
                torch.jit.save(torch.jit.trace(sampler, tuple(example.values()), check_trace=False), str(tmp))
    except Exception as e:  # noqa: BLE001 - any tracer/exporter failure is this part's limitation
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{where} cannot be exported to {fmt}: {_first_line(e)}") from None
    try:
        try:
            if fmt == "onnx":
                import onnxruntime  # deferred: an optional extra

                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(str(tmp), options, providers=["CPUExecutionProvider"])
                numeric, cats = session.run(None, {k: v.numpy() for k, v in check.items()})
            else:
                with _quiet(), torch.no_grad():
                    got = torch.jit.load(str(tmp))(*check.values())
                numeric, cats = got[0].numpy(), got[1].numpy()
        except Exception as e:  # noqa: BLE001 - the written file does not run: this part's limitation
            raise ExportError(f"{where}: the {fmt} file fails at batch {TABLE_CHECK_BATCH} ({_first_line(e)}); "
                              f"not written") from None
        numeric, cats = np.asarray(numeric, dtype=np.float64), np.asarray(cats)
        if numeric.shape != ref_numeric.shape or cats.shape != ref_cats.shape:
            raise ExportError(f"{where}: the {fmt} file gives shapes {numeric.shape} and {cats.shape}, genlab "
                              f"{ref_numeric.shape} and {ref_cats.shape}")
        scale = np.array([4 * max(c.stds) if not c.exact else 1.0 for c in transformer.columns
                          if c.kind in ("continuous", "integer", "datetime")])
        same_nan = bool((np.isnan(numeric) == np.isnan(ref_numeric)).all())
        diff = np.nan_to_num(np.abs(numeric - ref_numeric), nan=0.0)
        # an offset's float error is magnified by 4 std of its mode: the tolerance is scaled alike
        tolerance = ATOL * np.maximum(scale, 1.0) + RTOL * np.abs(np.nan_to_num(ref_numeric))
        ok = same_nan and bool((diff <= tolerance).all())
        same_cats = bool((cats == ref_cats).all())
        if cats.dtype != np.int64 or not same_cats or not ok:
            raise ExportError(f"{where}: the {fmt} file disagrees with genlab's sampling path (categories equal: "
                              f"{same_cats}, numeric max |diff| {float(diff.max(initial=0)):.3g}); not written")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    side = out.with_name(out.name + ".json")
    atomic_write_json(side, sidecar(transformer, model.registry_name, {k: v.shape[1] for k, v in example.items()}))
    return TableExportResult(out, TABLE_PART, fmt, {k: tuple(v.shape) for k, v in example.items()},
                             float(diff.max(initial=0)), side, TABLE_CHECK_BATCH)
