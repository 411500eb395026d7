"""Metrics of image-to-image translation and super-resolution, on a split of the run's own data.

Paired models (pix2pix, srresnet, srgan): PSNR and SSIM (:mod:`genlab.metrics.recon`) of the
outputs against the targets; for RGB also PSNR on the luma channel Y (ITU-R BT.601, as SR papers
report: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on [0, 1] inputs, range 255 -> [16, 235]);
for super-resolution the same numbers for bicubic upsampling of the same inputs ('bicubic_*'); the
FD of output features vs target features when the data has an evaluation extractor (MNIST tasks);
per photograph for the photo tasks ('per_image'): pooled over the photograph's test crops, and
for super-resolution also on the WHOLE photograph ('whole_*', as SR papers report a test image):
its area-downsampled whole image upscaled by the model's tiled path (:meth:`SRGAN.upscale`) and by
bicubic, both rounded to 8 bits (as a saved PNG), PSNR on RGB and Y after cutting a border of
``scale`` pixels on every side (the customary shave); 'whole_*' means in 'metrics' average the
photographs' PSNRs. Unpaired models (cyclegan): the cycle
reconstruction error (mean |F(G(a)) - a| and |G(F(b)) - b| on [0, 1]), the FD of translations vs
real B images, and when A has labels, the accuracy of the extractor's classifier on the translated A
images against their true labels beside its accuracy on the untranslated A images (label
preservation). Every result records its sample counts.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from genlab.data.base import ArrayDataset
from genlab.data.pair_tasks import whole_photo
from genlab.data.pairs import pairing_of
from genlab.errors import ConfigError
from genlab.metrics.features import FeatureExtractor
from genlab.metrics.fid import frechet_distance_of_features
from genlab.metrics.recon import mse, psnr, ssim
from genlab.models.cyclegan import CycleGAN
from genlab.models.srgan import SRGAN
from genlab.models.translation import ImageTranslator


def luma(x: torch.Tensor) -> torch.Tensor:
    """The Y channel (BT.601, studio range as in MATLAB's rgb2ycbcr) of RGB images in [0, 1], scaled to [0, 1]."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _batched(fn: Any, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size]).float().cpu() for i in range(0, len(x), batch_size)])


def quality(out: torch.Tensor, target: torch.Tensor, prefix: str = "") -> dict[str, float]:
    """PSNR (mean over images of finite values; and pooled over all pixels), SSIM, and PSNR-Y for RGB."""
    p = psnr(out, target)
    finite = p[torch.isfinite(p)]
    res = {f"{prefix}psnr": float(finite.mean()) if len(finite) else math.inf,
           f"{prefix}ssim": float(ssim(out, target).mean())}
    if out.shape[1] == 3:
        py = psnr(luma(out), luma(target))
        fy = py[torch.isfinite(py)]
        res[f"{prefix}psnr_y"] = float(fy.mean()) if len(fy) else math.inf
    return res


def pooled_psnr(out: torch.Tensor, target: torch.Tensor, y_channel: bool = False) -> float:
    """PSNR of the mean squared error over every pixel of a group of images (one photograph's crops)."""
    if y_channel:
        out, target = luma(out), luma(target)
    return float(10 * torch.log10(1.0 / mse(out, target).mean()))


def whole_photo_quality(model: SRGAN, name: str) -> dict[str, Any]:
    """PSNR (RGB, Y) of the model's and bicubic's x``scale`` upscaling of one whole bundled photograph.

    Both outputs are rounded to 8 bits and ``scale`` pixels are cut from every side before the PSNR
    (one MSE over the photograph's pixels); see the module docstring.
    """
    s = model.scale
    a_u8, b_u8 = whole_photo(name, s)
    a, b = a_u8.float() / 255, b_u8.float() / 255
    outputs = {"": model.upscale(a).cpu(),
               "bicubic_": F.interpolate(a, scale_factor=s, mode="bicubic", align_corners=False).clamp(0, 1)}
    rec: dict[str, Any] = {"whole_size": [int(b.shape[2]), int(b.shape[3])], "whole_border": s}
    ref = b[..., s:-s, s:-s]
    for prefix, out in outputs.items():
        out = ((out * 255).round() / 255)[..., s:-s, s:-s]
        rec[f"whole_{prefix}psnr"] = pooled_psnr(out, ref)
        rec[f"whole_{prefix}psnr_y"] = pooled_psnr(out, ref, y_channel=True)
    return rec


def evaluate_translator(model: ImageTranslator, data: ArrayDataset, n: int = 10000,
                        extractor: FeatureExtractor | None = None, seed: int = 0) -> dict[str, Any]:
    """The metrics of a translator on a split (its first ``n`` items); see the module docstring.

    Returns:
        {'metrics': {name: value}, 'n': items measured, 'per_image': {photo: {...}} (photo tasks)}.
    """
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    model.eval()
    pairing = pairing_of(data) or {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # pix2pix keeps dropout at test time only through the model's own mode
        if isinstance(model, CycleGAN) and pairing.get("kind") == "unpaired":
            return _unpaired(model, data, n, extractor)
        return _paired(model, data, n, extractor)


def _paired(model: ImageTranslator, data: ArrayDataset, n: int, extractor: FeatureExtractor | None) -> dict[str, Any]:
    count = min(n, len(data))
    a, b = model.split_packed(data.images(torch.arange(count)))
    out = _batched(model.translate, a)
    values = quality(out, b)
    values["l1"] = float((out - b).abs().mean())
    per_image: dict[str, dict[str, Any]] = {}
    bicubic = None
    if isinstance(model, SRGAN):
        bicubic = F.interpolate(a, scale_factor=model.scale, mode="bicubic", align_corners=False).clamp(0, 1)
        values.update(quality(bicubic, b, "bicubic_"))
        values["psnr_gain_over_bicubic"] = values["psnr"] - values["bicubic_psnr"]
    pairing = pairing_of(data) or {}
    for name, start, size in pairing.get("groups", []):
        if start + size > count:
            continue
        sl = slice(start, start + size)
        rec: dict[str, Any] = {"crops": size, "psnr": pooled_psnr(out[sl], b[sl])}
        if b.shape[1] == 3:
            rec["psnr_y"] = pooled_psnr(out[sl], b[sl], y_channel=True)
        if bicubic is not None:
            rec["bicubic_psnr"] = pooled_psnr(bicubic[sl], b[sl])
            if b.shape[1] == 3:
                rec["bicubic_psnr_y"] = pooled_psnr(bicubic[sl], b[sl], y_channel=True)
        if isinstance(model, SRGAN) and pairing.get("photos_version") and b.shape[1] == 3:
            rec.update(whole_photo_quality(model, name))  # a bundled photograph: also the whole image
        per_image[name] = rec
    wholes = [r for r in per_image.values() if "whole_psnr" in r]
    if wholes:  # the mean over the whole photographs, and its gain over bicubic
        for key in ("psnr", "psnr_y", "bicubic_psnr", "bicubic_psnr_y"):
            values[f"whole_{key}"] = sum(r[f"whole_{key}"] for r in wholes) / len(wholes)
        values["whole_psnr_gain_over_bicubic"] = values["whole_psnr"] - values["whole_bicubic_psnr"]
        values["whole_psnr_y_gain_over_bicubic"] = values["whole_psnr_y"] - values["whole_bicubic_psnr_y"]
        values["whole_images"] = len(wholes)
    if extractor is not None and count >= 2:
        extractor.check_images(out, f"outputs of '{model.registry_name}'")
        f_out, _ = extractor(out)
        f_real, _ = extractor(b)
        values["fd"] = frechet_distance_of_features(f_out, f_real)
        if bicubic is not None:
            values["bicubic_fd"] = frechet_distance_of_features(extractor(bicubic)[0], f_real)
    result: dict[str, Any] = {"metrics": values, "n": count}
    if per_image:
        result["per_image"] = per_image
    return result


def _unpaired(model: CycleGAN, data: ArrayDataset, n: int, extractor: FeatureExtractor | None) -> dict[str, Any]:
    pairing = pairing_of(data) or {}
    n_a = min(n, int(pairing.get("a_items", len(data))), len(data))  # the first a_items hold each A image once
    n_b = min(n, len(data))
    a, _ = model.split_packed(data.images(torch.arange(n_a)))
    _, b = model.split_packed(data.images(torch.arange(n_b)))
    fake_b = _batched(lambda v: model.translate(v, "AB"), a)
    fake_a = _batched(lambda v: model.translate(v, "BA"), b)
    values = {"cycle_l1_a": float((_batched(lambda v: model.translate(v, "BA"), fake_b) - a).abs().mean()),
              "cycle_l1_b": float((_batched(lambda v: model.translate(v, "AB"), fake_a) - b).abs().mean())}
    result: dict[str, Any] = {"metrics": values, "n_a": n_a, "n_b": n_b}
    if extractor is not None:
        extractor.check_images(fake_b, f"translations of '{model.registry_name}'")
        f_fake, p_fake = extractor(fake_b)
        f_real, _ = extractor(b)
        values["fd"] = frechet_distance_of_features(f_fake, f_real)
        f_a, p_a = extractor(a)
        values["fd_untranslated"] = frechet_distance_of_features(f_a, f_real)
        if data.y is not None:
            y = data.y[:n_a]
            values["label_accuracy"] = float((p_fake.argmax(1) == y).float().mean())
            values["label_accuracy_untranslated"] = float((p_a.argmax(1) == y).float().mean())
    return result
