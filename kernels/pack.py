"""Weight pre-packing and BatchNorm folding, done once when a model is optimised (in float64, then cast).

* conv weight (Cout, Cin, KH, KW) -> (KH, KW, Cin, Cout): K-major rows, output channels contiguous (the B operand
  of the implicit GEMM).
* transposed-conv weight (Cin, Cout, [KD,] KH, KW) -> ([KD,] KH, KW, Cin, Cout).
* nearest 2x + conv3x3 'same' (Cout, Cin, 3, 3) -> the (4, 4, Cin, Cout) weight of the equivalent k4/s2/p1
  transposed conv. Per axis, output row 2i reads input rows i-1, i with weights (w0, w1 + w2) and row 2i+1 reads
  i, i+1 with (w0 + w1, w2); as transposed-conv taps [w2, w1 + w2, w0 + w1, w0]. Exact (the upsampled tensor is never
  formed, 4 instead of 9 taps per output pixel).
* BatchNorm in eval mode: ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["bn_scale_shift", "fold_bn", "pack_conv_weight", "pack_conv_transpose_weight",
           "upsample_conv3x3_weight", "UPSAMPLE_TAPS"]

#: per axis: transposed-conv tap t (0..3) of nearest-2x + conv3x3 = sum of the 3x3 taps in row t
UPSAMPLE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)


def bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) in float64 with ``bn(x) == x * scale + shift`` in eval mode (per channel)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"{type(bn).__name__} without running statistics (track_running_stats=False) cannot be "
                         "folded: it normalises with the batch's own statistics")
    var = bn.running_var.detach().double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -bn.running_mean.detach().double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    return scale, shift


def fold_bn(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.Module | None, out_dim: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) in float64 with ``bn`` (or nothing) folded in; ``out_dim``: the weight's output-channel dim
    (0 for convs, 1 for transposed convs)."""
    w = weight.detach().double()
    cout = w.shape[out_dim]
    b = bias.detach().double() if bias is not None else torch.zeros(cout, dtype=torch.float64, device=w.device)
    if bn is None:
        return w, b
    scale, shift = bn_scale_shift(bn)
    shape = [1] * w.dim()
    shape[out_dim] = cout
    return w * scale.view(shape), b * scale + shift


def pack_conv_weight(w: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin, KH, KW) -> contiguous (KH, KW, Cin, Cout)."""
    return w.permute(2, 3, 1, 0).contiguous()


def pack_conv_transpose_weight(w: torch.Tensor) -> torch.Tensor:
    """(Cin, Cout, [KD,] KH, KW) -> contiguous ([KD,] KH, KW, Cin, Cout)."""
    nd = w.dim() - 2
    return w.permute(*range(2, 2 + nd), 0, 1).contiguous()


def upsample_conv3x3_weight(w: torch.Tensor) -> torch.Tensor:
    """A 3x3 conv weight (Cout, Cin, 3, 3) that follows a nearest 2x upsample -> the packed (4, 4, Cin, Cout)
    weight of the equivalent k4/s2/p1 transposed conv (pre-summed taps, float64 in, float64 out)."""
    if w.dim() != 4 or tuple(w.shape[2:]) != (3, 3):
        raise ValueError(f"upsample_conv3x3_weight: expected a (Cout, Cin, 3, 3) weight, got {tuple(w.shape)}")
    t = UPSAMPLE_TAPS.to(device=w.device)
    wt = torch.einsum("yk,xl,oikl->yxio", t, t, w.double())
    return wt.contiguous()
