"""The prepared GPU check: every GPU code path of gasr_hf, measured in one run of at most 8 minutes.

On one GPU (an H200 in mind), with random weights at the real models' sizes (no download):

- flux:  the FLUX.1-dev-size transformer (12B, bf16) in a FluxPipeline at 1024x1024, 28 steps,
         seconds per image at batch 1 and 4: eager (the baseline), First Block Cache at 0.08 and
         0.12 and ``torch.compile``, each with the mean absolute pixel difference (0-255) to eager
         from the same latents; and the VAE decode alone.
- sd21:  the SD-2.1-size UNet (865M, fp16) in a StableDiffusionPipeline at 768x768, 50 steps.
- sam:   SAM ViT-H automatic masks (32x32 points) on a 1 MP image, seconds per image, with
         segment-anything's default thresholds and with every mask kept (post-processing bound).
- clip:  CLIP ViT-L/14 image embeddings per second through the annotator's ``embed_images``.
- train: RCAN, HAT and MambaIR-light training iterations per second at each recipe's batch and
         patch, bf16 autocast, and the pairs/s ``SRPairLoader`` delivers at that crop: the
         pipeline keeps up when it delivers at least iterations/s x batch.
- scan:  the chunked selective scan against the naive step-by-step loop (and ``mamba_ssm``'s
         kernel when it imports).

Each part has its own time cap: a measurement that would start after the cap is recorded as
skipped. After every measurement ``DIR/gpu_check.json`` and ``DIR/gpu_check.md`` are rewritten,
so a run stopped at any point leaves what it measured. ``--dry-run`` runs every part at tiny
shapes on the CPU (the code paths, not the speed).

    python benchmarks/gpu_check.py --out DIR [--dry-run] [--parts flux sam ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sr_train import make_shards, naive_scan, pipeline_pairs_per_second, scan_inputs  # noqa: E402

from gasr_hf.files import write_json_atomic, write_text_atomic  # noqa: E402

TOTAL_CAP_S = 480


@dataclass(frozen=True)
class Shapes:
    """Sizes of one run: the real models (``FULL``) or tiny ones for ``--dry-run``."""

    device: str
    dtype: str
    flux_size: int
    flux_steps: int
    flux_batches: tuple[int, ...]
    sd_size: int
    sd_steps: int
    sam: str
    sam_points: int
    sam_image: int
    clip_images: int
    train_steps: int
    train_scale_down: int
    loader_images: int
    loader_batches: int
    scan_length: int
    tiny: bool


FULL = Shapes("cuda", "bfloat16", 1024, 28, (1, 4), 768, 50, "vit_h", 32, 1024, 256, 20, 1, 48,
              20, 48 * 48, False)  # fmt: skip
DRY = Shapes("cpu", "float32", 64, 4, (1, 2), 64, 2, "tiny", 4, 64, 4, 2, 8, 4, 2, 64, True)
CAPS_S = {"flux": 210, "sd21": 45, "sam": 60, "clip": 30, "train": 100, "scan": 20}

# model -> (batch, HR patch) of examples/configs/<model>_x4.yaml
RECIPES = {"rcan": (16, 192), "hat": (32, 256), "mambair-light": (32, 192)}


class Recorder:
    """Rows of measurements, rewritten to JSON and markdown after each one."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        self.meta = meta
        self.parts: dict[str, dict[str, Any]] = {}
        self.part = ""
        self.deadline = 0.0

    def begin(self, part: str, cap_s: float, total_deadline: float) -> None:
        self.part = part
        self.deadline = min(time.perf_counter() + cap_s, total_deadline)
        self.parts[part] = {"status": "running", "cap_s": cap_s, "rows": []}
        self.write()

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def allowed(self, what: str, needs_s: float = 0.0) -> bool:
        """Whether ``what`` may start (``needs_s`` left before the cap); records a skip if not."""
        if self.time_left() > needs_s:
            return True
        self.add(what, None, "", f"skipped: time cap of {self.parts[self.part]['cap_s']} s")
        return False

    def add(self, what: str, value: float | None, unit: str, note: str = "") -> None:
        row = {"measure": what, "value": value, "unit": unit, "note": note}
        self.parts[self.part]["rows"].append(row)
        print(f"[{self.part}] {what}: {value} {unit} {note}", flush=True)
        self.write()

    def end(self, status: str, seconds: float, error: str | None = None) -> None:
        self.parts[self.part].update(status=status, seconds=round(seconds, 1))
        if error:
            self.parts[self.part]["error"] = error
        self.write()

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "gpu_check.json", {**self.meta, "parts": self.parts})
        write_text_atomic(self.out / "gpu_check.md", self.markdown())

    def markdown(self) -> str:
        lines = [
            f"gpu_check on {self.meta['device_name']}, {self.meta['date']}"
            + (" (dry run: tiny shapes on the CPU)" if self.meta["dry_run"] else ""),
            "",
            "| part | measure | value | unit | note |",
            "|---|---|---:|---|---|",
        ]
        for part, info in self.parts.items():
            for row in info["rows"]:
                value = "" if row["value"] is None else f"{row['value']:.4g}"
                lines.append(
                    f"| {part} | {row['measure']} | {value} | {row['unit']} | {row['note']} |"
                )
            if info.get("error"):
                lines.append(f"| {part} | error | | | {info['error']} |")
        return "\n".join(lines) + "\n"


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


