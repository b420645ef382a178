"""The selective scan of Mamba (S6) in pure PyTorch, with the ``mamba_ssm`` CUDA kernel when present.

The recurrence, per batch ``b``, channel ``d`` and state ``n``::

    h[t] = exp(delta[t] * A[d, n]) * h[t - 1] + delta[t] * B[t, n] * u[t]
    y[t] = sum_n C[t, n] * h[t] + D[d] * u[t]

Without the kernel, the linear recurrence ``h[t] = a[t] * h[t - 1] + x[t]`` is solved by a blocked
parallel scan: the sequence is cut into chunks, each chunk is scanned with log2(chunk) doubling steps
(Hillis-Steele), and the chunk totals are scanned the same way one level up, so there is no Python
loop over the sequence. Only products of decays in (0, 1] and sums are formed, never ``exp(-S)`` of a
cumulative sum, so it cannot overflow however fast the state decays. The backward pass is written
out (it is the same recurrence run in reverse), so autograd keeps no ``(..., length, state)``
intermediates; with ``recompute`` it keeps none at all and reruns the forward scan instead, like
the CUDA kernel does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 16


@functools.cache
def mamba_kernel() -> Callable[..., torch.Tensor] | None:
    """``mamba_ssm``'s fused ``selective_scan_fn`` when that package imports, else ``None``."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    logger.info("using the mamba_ssm CUDA kernel for the selective scan on CUDA tensors")
    return selective_scan_fn


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    *,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    use_kernel: bool = True,
    recompute: bool = True,
) -> torch.Tensor:
    """Run the selective scan; arguments and shapes follow ``mamba_ssm``'s ``selective_scan_fn``.

    Args:
        u: input, ``(batch, dim, length)``.
        delta: step sizes, ``(batch, dim, length)``; ``delta_bias`` is added and, with
            ``delta_softplus``, softplus applied before use.
        A: state matrix (diagonal), ``(dim, state)``; negative entries make the state decay.
        B, C: input and output projections, ``(batch, groups, state, length)``; the channels are
            split into ``groups`` consecutive blocks that share one B and C.
        D: skip weight, ``(dim,)``.
        chunk_size: chunk length of the pure-PyTorch scan (work grows with log2 of it).
        use_kernel: use ``mamba_ssm``'s CUDA kernel for CUDA tensors when it is installed.
        recompute: for the backward pass of the pure-PyTorch scan, recompute the states instead
            of keeping them: one more scan, but no ``(batch, dim, length, state)`` tensor is held
            between forward and backward.

    Returns:
        ``(batch, dim, length)`` in float32 (float64 if the inputs are float64).
    """
    _check_shapes(u, delta, A, B, C, D, delta_bias)
    if chunk_size < 2:
        raise ValueError(f"chunk_size must be at least 2, got {chunk_size}")
    kernel = mamba_kernel() if use_kernel and u.is_cuda else None
    if kernel is not None:
        return kernel(
            u.contiguous(),
            delta.contiguous(),
            A.contiguous(),
            B.contiguous(),
            C.contiguous(),
            D,
            z=None,
            delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            return_last_state=False,
        )

    dtype = torch.promote_types(u.dtype, torch.float32)
    batch, dim, length = u.shape
    groups, state = B.shape[1], A.shape[1]
    u = u.to(dtype)
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    # layout (batch, groups, dim // groups, length, state): the scan runs along dim -2
    y = _SelectiveScan.apply(
        u.view(batch, groups, dim // groups, length),
        delta.view(batch, groups, dim // groups, length),
        A.to(dtype).view(groups, dim // groups, state),
        B.to(dtype).transpose(-1, -2).unsqueeze(2),
        C.to(dtype).transpose(-1, -2).unsqueeze(2),
        chunk_size,
        recompute,
    ).reshape(batch, dim, length)
    if D is not None:
        y = y + D.to(dtype)[:, None] * u
    return y


def _check_shapes(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
) -> None:
    if u.dim() != 3:
        raise ValueError(f"u must be (batch, dim, length), got shape {tuple(u.shape)}")
    batch, dim, length = u.shape
    if delta.shape != u.shape:
        raise ValueError(f"delta must have u's shape {tuple(u.shape)}, got {tuple(delta.shape)}")
    if A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f"A must be ({dim}, state), got shape {tuple(A.shape)}")
    state = A.shape[1]
    for name, proj in (("B", B), ("C", C)):
        ok = proj.dim() == 4 and proj.shape[0] == batch and proj.shape[2:] == (state, length)
        if not ok or dim % proj.shape[1] != 0:
            raise ValueError(
                f"{name} must be ({batch}, groups, {state}, {length}) with groups dividing {dim}, "
                f"got shape {tuple(proj.shape)}"
            )
    for name, vec in (("D", D), ("delta_bias", delta_bias)):
        if vec is not None and vec.shape != (dim,):
            raise ValueError(f"{name} must have shape ({dim},), got {tuple(vec.shape)}")


class _SelectiveScan(torch.autograd.Function):
    """``y = sum_n C * h`` with ``h[t] = exp(delta[t] A) h[t - 1] + delta[t] u[t] B[t]``.

    Shapes: u, delta ``(b, g, d, l)``; A ``(g, d, n)``; B, C ``(b, g, 1, l, n)``; y ``(b, g, d, l)``.
    Backward: the gradient reaching the state, ``r[t] = C[t] dy[t] + a[t + 1] r[t + 1]``, is the
    recurrence run in reverse; then ``dL/dx[t] = r[t]`` and ``dL/da[t] = r[t] h[t - 1]`` for the
    decay ``a = exp(delta A)`` and the drive ``x = delta u B``, and the chain rule does the rest.
    """

    @staticmethod
    def forward(
        ctx,
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: torch.Tensor,
        chunk_size: int,
        recompute: bool,
    ) -> torch.Tensor:
        decay, drive = _decay_and_drive(u, delta, A, B)
        h = _scan(decay, drive, chunk_size, reverse=False)
        ctx.chunk_size = chunk_size
        ctx.save_for_backward(u, delta, A, B, C, None if recompute else h)
        return (h * C).sum(-1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        u, delta, A, B, C, h = ctx.saved_tensors
        decay, drive = _decay_and_drive(u, delta, A, B)
        if h is None:
            h = _scan(decay, drive, ctx.chunk_size, reverse=False)
        grad_c = (h * grad_y.unsqueeze(-1)).sum(2, keepdim=True)
        # r[t] = C[t] dy[t] + a[t + 1] r[t + 1]
        decay_next = F.pad(decay[..., 1:, :], (0, 0, 0, 1))
        r = _scan(decay_next, grad_y.unsqueeze(-1) * C, ctx.chunk_size, reverse=True)
        grad_log_decay = r * F.pad(h[..., :-1, :], (0, 0, 1, 0)) * decay  # dL/d(delta * A)
        r_b = (r * B).sum(-1)  # dL/d(delta * u)
        grad_u = r_b * delta
        grad_delta = r_b * u + (grad_log_decay * A.unsqueeze(-2)).sum(-1)
        grad_a = (grad_log_decay * delta.unsqueeze(-1)).sum((0, 3))
        grad_b = (r * (delta * u).unsqueeze(-1)).sum(2, keepdim=True)
        return grad_u, grad_delta, grad_a, grad_b, grad_c, None, None


def _decay_and_drive(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(delta A)`` and ``delta u B``, both ``(b, g, d, l, n)``."""
    decay = torch.exp(delta.unsqueeze(-1) * A.unsqueeze(-2))
    return decay, (delta * u).unsqueeze(-1) * B


def _scan(a: torch.Tensor, x: torch.Tensor, chunk_size: int, reverse: bool) -> torch.Tensor:
    """``h[t] = a[t] h[t - 1] + x[t]`` along dim -2 (``h[t + 1]`` with ``reverse``), from a zero
    state; the inputs are left untouched.

    Chunks are scanned in parallel; the chunk totals are then scanned recursively and carried in.
    """
    length, state = a.shape[-2:]
    if length <= chunk_size:
        x = x.clone()
        _doubling_scan_(a.clone(), x, reverse)
        return x
    chunks = -(-length // chunk_size)
    pad = chunks * chunk_size - length
    shape = (*a.shape[:-2], chunks, chunk_size, state)
    # F.pad copies even when pad == 0; padding at the end is inert in either direction
    a = F.pad(a, (0, 0, 0, pad), value=1.0).reshape(shape)
    x = F.pad(x, (0, 0, 0, pad)).reshape(shape)
    _doubling_scan_(a, x, reverse)
    # a chunk's total sits at its last step (first, in reverse); carry in the neighbour's state
    end = 0 if reverse else -1
    totals = _scan(a[..., end, :], x[..., end, :], chunk_size, reverse)
    if reverse:
        x[..., :-1, :, :] += a[..., :-1, :, :] * totals[..., 1:, None, :]
    else:
        x[..., 1:, :, :] += a[..., 1:, :, :] * totals[..., :-1, None, :]
    return x.reshape(*shape[:-3], chunks * chunk_size, state)[..., :length, :]


def _doubling_scan_(a: torch.Tensor, x: torch.Tensor, reverse: bool) -> None:
    """Hillis-Steele inclusive scan along dim -2, in place: ``x`` becomes ``h`` and ``a`` the
    running products; log2(length) steps, each over the whole tensor."""
    length = a.shape[-2]
    shift = 1
    while shift < length:
        # step "to" takes in the state of step "src", shift steps before it in scan order;
        # each right-hand side is computed in full before the in-place write
        if reverse:
            to, src = slice(None, -shift), slice(shift, None)
        else:
            to, src = slice(shift, None), slice(None, -shift)
        x[..., to, :] += a[..., to, :] * x[..., src, :]
        a[..., to, :] = a[..., to, :] * a[..., src, :]
        shift *= 2
