"""Compression with an autoencoder: images -> codes stored as float16 or 8-bit quantized values.

    encode:  c = f(x) (N, D) float32  ->  float16, or uint8 q = round((c - lo) / step) with a
             per-dimension lo = min c and step = (max c - lo) / 255 stored beside the codes
    decode:  c' = q * step + lo (or the float16 values)  ->  x' = g(c')

The code file is an .npz holding the codes, the dequantization constants, and the model's name,
code size and image shape (checked when decoding). Sizes are reported per image against the raw
uint8 pixels and against each image compressed as its own PNG.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from genlab.apps.inputs import batched
from genlab.data.npz import read_npz
from genlab.errors import DataError
from genlab.io import atomic_write_bytes, to_uint8
from genlab.metrics.recon import psnr
from genlab.models.base import LatentModel

Codec = Literal["float16", "uint8"]
CODECS = ("float16", "uint8")


def quantize(codes: torch.Tensor, codec: str) -> dict[str, np.ndarray]:
    """Store codes (N, D) compactly: {'codes'} (float16) or {'codes' uint8, 'low', 'step'} (uint8)."""
    c = codes.detach().float().cpu().numpy()
    if codec == "float16":
        return {"codes": c.astype(np.float16)}
    if codec == "uint8":
        low, high = c.min(0), c.max(0)
        step = np.where(high > low, (high - low) / 255.0, 1.0).astype(np.float32)
        q = np.clip(np.rint((c - low) / step), 0, 255).astype(np.uint8)
        return {"codes": q, "low": low.astype(np.float32), "step": step}
    raise ValueError(f"unknown codec '{codec}' (choose {' or '.join(CODECS)})")


def dequantize(arrays: dict[str, np.ndarray]) -> torch.Tensor:
    """The float32 codes (N, D) of :func:`quantize`'s arrays."""
    c = arrays["codes"].astype(np.float32)
    if arrays["codes"].dtype == np.uint8:
        c = c * arrays["step"] + arrays["low"]
    return torch.from_numpy(c)


def png_bytes(images: torch.Tensor) -> list[int]:
    """Size in bytes of each image (N, C, H, W) saved as its own optimized PNG."""
    from PIL import Image

    sizes = []
    for a in to_uint8(images):  # (H, W, C)
        buf = io.BytesIO()
        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(buf, format="PNG", optimize=True)
        sizes.append(buf.tell())
    return sizes


def encode_images(model: LatentModel, images: torch.Tensor, codec: str = "float16",
                  batch_size: int = 256) -> tuple[dict[str, np.ndarray], dict[str, float | str]]:
    """Encode images and measure the compression.

    Args:
        model: a trained autoencoder-family model.
        images: (N, C, H, W) in [0, 1].
        codec: 'float16' or 'uint8'.

    Returns:
        (arrays for the code file, report): the report gives ``code_bytes_per_image`` (the codes
        alone), ``file_bytes_per_image`` (the whole .npz, headers included), ``raw_bytes_per_image``
        (uint8 pixels), ``png_bytes_per_image`` (mean optimized PNG size), the ratios
        ``ratio_vs_raw`` and ``ratio_vs_png`` (of the codes alone) and the round trip's ``psnr``
        (dB, mean over images) after dequantization.
    """
    model.eval()
    codes = batched(model.encode, images, batch_size, model.device)  # (N, D)
    arrays = quantize(codes, codec)
    arrays.update({"model": np.array(model.registry_name), "data_shape": np.array(images.shape[1:])})
    restored = batched(model.decode, dequantize(arrays), batch_size, model.device)
    # the round trip is measured on what a user gets back: 8-bit images
    p = psnr(torch.from_numpy(to_uint8(restored)).float(), torch.from_numpy(to_uint8(images)).float(), 255.0)
    n = len(images)
    code_bytes = arrays["codes"].nbytes / n
    raw = float(images[0].numel())
    png = float(np.mean(png_bytes(images)))
    report: dict[str, float | str] = {
        "images": n, "code_dim": int(codes.shape[1]), "codec": codec, "code_bytes_per_image": code_bytes,
        "file_bytes_per_image": len(codes_file_bytes(arrays)) / n, "raw_bytes_per_image": raw,
        "png_bytes_per_image": png, "ratio_vs_raw": raw / code_bytes, "ratio_vs_png": png / code_bytes,
        "psnr": float(p[torch.isfinite(p)].mean()) if torch.isfinite(p).any() else float("inf")}
    return arrays, report


def codes_file_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: a **key could be allow_pickle
    return buf.getvalue()


def save_codes(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    atomic_write_bytes(path, codes_file_bytes(arrays))
    return Path(path)


def load_codes(path: str | Path) -> dict[str, np.ndarray]:
    """Read a code file written by :func:`save_codes`."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"code file not found: {p}")
    arrays = read_npz(p, "a code file")
    if "codes" not in arrays or "model" not in arrays or arrays["codes"].ndim != 2:
        raise DataError(f"{p} is not a genlab code file (made by `genlab encode`)")
    return arrays


def decode_codes(model: LatentModel, arrays: dict[str, np.ndarray], batch_size: int = 256) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] from a code file's arrays, checked against the model."""
    name, dim = str(arrays["model"]), arrays["codes"].shape[1]
    want = int(model.encode(torch.zeros(1, *model.config.data_shape, device=model.device)).shape[1])
    if name != model.registry_name or dim != want:
        raise DataError(f"the codes were made by a '{name}' model with {dim}-dimensional codes; this run's "
                        f"'{model.registry_name}' model has {want}")
    model.eval()
    return batched(model.decode, dequantize(arrays), batch_size, model.device)