# --------------------------------------------------------------------------- flux


def flux_pipeline(shapes: Shapes) -> Any:
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )

    dtype = getattr(torch, shapes.dtype)
    torch.manual_seed(0)
    if shapes.tiny:
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
            guidance_embeds=True, axes_dims_rope=[4, 4, 8],
        )  # fmt: skip
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
            latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
            shift_factor=0.0609, scaling_factor=1.5035,
        )  # fmt: skip
    else:
        # FLUX.1-dev's transformer/config.json and vae/config.json, initialised on the GPU (fp32,
        # 48 GB, then cast): a CPU init of 12B parameters would take minutes.
        with torch.device(shapes.device):
            transformer = FluxTransformer2DModel(
                patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=[16, 56, 56],
            ).to(dtype)  # fmt: skip
            vae = AutoencoderKL(
                in_channels=3, out_channels=3, latent_channels=16, layers_per_block=2,
                block_out_channels=(128, 256, 512, 512), norm_num_groups=32,
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, use_quant_conv=False,
                use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611,
            ).to(dtype)  # fmt: skip
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        text_encoder_2=None,
        tokenizer_2=None,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(shapes.device, dtype)


def flux_inputs(pipe: Any, shapes: Shapes, batch: int) -> dict[str, torch.Tensor]:
    """Text embeddings (T5 and CLIP stand-ins) and packed initial latents, the same every call."""
    config = pipe.transformer.config
    gen = torch.Generator("cpu").manual_seed(0)
    side = shapes.flux_size // (pipe.vae_scale_factor * 2)
    tokens = 16 if shapes.tiny else 512
    inputs = {
        "prompt_embeds": torch.randn(batch, tokens, config.joint_attention_dim, generator=gen),
        "pooled_prompt_embeds": torch.randn(batch, config.pooled_projection_dim, generator=gen),
        "latents": torch.randn(batch, side * side, config.in_channels, generator=gen),
    }
    return {k: v.to(shapes.device, getattr(torch, shapes.dtype)) for k, v in inputs.items()}


def flux_images(pipe: Any, shapes: Shapes, batch: int, steps: int) -> np.ndarray:
    out = pipe(
        **flux_inputs(pipe, shapes, batch),
        height=shapes.flux_size,
        width=shapes.flux_size,
        num_inference_steps=steps,
        guidance_scale=3.5,
        output_type="np",
    )
    return np.asarray(out.images, dtype=np.float32)


