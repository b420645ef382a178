"""Generation speed: the procedural backend on CPU and a full-size FLUX.1-dev transformer on a GPU.

CPU part (always): procedural images per second at 1024x1024, against the baseline of PNG-encoding
the same images (the cost every lossless row pays whatever the backend).

GPU part (when CUDA is present): seconds per 1024x1024 image of the FLUX.1-dev transformer built from
its published config with random bf16 weights, 28 denoising steps, batch 1 and 4, eager (baseline)
vs torch.compile vs First Block Cache, next to the bf16 compute bound = transformer FLOPs per step
x 28 / 790 TFLOP/s. Text encoders are not run (their cost, once per prompt, is a small fraction);
the full-size VAE decode is timed apart. Random weights make First Block Cache's skip rate
unrepresentative of the trained model: its row shows the mechanism's cost, not its real speed-up.

    python benchmarks/generation.py [--images 16] [--skip-gpu]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

FLUX_DEV_TRANSFORMER = {
    "patch_size": 1,
    "in_channels": 64,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": True,
    "axes_dims_rope": (16, 56, 56),
}
FLUX_DEV_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 16,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
}
STEPS = 28
PEAK_TFLOPS = 790.0
IMAGE_TOKENS, TEXT_TOKENS = 4096, 512  # 1024x1024 -> 128x128 latents -> 64x64 patches; T5 length


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def bench_cpu(n_images: int) -> None:
    from gasr_hf.generate import BackendConfig, generate
    from gasr_hf.generate.procedural import render_artwork
    from gasr_hf.prompts import build_prompts

    prompts = build_prompts("artwork", n_images, 0)
    rows = prompts.to_list()
    render_artwork(rows[0], 1024, 1024)
    began = time.perf_counter()
    images = [render_artwork(row, 1024, 1024) for row in rows]
    render_s = (time.perf_counter() - began) / n_images
    began = time.perf_counter()
    sizes = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        sizes.append(buffer.tell())
    png_s = (time.perf_counter() - began) / n_images

    import tempfile

    with tempfile.TemporaryDirectory() as out:
        report = generate(prompts, out, BackendConfig(width=1024, height=1024), chunk_size=8)
    end_to_end_s = 1 / report["this_run"]["images_per_second"]
    _table(
        f"procedural backend, 1024x1024, CPU, {n_images} images "
        f"(mean PNG {statistics.mean(sizes) / 1e6:.2f} MB)",
        ("stage", "s/image", "images/s", "time vs baseline"),
        [
            ("PNG encode only (baseline)", f"{png_s:.3f}", f"{1 / png_s:.2f}", "1.00x"),
            (
                "procedural render",
                f"{render_s:.3f}",
                f"{1 / render_s:.2f}",
                f"{render_s / png_s:.2f}x",
            ),
            (
                "generate() into shards",
                f"{end_to_end_s:.3f}",
                f"{1 / end_to_end_s:.2f}",
                f"{end_to_end_s / png_s:.2f}x",
            ),
        ],
    )


def transformer_flops_per_step(batch: int = 1) -> float:
    """FLOPs of one FLUX.1-dev transformer forward at 1024x1024, counted on the meta device."""
    import torch
    from diffusers import FluxTransformer2DModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = FluxTransformer2DModel(**FLUX_DEV_TRANSFORMER).to(torch.bfloat16)
        inputs = _transformer_inputs(batch, "meta")
    with FlopCounterMode(display=False) as counter:
        model(**inputs)
    return float(counter.get_total_flops())


def _transformer_inputs(batch: int, device: str) -> dict:
    import torch

    bf16 = torch.bfloat16
    return {
        "hidden_states": torch.randn(batch, IMAGE_TOKENS, 64, device=device, dtype=bf16),
        "encoder_hidden_states": torch.randn(batch, TEXT_TOKENS, 4096, device=device, dtype=bf16),
        "pooled_projections": torch.randn(batch, 768, device=device, dtype=bf16),
        "timestep": torch.full((batch,), 1.0, device=device, dtype=bf16),
        "img_ids": torch.zeros(IMAGE_TOKENS, 3, device=device),
        "txt_ids": torch.zeros(TEXT_TOKENS, 3, device=device),
        "guidance": torch.full((batch,), 3.5, device=device, dtype=bf16),
        "return_dict": False,
    }


def _denoise(model, inputs: dict) -> None:
    """28 Euler steps of flow matching, as FluxPipeline runs them (without the scheduler object)."""
    import torch

    latents = inputs["hidden_states"]
    sigmas = torch.linspace(1.0, 1.0 / STEPS, STEPS + 1, device=latents.device)
    with model.cache_context("cond"):
        for i in range(STEPS):
            step = {**inputs, "hidden_states": latents, "timestep": inputs["timestep"] * sigmas[i]}
            velocity = model(**step)[0]
            latents = latents + (sigmas[i + 1] - sigmas[i]) * velocity
    _sync(latents.device)


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def bench_gpu(flops_per_step: float, device: str = "cuda") -> list[tuple[str, ...]]:
    import torch
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from diffusers.hooks import FirstBlockCacheConfig

    torch.manual_seed(0)
    with torch.device(device):
        model = FluxTransformer2DModel(**FLUX_DEV_TRANSFORMER).to(torch.bfloat16).eval()
        vae = AutoencoderKL(**FLUX_DEV_VAE).to(torch.bfloat16).eval()
    bound = flops_per_step * STEPS / (PEAK_TFLOPS * 1e12)
    rows: list[tuple[str, ...]] = []
    with torch.inference_mode():
        side = IMAGE_TOKENS**0.5 * 2
        latents = torch.randn(1, 16, int(side), int(side), device=device, dtype=torch.bfloat16)
        vae.decode(latents)
        _sync(device)
        began = time.perf_counter()
        vae.decode(latents)
        _sync(device)
        vae_s = time.perf_counter() - began
        for batch in (1, 4):
            inputs = _transformer_inputs(batch, device)
            variants = [("eager (baseline)", model, False), ("torch.compile", None, False)]
            variants.append(("First Block Cache 0.08", model, True))
            eager_s = None
            for name, runner, fbc in variants:
                if runner is None:
                    runner = torch.compile(model)
                if fbc:
                    model.enable_cache(FirstBlockCacheConfig(threshold=0.08))
                began = time.perf_counter()
                _denoise(runner, inputs)
                warmup_s = time.perf_counter() - began
                began = time.perf_counter()
                _denoise(runner, inputs)
                per_image = (time.perf_counter() - began) / batch
                if fbc:
                    model.disable_cache()
                eager_s = eager_s or per_image
                rows.append(
                    (
                        str(batch),
                        name,
                        f"{per_image:.2f}",
                        f"{eager_s / per_image:.2f}x",
                        f"{bound:.2f}",
                        f"{bound / per_image:.0%}",
                        f"{warmup_s:.1f}",
                    )
                )
                print(rows[-1], flush=True)
    rows.append(("1", "VAE decode (apart)", f"{vae_s:.3f}", "", "", "", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="procedural images to time")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-gpu", action="store_true")
    args = parser.parse_args()
    if not args.skip_cpu:
        bench_cpu(args.images)

    import torch

    flops = transformer_flops_per_step()
    bound = flops * STEPS / (PEAK_TFLOPS * 1e12)
    print(
        f"\nFLUX.1-dev transformer at 1024x1024: {flops / 1e12:.1f} TFLOP per step; "
        f"compute bound {bound:.2f} s per image ({STEPS} steps at {PEAK_TFLOPS:.0f} TFLOP/s bf16)"
    )
    if args.skip_gpu or not torch.cuda.is_available():
        print("GPU part not measured: no CUDA device" + (" (--skip-gpu)" if args.skip_gpu else ""))
        return
    rows = bench_gpu(flops)
    _table(
        f"FLUX.1-dev transformer (random bf16 weights), 1024x1024, {STEPS} steps, "
        f"{torch.cuda.get_device_name()}",
        ("batch", "variant", "s/image", "vs eager", "bound s/image", "of bound", "first run s"),
        rows,
    )


if __name__ == "__main__":
    main()
