"""MambaIR-light: the lightweight super-resolution network of MambaIR (Guo et al., ECCV 2024).

Written for this project from the paper and the official release (github.com/csguoh/MambaIR,
``basicsr/archs/mambair_arch.py`` with ``upsampler='pixelshuffledirect'``). Module and parameter
names follow the official release, so its checkpoints load with ``strict=True``; only the layout of
the computation differs (tokens stay channels-last ``(B, H, W, C)`` instead of ``(B, H*W, C)``).
The selective scan is :func:`gasr_hf.sr.models.selective_scan.selective_scan`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from spandrel.util import store_hyperparameters
from torch import nn
from torchvision.ops import stochastic_depth

from gasr_hf.sr.models.selective_scan import selective_scan

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean, subtracted from RGB input as in the release
_SCAN_DIRECTIONS = 4  # row-major, column-major and both reversed


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (as in RCAN)."""

    def __init__(self, channels: int, squeeze_factor: int) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // squeeze_factor, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // squeeze_factor, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class LightCAB(nn.Module):
    """The light variant's convolutional block: pointwise-depthwise convs, a dilated depthwise conv
    for a larger receptive field, then channel attention."""

    def __init__(self, channels: int, compress_ratio: int = 2, squeeze_factor: int = 30) -> None:
        super().__init__()
        hidden = channels // compress_ratio
        self.cab = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, channels, 1),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2, groups=channels),
            ChannelAttention(channels, squeeze_factor),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


