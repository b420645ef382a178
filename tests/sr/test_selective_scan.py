"""The parallel selective scan against the step-by-step recurrence, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gasr_hf.sr.models.selective_scan import selective_scan


def naive_scan(u, delta, A, B, C, D, delta_bias, delta_softplus):
    """One time step at a time, as in mamba_ssm's reference implementation."""
    batch, dim, length = u.shape
    groups = B.shape[1]
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    B = B.repeat_interleave(dim // groups, dim=1)
    C = C.repeat_interleave(dim // groups, dim=1)
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for t in range(length):
        step = delta[:, :, t, None]
        h = torch.exp(step * A) * h + step * B[:, :, :, t] * u[:, :, t, None]
        ys.append((h * C[:, :, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    return y if D is None else y + D[:, None] * u


def make_inputs(batch, dim, length, state, groups, *, decay_scale=4.0, seed=0):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    return {
        "u": rand(batch, dim, length),
        "delta": rand(batch, dim, length),
        "A": -decay_scale * torch.rand(dim, state, generator=gen, dtype=torch.float64),
        "B": rand(batch, groups, state, length),
        "C": rand(batch, groups, state, length),
        "D": rand(dim),
        "delta_bias": rand(dim),
    }


SHAPES = [
    # batch, dim, length, state, groups, chunk_size
    (2, 4, 1, 3, 1, 4),  # a single step
    (1, 6, 5, 2, 2, 8),  # shorter than one chunk
    (2, 8, 64, 4, 4, 16),  # exactly four chunks
    (2, 8, 70, 3, 4, 4),  # ragged last chunk, three levels of chunks
    (1, 4, 300, 2, 1, 2),  # many levels
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("recompute", [False, True])
def test_scan_matches_recurrence_forward_and_backward(shape, recompute):
    *dims, chunk_size = shape
    inputs = make_inputs(*dims)
    for tensor in inputs.values():
        tensor.requires_grad_(True)
    ours = selective_scan(**inputs, delta_softplus=True, chunk_size=chunk_size, recompute=recompute)
    reference = naive_scan(**inputs, delta_softplus=True)
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-10)

    weight = torch.randn(
        ours.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    grads = torch.autograd.grad((ours * weight).sum(), list(inputs.values()))
    expected = torch.autograd.grad((reference * weight).sum(), list(inputs.values()))
    for name, got, want in zip(inputs, grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, msg=f"gradient of {name}")


def test_scan_without_optional_inputs():
    inputs = make_inputs(2, 4, 37, 3, 2)
    inputs.update(D=None, delta_bias=None)
    inputs["delta"] = inputs["delta"].abs()
    ours = selective_scan(**inputs, chunk_size=8)
    torch.testing.assert_close(ours, naive_scan(**inputs, delta_softplus=False))


def test_scan_is_stable_under_fast_decay():
    # exp(-cumsum(delta * A)) would overflow here; products of decays cannot
    inputs = make_inputs(1, 4, 200, 3, 1, decay_scale=500.0)
    inputs["delta"] = inputs["delta"] + 5.0
    ours = selective_scan(**inputs, delta_softplus=True, chunk_size=64)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, naive_scan(**inputs, delta_softplus=True))


def test_scan_float32_returns_float32():
    inputs = {k: v.float() for k, v in make_inputs(1, 4, 50, 2, 1).items()}
    ours = selective_scan(**inputs, delta_softplus=True)
    assert ours.dtype == torch.float32
    reference = naive_scan(**{k: v.double() for k, v in inputs.items()}, delta_softplus=True)
    torch.testing.assert_close(ours.double(), reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("delta", torch.zeros(2, 4, 9), "delta must have"),
        ("A", torch.zeros(5, 3), "A must be"),
        ("B", torch.zeros(2, 3, 3, 10), "B must be"),
        ("C", torch.zeros(2, 1, 3, 9), "C must be"),
        ("D", torch.zeros(3), "D must have"),
    ],
)
def test_scan_rejects_bad_shapes(name, bad, message):
    inputs = {k: v.float() for k, v in make_inputs(2, 4, 10, 3, 2).items()}
    inputs[name] = bad
    with pytest.raises(ValueError, match=message):
        selective_scan(**inputs)
