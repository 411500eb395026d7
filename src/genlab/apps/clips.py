"""Writing and reading clips (N, T, C, H, W) in [0, 1]: animated GIFs, frame-grid PNGs, .npz.

``genlab sample`` on a clip run writes, for ``--out clips.gif``: ``clips.gif`` (every clip side by
side, animated), ``clips_000.gif``... (one GIF per clip) and ``clips.png`` (a frame grid: a row per
clip, a column per frame); ``--out clips.png`` writes the frame grid only and ``--out clips.npz``
uint8 ``clips`` (N, T, C, H, W) for evaluation. ``genlab predict`` reads one clip from a GIF or a
folder of numbered frames (``data.video``'s readers) or takes clips of the run's test split.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data.images import to_channels
from genlab.data.video import read_clip
from genlab.errors import ConfigError
from genlab.io import atomic_write_bytes, make_grid, save_image_grid

CLIP_OUTPUTS = (".gif", ".png", ".npz")
FRAME_MS = 125  # 8 frames per second


def clips_uint8(clips: torch.Tensor) -> np.ndarray:
    """(N, T, C, H, W) floats in [0, 1] -> uint8 of the same layout."""
    return clips.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()


def _gif_bytes(frames: list[np.ndarray], scale: int) -> bytes:
    images = []
    for f in frames:  # (H, W, C) uint8
        img = Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f)
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
        images.append(img.convert("P") if img.mode == "RGB" else img)
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
    return buf.getvalue()


def save_gif(clip: torch.Tensor, path: str | Path, scale: int = 0) -> Path:
    """One clip (T, C, H, W) in [0, 1] as an animated GIF (small frames enlarged for viewing)."""
    scale = scale or max(1, min(4, 128 // max(clip.shape[-1], 1)))
    frames = [f.transpose(1, 2, 0) for f in clips_uint8(clip[None])[0]]
    atomic_write_bytes(path, _gif_bytes(frames, scale))
    return Path(path)


def save_clips(clips: torch.Tensor, out: Path) -> list[Path]:
    """Write clips by the suffix of ``out`` (see the module docstring); returns the files written."""
    if out.suffix == ".npz":
        buf = io.BytesIO()
        np.savez(buf, clips=clips_uint8(clips))
        atomic_write_bytes(out, buf.getvalue())
        return [out]
    n, t = clips.shape[:2]
    grid_png = out.with_suffix(".png")
    save_image_grid(clips.reshape(n * t, *clips.shape[2:]), grid_png, nrow=t)
    if out.suffix == ".png":
        return [grid_png]
    nrow = max(1, int(np.ceil(np.sqrt(n))))
    tiles = [make_grid(clips[:, i].float().cpu(), nrow=nrow) for i in range(t)]  # one (H', W', C) per frame
    scale = max(1, min(4, 128 // max(clips.shape[-1], 1)))
    atomic_write_bytes(out, _gif_bytes(tiles, scale))
    written = [out, grid_png]
    for i in range(n):
        written.append(save_gif(clips[i], out.with_name(f"{out.stem}_{i:03d}.gif")))
    return written


def load_input_clip(path: str, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """One clip (1, T', C, H, W) in [0, 1] from a GIF or a numbered-frame folder, resized and converted
    to the model's frame size and channels; at most T frames are kept."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"--input {p} does not exist")
    t, c, h, _ = shape
    x, _ = read_clip(p, h)  # uint8 (T', H, W, C)
    frames = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # (T', C', H, W)
    frames = to_channels(frames, c)
    return frames[:t].float().div(255)[None]


def check_frames(k: int, length: int) -> None:
    """``--frames k``: at least 1 and below the clip length (something must be left to predict)."""
    if not 1 <= k < length:
        raise ConfigError(f"--frames {k} must be at least 1 and below the clip length {length} "
                          f"(the given frames; the rest are predicted)")
