"""``genlab cnn calc|pool|params|summary``: convolution arithmetic and layer-by-layer network summaries."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from genlab import cnn, registry
from genlab.cli.options import key_value
from genlab.config import from_dict
from genlab.data.base import Batch
from genlab.errors import ConfigError
from genlab.models.classifier import ARCHITECTURES
from genlab.runs.run import is_run, load


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("cnn", help="convolution arithmetic and layer-by-layer network summaries")
    cnn = p.add_subparsers(dest="cnn_command", metavar="COMMAND", required=True)
    c = cnn.add_parser("calc", help="output size of a convolution / transposed convolution / pooling, "
                                    "parameters of a conv layer",
                       description="Output size: give --input and --kernel. Parameters: give --kernel, "
                                   "--in-channels and --out-channels. Both when all are given.")
    c.add_argument("--input", type=int, help="input height/width")
    c.add_argument("--kernel", type=int, required=True, help="kernel size")
    c.add_argument("--padding", type=int, default=0, help="zero padding on each side (default: 0)")
    c.add_argument("--stride", type=int, help="stride (default: 1; the kernel size for --pool)")
    c.add_argument("--dilation", type=int, default=1, help="dilation (default: 1)")
    c.add_argument("--transposed", action="store_true", help="a transposed convolution")
    c.add_argument("--output-padding", type=int, default=0, help="transposed convolution's output padding")
    c.add_argument("--pool", action="store_true", help="max/average pooling")
    c.add_argument("--ceil-mode", action="store_true", help="pooling rounds up")
    c.add_argument("--in-channels", type=int, help="input channels (parameter count)")
    c.add_argument("--out-channels", type=int, help="output channels (parameter count)")
    c.add_argument("--no-bias", action="store_true", help="a layer without bias")
    c.add_argument("--groups", type=int, default=1, help="groups (default: 1)")
    c.set_defaults(func=cmd_cnn_calc)

    pl = cnn.add_parser("pool", help="max and average pooling of a small matrix, step by step",
                        description="Pool a matrix the way nn.MaxPool2d and nn.AvgPool2d do, e.g. the notes' "
                                    "example: genlab cnn pool --input '1 3; 2 4' --kernel 2 (max 4, average 2.5).")
    pl.add_argument("--input", required=True, metavar="MATRIX",
                    help="rows separated by ';', values by spaces or commas, e.g. '1 3; 2 4'")
    pl.add_argument("--kernel", type=int, required=True, help="window size (kernel x kernel)")
    pl.add_argument("--stride", type=int, help="step between windows (default: the kernel size)")
    pl.add_argument("--padding", type=int, default=0, help="padding on each side (default: 0)")
    pl.set_defaults(func=cmd_cnn_pool)

    pa = cnn.add_parser("params", help="parameters of a stack of conv / linear layers, layer by layer and in total",
                        description="Total the parameters of a stack, e.g. the notes' example "
                                    "(448 + 4640 = 5088): genlab cnn params --layer conv:3:16:3 --layer conv:16:32:3")
    pa.add_argument("--layer", action="append", required=True, metavar="SPEC",
                    help="one layer, first layer first (repeat the flag): conv:IN:OUT:K (K or KHxKW, optional "
                         ":GROUPS) or linear:IN:OUT")
    pa.add_argument("--no-bias", action="store_true", help="layers without biases")
    pa.set_defaults(func=cmd_cnn_params)

    s = cnn.add_parser("summary", help="layer-by-layer output shape, parameters and multiply-adds",
                       description="TARGET is a run directory, a registered model name, or a classifier "
                                   "architecture (lenet5, vgg11, vgg13, vgg16, vgg19).")
    s.add_argument("target", metavar="MODEL_OR_RUN")
    s.add_argument("--input-shape", type=int, nargs=3, metavar=("C", "H", "W"),
                   help="image shape for a model name (default: the config's, 1 28 28 for most)")
    s.add_argument("--arch", help="classifier architecture (with `classifier`)")
    s.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="other model config fields")
    s.set_defaults(func=cmd_cnn_summary)


def cmd_cnn_calc(args: argparse.Namespace) -> int:
    did = False
    if args.input is not None:
        if args.pool:
            out = cnn.pool_output_size(args.input, args.kernel, args.stride, args.padding, args.dilation,
                                       args.ceil_mode)
            what = "pooling"
        elif args.transposed:
            out = cnn.conv_transpose_output_size(args.input, args.kernel, args.padding, args.stride or 1,
                                                 args.output_padding, args.dilation)
            what = "transposed convolution"
        else:
            out = cnn.conv_output_size(args.input, args.kernel, args.padding, args.stride or 1, args.dilation)
            what = "convolution"
        print(f"{what} of a {args.input}x{args.input} input, kernel {args.kernel}, padding {args.padding}, "
              f"stride {args.stride or (args.kernel if args.pool else 1)}: output size: {out}")
        did = True
    if args.in_channels is not None or args.out_channels is not None:
        if args.in_channels is None or args.out_channels is None:
            raise ConfigError("a parameter count needs both --in-channels and --out-channels")
        n = cnn.conv_parameters(args.kernel, args.kernel, args.in_channels, args.out_channels, not args.no_bias,
                                args.groups)
        bias = "" if args.no_bias else " + 1"
        print(f"({args.kernel}*{args.kernel}*{args.in_channels}/{args.groups}{bias}) * {args.out_channels}: "
              f"parameters: {n}")
        did = True
    if not did:
        raise ConfigError("give --input (output size) and/or --in-channels and --out-channels (parameters)")
    return 0


def _format_matrix(rows: list[list[float]]) -> list[str]:
    cells = [[f"{v:g}" for v in row] for row in rows]
    width = max(len(c) for row in cells for c in row)
    return ["  " + " ".join(c.rjust(width) for c in row) for row in cells]


def cmd_cnn_pool(args: argparse.Namespace) -> int:
    matrix = cnn.parse_matrix(args.input)
    stride = args.kernel if args.stride is None else args.stride
    h, w = len(matrix), len(matrix[0])
    lines = [f"input ({h}x{w}):", *_format_matrix(matrix)]
    for mode, name in (("max", "max pooling"), ("avg", "average pooling")):
        out = cnn.pool2d(matrix, args.kernel, stride, args.padding, mode)
        lines.append(f"{name}, kernel {args.kernel}x{args.kernel}, stride {stride}, padding {args.padding} "
                     f"-> {len(out)}x{len(out[0])}:")
        lines.extend(_format_matrix(out))
    print("\n".join(lines))
    return 0


def cmd_cnn_params(args: argparse.Namespace) -> int:
    layers = cnn.stack_parameters(args.layer, bias=not args.no_bias)
    rows = [("layer", "weights", "biases", "parameters")]
    for layer in layers:
        rows.append((layer.description, f"{layer.weights_formula} = {layer.weights}", str(layer.biases),
                     str(layer.parameters)))
    total = sum(layer.parameters for layer in layers)
    rows.append(("total", "", "", str(total)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(wd) for c, wd in zip(r[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip())
    if len(layers) > 1:
        print(f"{' + '.join(str(layer.parameters) for layer in layers)} = {total} parameters")
    return 0


def _summary_model(args: argparse.Namespace) -> tuple[Any, str]:
    """The model TARGET names, built or loaded, and a title."""
    target = args.target
    fields: dict[str, Any] = dict(key_value(v) for v in args.set)
    if Path(target).is_dir() and (is_run(Path(target)) or (Path(target) / "model_config.json").is_file()):
        model = load(target)
        return model, f"{model.registry_name} from {target}"
    if target in ARCHITECTURES:
        fields["arch"], target = target, "classifier"
    if args.arch:
        fields["arch"] = args.arch
    entry = registry.get(target)
    names = {f for f in entry.config_class.__dataclass_fields__}
    if args.input_shape:
        if "data_shape" not in names:
            raise ConfigError(f"model '{target}' has no data_shape to set")
        fields["data_shape"] = list(args.input_shape)
    model = entry.model_class(from_dict(entry.config_class, fields, f"model config of '{target}'"))
    arch = f" {fields['arch']}" if "arch" in fields else ""
    return model, f"{target}{arch}"


def cmd_cnn_summary(args: argparse.Namespace) -> int:
    model, title = _summary_model(args)
    shape = tuple(model.config.data_shape)
    classes = model.num_classes
    torch.manual_seed(0)
    labels = torch.arange(2) % classes if classes else torch.zeros(2, dtype=torch.long)
    batch = Batch(torch.rand(2, *shape).round(), labels)

    def run() -> None:  # every phase's loss: every network the model trains
        with torch.enable_grad():  # a loss may take gradients itself (WGAN-GP's gradient penalty)
            for phase in model.phases():
                model.losses(batch, phase.name)

    rows = cnn.summarize(model, run)
    seen: set[str] = set()
    first_calls = []
    for r in rows:  # a multi-phase model runs a network in several phases: show each module's first call
        if r.name not in seen:
            seen.add(r.name)
            first_calls.append(r)
    total = sum(p.numel() for p in model.parameters())
    print(cnn.format_summary(first_calls, f"{title}, input {'x'.join(map(str, shape))} (per image)", total))
    return 0
