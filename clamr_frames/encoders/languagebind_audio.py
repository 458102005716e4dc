"""Audio input of the LanguageBind audio tower: Kaldi fbank "images" of the soundtrack around each frame.

Facts (``PKU-YuanGroup/LanguageBind``, ``languagebind/audio/processing_audio.py`` at HEAD, and the released
``LanguageBind_Audio_FT`` config): mono audio at 16 kHz, its mean removed, Kaldi-compatible log-mel filter
banks (25 ms Hann window, 10 ms shift, pre-emphasis 0.97, per-frame DC removal, 20 Hz to Nyquist,
``num_mel_bins`` bins: **112** in the released ``LanguageBind_Audio_FT`` config, whose position table has
1 + 8 × 74 = 593 rows for a 112 × 1036 input in 14-px patches; the repository's training scripts pass 126, which
is not what the released checkpoint reads), then

- fewer frames than ``target_length`` (1036 = 10.36 s): the frames are tiled until there are enough, cut, and
  the result is stacked three times;
- more: three ``target_length`` crops, one from each third of the possible offsets (the reference draws them at
  random; here the first offset of each third, the reference's earlier fixed choice, so embeddings are
  deterministic);

giving ``[3, num_mel_bins, target_length]``, normalised as ``(x - mean) / (2 * std)`` with the AudioSet
statistics ``mean = -4.2677393``, ``std = 4.5689974``.

Two deliberate differences from reading a file with torchaudio as the reference does: the soundtrack comes
from the video through ``VideoReader.read_audio`` already mono (a downmix, where the reference's fbank took the
first channel) and resampled by FFmpeg (the reference used ``torchaudio.functional.resample``).

:func:`kaldi_fbank` reimplements ``torchaudio.compliance.kaldi.fbank`` for exactly these options in plain
torch (torchaudio is not a dependency), batched over equal-length windows; the tests check it against the
independent numpy implementation in ``transformers.audio_utils``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from clamr_frames._settings import Settings
from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

#: ``torch.finfo(torch.float32).eps``: Kaldi's floor before the log.
_LOG_FLOOR = 1.1920928955078125e-07


@dataclass(frozen=True)
class AudioFeatureSettings(Settings):
    """How a waveform becomes the audio tower's input (read from the checkpoint's ``vision_config``).

    Attributes:
        sample_rate: Hz the audio is resampled to (``audio_sample_rate``).
        num_mel_bins: mel bands (input height); 112 in ``LanguageBind_Audio_FT`` (the defaults here are that
            config's, used only when no checkpoint config is at hand).
        target_length: fbank frames per crop (input width); 10 ms each.
        mean / std: normalisation, applied as ``(x - mean) / (2 * std)``.
        frame_length_ms / frame_shift_ms: Kaldi framing.
    """

    label = "LanguageBind audio"  # names these settings in errors (not a field)
    sample_rate: int = 16000
    num_mel_bins: int = 112
    target_length: int = 1036
    mean: float = -4.2677393
    std: float = 4.5689974
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.sample_rate < 1000:
            raise InputError(f"audio sample_rate must be >= 1000 Hz, got {self.sample_rate}")
        if self.num_mel_bins < 1 or self.target_length < 1:
            raise InputError("num_mel_bins and target_length must be >= 1")
        if not self.std > 0:
            raise InputError(f"audio std must be > 0, got {self.std}")

    @property
    def window_samples(self) -> int:
        """Samples in one fbank frame (400 at 16 kHz); shorter audio has no frame at all."""
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def input_seconds(self) -> float:
        """Seconds of audio one crop covers (10.36 s for 1036 frames)."""
        return self.target_length * self.frame_shift_ms * 0.001


def _mel(f: "torch.Tensor | float") -> Any:
    import torch

    if isinstance(f, torch.Tensor):
        return 1127.0 * torch.log1p(f / 700.0)
    return 1127.0 * math.log1p(f / 700.0)


def kaldi_mel_banks(
    num_bins: int, fft_size: int, sample_rate: float, low_freq: float = 20.0, high_freq: float = 0.0
) -> "torch.Tensor":
    """Kaldi's triangular mel filters ``[num_bins, fft_size // 2 + 1]`` (triangles in mel space, Nyquist column 0).

    ``high_freq <= 0`` counts down from Nyquist, as in Kaldi.
    """
    import torch

    nyquist = 0.5 * sample_rate
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not 0.0 <= low_freq < high <= nyquist:
        raise InputError(f"mel band edges must satisfy 0 <= low < high <= Nyquist, got {low_freq}, {high}")
    mel_low, mel_high = _mel(low_freq), _mel(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = torch.arange(num_bins, dtype=torch.float64).unsqueeze(1)
    left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
    mel = _mel(torch.arange(fft_size // 2, dtype=torch.float64) * (sample_rate / fft_size)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1))


def kaldi_fbank(
    waveforms: "torch.Tensor",
    *,
    sample_rate: int = 16000,
    num_mel_bins: int = 128,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    preemphasis: float = 0.97,
    low_freq: float = 20.0,
    high_freq: float = 0.0,
) -> "torch.Tensor":
    """Log mel filter banks as ``torchaudio.compliance.kaldi.fbank(window_type="hanning", dither=0,
    use_energy=False)`` computes them (snip_edges, per-frame DC removal, power spectrum, FFT size rounded up
    to a power of two).

    Args:
        waveforms: ``[N]`` or ``[B, N]`` float samples (equal lengths within a batch).

    Returns:
        ``[T, num_mel_bins]`` (or ``[B, T, num_mel_bins]``) float32 with ``T = 1 + (N - window) // shift``,
        ``T = 0`` when ``N`` is shorter than one window.

    Example:
        >>> import torch
        >>> kaldi_fbank(torch.zeros(16000), num_mel_bins=40).shape        # 1 s at 16 kHz
        torch.Size([98, 40])
        >>> round(float(kaldi_fbank(torch.zeros(400), num_mel_bins=8).max()), 3)   # silence: log of the floor
        -15.942
    """
    import torch

    x = torch.as_tensor(waveforms)
    squeeze = x.dim() == 1
    if squeeze:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise InputError(f"waveforms must be [N] or [B, N], got shape {tuple(x.shape)}")
    x = x.float()
    window = int(sample_rate * frame_length_ms * 0.001)
    shift = int(sample_rate * frame_shift_ms * 0.001)
    fft_size = 1 << (window - 1).bit_length()
    if x.shape[1] < window:
        out = x.new_zeros((x.shape[0], 0, num_mel_bins))
        return out[0] if squeeze else out
    frames = x.unfold(1, window, shift)  # [B, T, window]
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # x[-1] := x[0], Kaldi's convention
    frames = frames - preemphasis * previous
    frames = frames * torch.hann_window(window, periodic=False, dtype=torch.float32, device=x.device)
    power = torch.fft.rfft(frames, n=fft_size).abs().pow(2.0)  # zero-padded to fft_size
    banks = kaldi_mel_banks(num_mel_bins, fft_size, sample_rate, low_freq, high_freq).to(power)
    mel = torch.matmul(power, banks.T)
    out = torch.clamp(mel, min=_LOG_FLOOR).log()
    return out[0] if squeeze else out


def crops_from_fbank(fbank: "torch.Tensor", target_length: int) -> "torch.Tensor":
    """``[T, M]`` fbank → the three ``[M, target_length]`` crops LanguageBind feeds as channels: ``[3, M, L]``.

    Example:
        >>> import torch
        >>> fb = torch.arange(5.0).unsqueeze(1)            # 5 frames, 1 mel bin
        >>> crops_from_fbank(fb, 12)[0]                    # short: tiled, then cut
        tensor([[0., 1., 2., 3., 4., 0., 1., 2., 3., 4., 0., 1.]])
        >>> crops_from_fbank(torch.arange(9.0).unsqueeze(1), 3)[:, 0]   # long: one crop per third
        tensor([[0., 1., 2.],
                [3., 4., 5.],
                [5., 6., 7.]])
    """
    import numpy as np
    import torch

    t = int(fbank.shape[0])
    if t < 1:
        raise InputError("cannot build audio crops from an empty fbank (audio shorter than one 25 ms frame)")
    if t < target_length:
        mel = fbank.repeat(target_length // t + 1, 1)[:target_length]
        crops = torch.stack([mel, mel, mel])
    elif t == target_length:
        crops = torch.stack([fbank, fbank, fbank])
    else:
        thirds = np.array_split(np.arange(t - target_length + 1), 3)
        starts = [int(r[0]) if len(r) else 0 for r in thirds]
        crops = torch.stack([fbank[s : s + target_length] for s in starts])
    return crops.transpose(1, 2).contiguous()


def audio_inputs(
    waveforms: Sequence["np.ndarray | torch.Tensor"],
    settings: AudioFeatureSettings,
    device: "str | torch.device | None" = None,
) -> "torch.Tensor":
    """Mono windows at ``settings.sample_rate`` → normalised tower inputs ``[B, 3, num_mel_bins, target_length]``.

    Each window has its mean removed first (as the reference does to the whole clip). Windows of equal length
    share one batched fbank, computed on ``device`` (default CPU).
    """
    import torch

    tensors = [torch.as_tensor(w, dtype=torch.float32, device=device).reshape(-1) for w in waveforms]
    out: list[Any] = [None] * len(tensors)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(tensors):
        if w.numel() < settings.window_samples:
            raise InputError(f"audio window {i} has {w.numel()} samples, fewer than one fbank frame")
        by_len.setdefault(int(w.numel()), []).append(i)
    for idx in by_len.values():
        batch = torch.stack([tensors[i] for i in idx])
        batch = batch - batch.mean(dim=1, keepdim=True)
        fb = kaldi_fbank(
            batch,
            sample_rate=settings.sample_rate,
            num_mel_bins=settings.num_mel_bins,
            frame_length_ms=settings.frame_length_ms,
            frame_shift_ms=settings.frame_shift_ms,
        )
        for row, i in enumerate(idx):
            out[i] = crops_from_fbank(fb[row], settings.target_length)
    if not out:
        return torch.empty((0, 3, settings.num_mel_bins, settings.target_length), device=device)
    return (torch.stack(out) - settings.mean) / (2.0 * settings.std)


def window_bounds(window: "float | tuple[float, float] | None", settings: AudioFeatureSettings) -> tuple[float, float]:
    """``(before, after)`` seconds of audio around a frame.

    ``None`` → the span one crop covers (10.36 s), centred; a number → that many seconds, centred; a pair →
    as given.

    >>> window_bounds(4.0, AudioFeatureSettings())
    (2.0, 2.0)
    >>> window_bounds((1.0, 3.0), AudioFeatureSettings())
    (1.0, 3.0)
    """
    if window is None:
        half = settings.input_seconds / 2.0
        return (half, half)
    if isinstance(window, (int, float)):
        if not window > 0:
            raise InputError(f"audio_window must be > 0 seconds, got {window}")
        return (float(window) / 2.0, float(window) / 2.0)
    try:
        before, after = (float(v) for v in window)
    except (TypeError, ValueError) as e:
        raise InputError(f"audio_window must be seconds or (before, after), got {window!r}") from e
    if before < 0 or after < 0 or before + after <= 0:
        raise InputError(f"audio_window (before, after) must be >= 0 and not both 0, got {window!r}")
    return (before, after)


def read_windows(
    read_audio: Callable[[float, float], "np.ndarray | None"],
    timestamps: Sequence[float],
    *,
    before: float,
    after: float,
    sample_rate: int,
    min_samples: int = 400,
    max_span: float = 120.0,
) -> "list[np.ndarray | None] | None":
    """Cut the audio window ``[t - before, t + after]`` (clipped at 0) around each timestamp.

    Nearby windows are read together (one ``read_audio`` call per run of overlapping windows, at most
    ``max_span`` seconds), so a densely sampled video is decoded about once and memory stays bounded.

    Args:
        read_audio: ``(start_s, end_s) -> mono float32 samples at sample_rate`` starting at ``start_s``
            (shorter past the end of the track), or ``None`` when there is no audio stream.
        timestamps: seconds, any order.
        min_samples: a window with fewer samples (e.g. beyond the end of the track) gives ``None``.

    Returns:
        One array (or ``None``) per timestamp, in input order; ``None`` overall when the source has no audio.

    Example:
        >>> import numpy as np
        >>> track = np.arange(100, dtype=np.float32)                       # 10 s at 10 Hz
        >>> read = lambda s, e: track[round(s * 10): round(e * 10)]
        >>> w = read_windows(read, [0.0, 5.0, 9.9], before=1.0, after=1.0, sample_rate=10, min_samples=2)
        >>> [(int(x[0]), int(x[-1]), len(x)) for x in w]   # [0, 1] clipped at 0; [4, 6]; [8.9, 10] clipped at the end
        [(0, 9, 10), (40, 59, 20), (89, 99, 11)]
    """
    import numpy as np

    ts = [float(t) for t in timestamps]
    if any(not math.isfinite(t) for t in ts):
        raise InputError("timestamps must be finite")
    order = sorted(range(len(ts)), key=lambda i: ts[i])
    bounds = {i: (max(ts[i] - before, 0.0), max(ts[i] + after, 0.0)) for i in order}
    groups: list[list[int]] = []
    for i in order:
        a, b = bounds[i]
        if groups:
            g = groups[-1]
            g_start, g_end = bounds[g[0]][0], max(bounds[j][1] for j in g)
            if a <= g_end + 1.0 and b - g_start <= max_span:
                g.append(i)
                continue
        groups.append([i])
    out: list[Any] = [None] * len(ts)
    for g in groups:
        g_start, g_end = bounds[g[0]][0], max(bounds[j][1] for j in g)
        track = read_audio(g_start, g_end)
        if track is None:
            return None
        track = np.asarray(track, dtype=np.float32).reshape(-1)
        for i in g:
            a, b = bounds[i]
            lo = min(max(int(round((a - g_start) * sample_rate)), 0), track.size)
            hi = min(max(int(round((b - g_start) * sample_rate)), lo), track.size)
            out[i] = track[lo:hi] if hi - lo >= min_samples else None
    return out


__all__ = [
    "AudioFeatureSettings",
    "audio_inputs",
    "crops_from_fbank",
    "kaldi_fbank",
    "kaldi_mel_banks",
    "read_windows",
    "window_bounds",
]