def part_flux(rec: Recorder, shapes: Shapes) -> None:
    from diffusers.hooks import FirstBlockCacheConfig

    _, pipe = timed(lambda: flux_pipeline(shapes), shapes.device)
    params = sum(p.numel() for p in pipe.transformer.parameters()) / 1e9
    rec.add("transformer parameters", params, "billion", f"random weights, {shapes.dtype}")
    steps = shapes.flux_steps
    plain = pipe.transformer
    # Compiling the 12B transformer takes a minute or more; measured last at each batch.
    backend = "eager" if shapes.tiny else "inductor"
    compiled = torch.compile(plain, backend=backend)
    eager: dict[int, tuple[float, np.ndarray]] = {}
    variants = [("eager", None), ("first block cache 0.08", 0.08)]
    variants += [("first block cache 0.12", 0.12), ("torch.compile", None)]
    for batch in shapes.flux_batches:
        for label, threshold in variants:
            # What this measurement should take, from eager at batch 1 (nothing known before).
            guess = eager[1][0] * batch * 1.2 if 1 in eager and not shapes.tiny else 0.0
            if label == "torch.compile" and not shapes.tiny:
                guess += 90
            if not rec.allowed(f"{label}, batch {batch}", guess):
                continue
            pipe.transformer = compiled if label == "torch.compile" else plain
            if threshold is not None:
                plain.enable_cache(FirstBlockCacheConfig(threshold=threshold))
            warm_s, _ = timed(lambda b=batch: flux_images(pipe, shapes, b, 2), shapes.device)
            seconds, images = timed(
                lambda b=batch: flux_images(pipe, shapes, b, steps), shapes.device
            )
            if threshold is not None:
                plain.disable_cache()
            note = f"{steps} steps, {shapes.flux_size}px"
            if label == "eager":
                eager[batch] = (seconds, images)
            elif batch in eager:
                diff = float(np.abs(images - eager[batch][1]).mean() * 255)
                note += f"; mean abs difference to eager {diff:.2f}/255"
            if label == "torch.compile":
                note += f"; compile and 2 warm-up steps {warm_s:.0f} s ({backend})"
            rec.add(f"{label}, batch {batch}", seconds / batch, "s/image", note)
        if batch == shapes.flux_batches[0] and rec.allowed("VAE decode"):
            side = shapes.flux_size // pipe.vae_scale_factor
            z = torch.randn(1, pipe.vae.config.latent_channels, side, side)
            z = z.to(shapes.device, pipe.vae.dtype)
            with torch.inference_mode():
                pipe.vae.decode(z)
                seconds, _ = timed(lambda z=z: pipe.vae.decode(z), shapes.device)
            rec.add("VAE decode", seconds, "s/image", f"{shapes.flux_size}px")


# --------------------------------------------------------------------------- sd-2.1