class SS2D(nn.Module):
    """2D selective scan: the feature map is scanned in four directions by one Mamba (S6) layer.

    Parameters of the four directions are stacked along a leading axis, as in the release:
    ``x_proj_weight (4, dt_rank + 2 * d_state, d_inner)``, ``dt_projs_weight (4, d_inner, dt_rank)``,
    ``dt_projs_bias (4, d_inner)``, ``A_logs (4 * d_inner, d_state)`` and ``Ds (4 * d_inner,)``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int,
        expand: float,
        d_conv: int = 3,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
    ) -> None:
        super().__init__()
        self.d_state = d_state
        self.d_inner = int(expand * d_model)  # int(), as the release does, so shapes match
        self.dt_rank = math.ceil(d_model / 16)
        k, d_inner, rank = _SCAN_DIRECTIONS, self.d_inner, self.dt_rank

        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv2d = nn.Conv2d(
            d_inner, d_inner, d_conv, padding=(d_conv - 1) // 2, groups=d_inner, bias=True
        )
        self.act = nn.SiLU()

        # nn.Linear's default initialisation, stacked for the four directions
        bound = 1 / math.sqrt(d_inner)
        self.x_proj_weight = nn.Parameter(
            torch.empty(k, rank + 2 * d_state, d_inner).uniform_(-bound, bound)
        )
        self.dt_projs_weight = nn.Parameter(
            torch.empty(k, d_inner, rank).uniform_(-(rank**-0.5), rank**-0.5)
        )
        # bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], so softplus(bias) = dt
        log_dt = torch.rand(k, d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        dt = torch.exp(log_dt).clamp(min=dt_init_floor)
        self.dt_projs_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        # S4D-real initialisation: A = -(1, 2, ..., d_state) for every channel
        a_log = torch.log(torch.arange(1, d_state + 1, dtype=torch.float32))
        self.A_logs = nn.Parameter(a_log.repeat(k * d_inner, 1))
        self.Ds = nn.Parameter(torch.ones(k * d_inner))

        self.out_norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, d_model) -> (B, H, W, d_model)``."""
        batch, height, width, _ = x.shape
        length, k = height * width, _SCAN_DIRECTIONS
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = self.act(self.conv2d(x.permute(0, 3, 1, 2)))  # (B, d_inner, H, W)

        rows = x.flatten(2)
        cols = x.transpose(2, 3).flatten(2)
        xs = torch.stack([rows, cols, rows.flip(-1), cols.flip(-1)], dim=1)  # (B, 4, d_inner, L)
        proj = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, bs, cs = proj.split([self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        ys = selective_scan(
            xs.float().reshape(batch, -1, length),
            dts.float().reshape(batch, -1, length),
            -torch.exp(self.A_logs.float()),
            bs.float(),
            cs.float(),
            self.Ds.float(),
            delta_bias=self.dt_projs_bias.float().view(-1),
            delta_softplus=True,
        ).view(batch, k, self.d_inner, length)

        # undo each direction's ordering, back to row-major, and sum
        by_cols = ys[:, 1] + ys[:, 3].flip(-1)
        y = ys[:, 0] + ys[:, 2].flip(-1)
        y = y + by_cols.view(batch, self.d_inner, width, height).transpose(2, 3).flatten(2)
        y = y.transpose(1, 2).reshape(batch, height, width, self.d_inner).to(z.dtype)
        return self.out_proj(self.out_norm(y) * F.silu(z))


class VSSBlock(nn.Module):
    """Residual state-space block: SS2D then the light CAB, each with a learnt skip scale."""

    def __init__(self, dim: int, d_state: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.self_attention = SS2D(dim, d_state=d_state, expand=mlp_ratio)
        self.drop_path = drop_path
        self.skip_scale = nn.Parameter(torch.ones(dim))
        self.conv_blk = LightCAB(dim)
        self.ln_2 = nn.LayerNorm(dim)
        self.skip_scale2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.self_attention(self.ln_1(x))
        x = x * self.skip_scale + stochastic_depth(attn, self.drop_path, "row", self.training)
        conv = self.conv_blk(self.ln_2(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x * self.skip_scale2 + conv


class BasicLayer(nn.Module):
    """A sequence of VSS blocks (``residual_group`` in the release's key names)."""

    def __init__(self, blocks: list[VSSBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class ResidualGroup(nn.Module):
    """Residual state-space group (RSSG): VSS blocks, a 3x3 conv, and a skip connection."""

    def __init__(self, dim: int, blocks: list[VSSBlock]) -> None:
        super().__init__()
        self.residual_group = BasicLayer(blocks)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.residual_group(x).permute(0, 3, 1, 2)
        return self.conv(y).permute(0, 2, 3, 1) + x


class PatchEmbed(nn.Module):
    """Feature map to channels-last tokens, layer-normalised."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1))


@store_hyperparameters()
class MambaIRLight(nn.Module):
    """MambaIR-light. Input and output are images in [0, 1] (scaled by ``img_range`` inside).

    The defaults are the published x4 model (924,492 parameters). ``drop_path_rate`` is the
    stochastic-depth rate of the last block (linearly increasing from 0), as in the release.
    """

    hyperparameters: dict[str, object] = {}

    def __init__(
        self,
        *,
        upscale: int = 4,
        in_chans: int = 3,
        embed_dim: int = 60,
        depths: tuple[int, ...] = (6, 6, 6, 6),
        d_state: int = 10,
        mlp_ratio: float = 1.2,
        drop_path_rate: float = 0.1,
        img_range: float = 1.0,
    ) -> None:
        super().__init__()
        if upscale < 1:
            raise ValueError(f"upscale must be a positive integer, got {upscale}")
        if embed_dim < 30:  # the channel attention squeezes embed_dim by 30
            raise ValueError(f"embed_dim must be at least 30, got {embed_dim}")
        if not depths or min(depths) < 1:
            raise ValueError(f"depths must be a non-empty list of positive ints, got {depths}")
        if d_state < 1 or int(embed_dim * mlp_ratio) < 1:
            raise ValueError(f"d_state and mlp_ratio must be positive, got {d_state}, {mlp_ratio}")
        self.upscale = upscale
        self.img_range = img_range
        mean = RGB_MEAN if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, in_chans, 1, 1), persistent=False)

        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
        self.patch_embed = PatchEmbed(embed_dim)
        rates = iter(torch.linspace(0, drop_path_rate, sum(depths)).tolist())
        self.layers = nn.ModuleList(
            ResidualGroup(
                embed_dim,
                [VSSBlock(embed_dim, d_state, mlp_ratio, next(rates)) for _ in range(depth)],
            )
            for depth in depths
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.upsample = nn.Sequential(
            nn.Conv2d(embed_dim, upscale**2 * in_chans, 3, padding=1), nn.PixelShuffle(upscale)
        )
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        feat = self.conv_first((x - mean) * self.img_range)
        tokens = self.patch_embed(feat)
        for layer in self.layers:
            tokens = layer(tokens)
        body = self.conv_after_body(self.norm(tokens).permute(0, 3, 1, 2))
        return self.upsample(body + feat) / self.img_range + mean


def _init_weights(module: nn.Module) -> None:
    """The release's initialisation: truncated-normal linear weights, unit layer norms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
