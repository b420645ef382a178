"""The procedural renderer's finishing pass: softness over part of the page, a wash, grain, and a
dead-leaves ground."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from gasr_hf.generate.procedural import finish as finish_module
from gasr_hf.generate.procedural import render_artwork
from gasr_hf.generate.procedural.finish import (
    BACKEND_STEPS,
    STEPS,
    Finish,
    apply_finish,
    dead_leaves,
    draw_finish,
)

OFF = Finish(blur_sigma=0.0, blur_cover=0.0, wash=0.0, grain=0.0)


def stripes(size: int = 256, grey: bool = False) -> Image.Image:
    """Hard-edged vertical stripes: every pixel column is next to an edge within 4 px."""
    image = Image.new("RGB", (size, size), (240, 240, 240) if grey else (230, 200, 40))
    draw = ImageDraw.Draw(image)
    for x in range(0, size, 8):
        draw.rectangle((x, 0, x + 3, size), fill=(20, 20, 20) if grey else (30, 60, 200))
    return image


def edge_energy(pixels: np.ndarray) -> np.ndarray:
    """Per-row-block mean absolute horizontal difference (64 x 64 blocks), grey levels."""
    grey = pixels.astype(np.float64).mean(axis=2)
    diff = np.abs(np.diff(grey, axis=1))[:, :252]
    return diff.reshape(4, 64, 4, 63).mean(axis=(1, 3))


def test_off_leaves_pixels_and_same_seed_same_pixels() -> None:
    image = stripes()
    assert np.array_equal(np.asarray(apply_finish(image, OFF, 1)), np.asarray(image))
    finish = Finish(blur_sigma=1.5, blur_cover=0.5, wash=0.05, grain=3.0)
    first = np.asarray(apply_finish(image, finish, 7))
    assert np.array_equal(first, np.asarray(apply_finish(image, finish, 7)))
    assert not np.array_equal(first, np.asarray(apply_finish(image, finish, 8)))


def test_softness_varies_over_the_page() -> None:
    image = stripes()
    sharp = edge_energy(np.asarray(image))
    for seed in range(3):
        soft = edge_energy(np.asarray(apply_finish(image, Finish(2.0, 0.5, 0.0, 0.0), seed)))
        ratio = soft / sharp
        assert ratio.max() <= 1.0 + 1e-9
        assert ratio.min() < 0.6  # some blocks are clearly softened
        assert ratio.max() - ratio.min() > 0.3  # others much less


def test_grain_has_the_asked_strength_and_wash_keeps_grey_art_grey() -> None:
    flat = Image.new("RGB", (256, 256), (128, 128, 128))
    grained = np.asarray(apply_finish(flat, Finish(0.0, 0.0, 0.0, 4.0), 5)).astype(float)
    assert 3.0 < grained[..., 0].std() < 5.0
    washed = np.asarray(apply_finish(stripes(grey=True), Finish(0.0, 0.0, 0.08, 2.0), 5))
    washed = washed.astype(int)
    assert np.abs(washed - washed.mean(axis=2, keepdims=True)).max() <= 1


def test_draws_cover_every_mix_of_steps_and_the_renderer_applies_them_when_asked() -> None:
    draws = [draw_finish(random.Random(seed)) for seed in range(200)]
    assert any(d == OFF for d in draws)  # some images stay fully crisp
    for step in ("blur_sigma", "wash", "grain"):
        share = np.mean([getattr(d, step) > 0 for d in draws])
        assert 0.3 < share < 0.8, step
    row = {"seed": 11, "style": "Bauhaus", "components": ["a movie poster", "an owl"]}
    crisp = np.asarray(render_artwork(row, 128, 128, finish=()))
    finished = np.asarray(render_artwork(row, 128, 128, finish=STEPS))
    assert crisp.shape == finished.shape and not np.array_equal(crisp, finished)
    assert np.array_equal(finished, np.asarray(render_artwork(row, 128, 128, finish=STEPS)))
    grounds = [draw_finish(random.Random(seed), BACKEND_STEPS) for seed in range(50)]
    assert all(
        d.blur_sigma == d.wash == d.grain == 0 for d in grounds
    )  # the backend's: ground only
    assert any(d.ground > 0 for d in grounds) and any(d.ground == 0 for d in grounds)
    for seed in range(50):  # a step's on/off does not depend on which steps are asked for
        full, only = draw_finish(random.Random(seed)), draw_finish(random.Random(seed), ("ground",))
        assert (full.ground > 0) == (only.ground > 0)


def test_dead_leaves_ground_fills_only_the_flat_background() -> None:
    image = Image.new("RGB", (256, 256), (245, 240, 230))
    ImageDraw.Draw(image).rectangle((64, 64, 191, 191), fill=(200, 30, 30))
    before = np.asarray(image).astype(int)
    after = np.asarray(apply_finish(image, Finish(0.0, 0.0, 0.0, 0.0, ground=0.8), 4)).astype(int)
    changed = np.abs(after - before).max(axis=2) > 0
    assert changed[:48].mean() > 0.5  # the background is textured
    assert not changed[72:184, 72:184].any()  # the drawn shape, away from its edge, is untouched
    grey = after[:48].mean(axis=2)
    assert grey.std() > 3  # discs of several colours, not one tint
    again = np.asarray(apply_finish(image, Finish(0.0, 0.0, 0.0, 0.0, ground=0.8), 4))
    assert np.array_equal(after, again)


def test_the_backend_default_textures_some_backgrounds_and_keeps_grey_art_grey() -> None:
    rows = [{"seed": s, "style": "Bauhaus", "components": ["a movie poster"]} for s in range(8)]
    textured = 0
    for row in rows:
        plain = np.asarray(render_artwork(row, 96, 96, finish=()))
        default = np.asarray(render_artwork(row, 96, 96))
        if not np.array_equal(plain, default):
            textured += 1
            assert np.array_equal(
                default, np.asarray(render_artwork(row, 96, 96, finish=("ground",)))
            )
    assert 0 < textured < len(rows)  # the ground is on for some images, not all
    page = Image.new("RGB", (128, 128), (240, 240, 240))
    ImageDraw.Draw(page).rectangle((30, 30, 90, 90), outline=(20, 20, 20), width=4)
    grounded = np.asarray(apply_finish(page, Finish(0.0, 0.0, 0.0, 0.0, ground=0.8), 2)).astype(int)
    assert not np.array_equal(grounded, np.asarray(page))
    assert np.abs(grounded - grounded.mean(axis=2, keepdims=True)).max() <= 1


def test_every_step_on_tiny_images() -> None:
    every = Finish(blur_sigma=1.0, blur_cover=0.5, wash=0.05, grain=3.0, ground=0.5)
    for size in ((1, 1), (8, 8), (1, 9), (17, 5)):
        image = Image.new("RGB", size, (120, 130, 140))
        out = np.asarray(apply_finish(image, every, 1)).astype(int)
        assert out.shape == (size[1], size[0], 3)
        assert np.abs(out - np.array([120, 130, 140])).max() < 40  # no blow-up


def test_dead_leaves_culling_changes_no_support_pixel(monkeypatch) -> None:
    # The discs left out (away from the support) must not show there: the support pixels are the
    # same as with every disc drawn, and the random stream ends in the same state.
    colours = np.array([[200, 40, 40], [30, 160, 60], [20, 20, 200], [240, 240, 240]])
    size = (600, 500)  # not a multiple of the block side
    support = np.zeros((500, 600), bool)
    support[40:90, 20:560] = True
    support[300:, 350:] = True
    support[250, 5] = True  # a lone pixel
    kept = []
    real_culled = finish_module._culled

    def counting(boxes, size, support):
        culled = real_culled(boxes, size, support)
        kept.append(int((~culled).sum()))
        return culled

    monkeypatch.setattr(finish_module, "_culled", counting)
    rng = np.random.default_rng(3)
    culled = np.asarray(dead_leaves(size, colours, rng, 20_000, support=support))
    after_culled = rng.random()
    assert kept[0] < 0.5 * 20_000  # the test leaves most discs out
    monkeypatch.setattr(finish_module, "_culled", lambda b, s, u: np.zeros(len(b), bool))
    rng = np.random.default_rng(3)
    everything = np.asarray(dead_leaves(size, colours, rng, 20_000, support=support))
    assert np.array_equal(culled[support], everything[support])
    assert not np.array_equal(culled, everything)  # elsewhere discs were left out
    assert rng.random() == after_culled


def test_erosion_and_inks_are_what_scipy_and_pillow_give() -> None:
    # The ground's two hand-written fast paths against the library calls they stand in for.
    from scipy import ndimage

    rng = np.random.default_rng(5)
    for shape, density in [((37, 53), 0.8), ((64, 64), 0.97), ((1, 9), 1.0), ((6, 1), 1.0)]:
        mask = rng.random(shape) < density
        for iterations in (1, 3):
            expected = ndimage.binary_erosion(mask, iterations=iterations)
            assert np.array_equal(finish_module._eroded(mask, iterations), expected)
    core = ImageDraw.Draw(Image.new("RGB", (4, 4))).draw
    fills = np.concatenate([rng.integers(0, 256, (500, 3)), [[0, 0, 0], [255, 255, 255]]])
    assert finish_module._inks(core, fills) == [core.draw_ink(tuple(f)) for f in fills.tolist()]