def part_sd21(rec: Recorder, shapes: Shapes) -> None:
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )

    dtype = torch.float32 if shapes.tiny else torch.float16
    torch.manual_seed(0)
    if shapes.tiny:
        unet = UNet2DConditionModel(
            block_out_channels=(4, 8), layers_per_block=1, sample_size=8, in_channels=4,
            out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
            norm_num_groups=2,
        )  # fmt: skip
        vae = AutoencoderKL(
            block_out_channels=[4, 8, 8, 8], in_channels=3, out_channels=3, latent_channels=4,
            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
            norm_num_groups=2,
        )  # fmt: skip
        width = 32
    else:
        # stable-diffusion-2-1's unet/config.json and vae/config.json.
        unet = UNet2DConditionModel(
            sample_size=96, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20),
            use_linear_projection=True,
        )  # fmt: skip
        vae = AutoencoderKL(
            block_out_channels=[128, 256, 512, 512], in_channels=3, out_channels=3,
            latent_channels=4, layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4, sample_size=768,
        )  # fmt: skip
        width = 1024
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        unet=unet,
        scheduler=DDIMScheduler(prediction_type="v_prediction"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(shapes.device, dtype)
    pipe.set_progress_bar_config(disable=True)
    params = sum(p.numel() for p in unet.parameters()) / 1e6
    rec.add("UNet parameters", params, "million", f"random weights, {dtype}".replace("torch.", ""))
    gen = torch.Generator("cpu").manual_seed(0)
    embeds = torch.randn(2, 1, 77, width, generator=gen).to(shapes.device, dtype)

    def run(steps: int) -> Any:
        return pipe(
            prompt_embeds=embeds[0],
            negative_prompt_embeds=embeds[1],
            height=shapes.sd_size,
            width=shapes.sd_size,
            num_inference_steps=steps,
            guidance_scale=7.5,
            output_type="np",
        )

    run(2)
    if rec.allowed("50 steps, batch 1"):
        seconds, _ = timed(lambda: run(shapes.sd_steps), shapes.device)
        rec.add(f"{shapes.sd_steps} steps, batch 1", seconds, "s/image", f"{shapes.sd_size}px, CFG")


# --------------------------------------------------------------------------- sam, clip


def part_sam(rec: Recorder, shapes: Shapes) -> None:
    from PIL import Image
    from segment_anything import SamAutomaticMaskGenerator

    from gasr_hf.annotate.segments import SAM_ARCHITECTURES, TINY_SAM, build_sam, count_segments

    torch.manual_seed(0)
    arch = TINY_SAM if shapes.tiny else SAM_ARCHITECTURES[shapes.sam]
    sam = build_sam(arch).to(shapes.device)
    rng = np.random.default_rng(0)
    side = shapes.sam_image
    image = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    settings = {"default thresholds": {}, "every mask kept": {"pred_iou_thresh": 0.0,
                                                              "stability_score_thresh": 0.0}}  # fmt: skip
    for label, kwargs in settings.items():
        if not rec.allowed(label):
            continue
        generator = SamAutomaticMaskGenerator(
            sam, points_per_side=shapes.sam_points, output_mode="uncompressed_rle", **kwargs
        )
        count_segments(generator, image)  # warm-up
        seconds, masks = timed(lambda g=generator: count_segments(g, image), shapes.device)
        megapixels = side * side / 1e6
        rec.add(
            f"{shapes.sam}, {shapes.sam_points}x{shapes.sam_points} points, {label}",
            seconds / megapixels,
            "s/MP",
            f"{masks} masks (random weights)",
        )


def part_clip(rec: Recorder, shapes: Shapes) -> None:
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from gasr_hf.annotate.clip import LoadedClip, embed_images

    torch.manual_seed(0)
    if shapes.tiny:
        vision = {"image_size": 32, "patch_size": 8, "hidden_size": 16, "intermediate_size": 32,
                  "num_hidden_layers": 2, "num_attention_heads": 2}  # fmt: skip
        text = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                "num_attention_heads": 2}  # fmt: skip
        projection, crop = 8, 32
    else:
        # openai/clip-vit-large-patch14's config.json.
        vision = {"image_size": 224, "patch_size": 14, "hidden_size": 1024,
                  "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16}  # fmt: skip
        text = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                "num_attention_heads": 12}  # fmt: skip
        projection, crop = 768, 224
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection))
    model = model.to(shapes.device).eval()
    processor = CLIPImageProcessor(
        size={"shortest_edge": crop}, crop_size={"height": crop, "width": crop}
    )
    loaded = LoadedClip(model=model, processor=processor, device=shapes.device)
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
        for _ in range(shapes.clip_images)
    ]
    embed_images(loaded, images[:32], 32)  # warm-up
    if rec.allowed("images/s"):
        seconds, _ = timed(lambda: embed_images(loaded, images, 32), shapes.device)
        model_name = "tiny CLIP" if shapes.tiny else "ViT-L/14"
        rec.add(f"{model_name} embeddings, batch 32, fp32", len(images) / seconds, "images/s",
                "512px inputs, preprocessing included")  # fmt: skip


# --------------------------------------------------------------------------- sr training, scan


def train_rate(name: str, batch: int, hr: int, shapes: Shapes, scale: int = 4) -> float:
    """Training iterations/s of model ``name`` on random x``scale`` pairs: L1, Adam, bf16 autocast."""
    from gasr_hf.sr.models import build, tiny_config

    kwargs = tiny_config(name) if shapes.tiny else {}
    model = build(name, scale, **kwargs).to(shapes.device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    lr = torch.rand(batch, 3, hr // scale, hr // scale, device=shapes.device)
    target = torch.rand(batch, 3, hr, hr, device=shapes.device)
    device_type = "cuda" if shapes.device.startswith("cuda") else "cpu"

    def step() -> None:
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            loss = F.l1_loss(model(lr).float(), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    seconds, _ = timed(lambda: [step() for _ in range(shapes.train_steps)], shapes.device)
    return shapes.train_steps / seconds


def part_train(rec: Recorder, shapes: Shapes) -> None:
    shards = max(1, shapes.loader_images // 6)
    workers = min(8, os.cpu_count() or 1, shards)
    with tempfile.TemporaryDirectory() as tmp:
        source = make_shards(Path(tmp), shapes.loader_images, shards)
        for name, (batch, hr) in RECIPES.items():
            if not rec.allowed(f"{name} iterations/s", 0):
                continue
            batch, hr = max(1, batch // shapes.train_scale_down), hr // shapes.train_scale_down
            its = train_rate(name, batch, hr, shapes)
            delivered = pipeline_pairs_per_second(source, hr, batch, workers, shapes.loader_batches)
            need = its * batch
            keeps_up = "yes" if delivered >= need else f"no ({delivered / need:.0%})"
            rec.add(
                f"{name}, batch {batch} x {hr}px HR, bf16",
                its,
                "it/s",
                f"loader {delivered:.0f} pairs/s with {workers} workers for {need:.0f} needed: "
                f"keeps up {keeps_up}",
            )


def part_scan(rec: Recorder, shapes: Shapes) -> None:
    from gasr_hf.sr.models.selective_scan import mamba_kernel, selective_scan

    x = scan_inputs(False, shapes.device, shapes.scan_length)
    dim, length = x["u"].shape[1:]
    runs = {
        "naive loop (baseline)": lambda: naive_scan(**x),
        "chunked scan (ours)": lambda: selective_scan(**x, delta_softplus=True, use_kernel=False),
    }
    if mamba_kernel() is not None and shapes.device.startswith("cuda"):
        runs["mamba_ssm kernel"] = lambda: selective_scan(**x, delta_softplus=True, use_kernel=True)
    else:
        rec.add("mamba_ssm kernel", None, "", "not installed (or not on CUDA)")
    with torch.no_grad():
        reference = naive_scan(**x)
        for label, fn in runs.items():
            if not rec.allowed(label):
                continue
            fn()
            seconds, y = timed(fn, shapes.device)
            diff = float((y - reference).abs().max())
            rec.add(f"{label}, {dim} channels x {length} steps", seconds * 1e3, "ms",
                    f"max abs difference to naive {diff:.1e}")  # fmt: skip


PARTS: dict[str, Callable[[Recorder, Shapes], None]] = {
    "flux": part_flux,
    "sd21": part_sd21,
    "sam": part_sam,
    "clip": part_clip,
    "train": part_train,
    "scan": part_scan,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for gpu_check.json/.md")
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shapes = DRY if args.dry_run else FULL
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; use --dry-run to check the code paths on the CPU")
        return 2
    name = torch.cuda.get_device_name(0) if shapes.device == "cuda" else platform.processor()
    import diffusers

    meta = {
        "date": datetime.date.today().isoformat(),
        "device_name": name or "cpu",
        "dry_run": args.dry_run,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "cuda": torch.version.cuda,
    }
    rec = Recorder(args.out, meta)
    began = time.perf_counter()
    total_deadline = began + TOTAL_CAP_S
    failed = 0
    for part in args.parts:
        rec.begin(part, CAPS_S[part], total_deadline)
        start = time.perf_counter()
        try:
            PARTS[part](rec, shapes)
        except Exception as err:  # one part's failure is recorded; the others still run
            failed += 1
            traceback.print_exc()
            rec.end("error", time.perf_counter() - start, f"{type(err).__name__}: {err}"[:300])
        else:
            rec.end("done", time.perf_counter() - start)
        if shapes.device == "cuda":
            torch.cuda.empty_cache()
    print(rec.markdown())
    print(f"gpu_check: {time.perf_counter() - began:.0f} s; wrote {args.out}/gpu_check.json")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
