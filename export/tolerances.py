"""Numerical tolerances and fp16 policy, as data, per model family.

An exported output passes when every element satisfies ``|onnx - torch| <= atol + rtol * |torch|`` (numpy's
``allclose`` rule). fp32 graphs are compared with PyTorch fp32 in eval mode; fp16 graphs are compared with the
same fp32 PyTorch reference, so the fp16 numbers budget for the rounding of weights and activations to half.

Families not listed use ``DEFAULT``. Keys are registry families (``ganzoo.model_info(name).family``) or model
names; a model name wins over its family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["EPS", "Tolerance", "DEFAULT", "TOLERANCES", "FP16_KEEP_FP32", "get_tolerance", "fp32_modules_for"]


#: unit roundoff per precision; int8: one quantisation step of a tensor whose range is [-scale, scale] (2/256)
EPS = {"fp32": 2.0**-23, "fp16": 2.0**-10, "bf16": 2.0**-8, "int8": 2.0**-7}


@dataclass(frozen=True)
class Tolerance:
    """``|a - b| <= atol + rtol * |b| + noise * eps(dtype) * scale``.

    The last term is the rounding noise floor of the computation: ``scale`` is the largest magnitude of any
    intermediate activation PyTorch computed for the case (measured with forward hooks), ``eps`` the unit
    roundoff of the precision. It is negligible for well-scaled models (activations of order 1) and keeps
    the check honest for ill-conditioned ones, e.g. randomly initialised 16-block ResNets whose activations
    reach 1e4, where two correct fp32 implementations summing in different orders differ by ~1e-2.
    """

    atol: float
    rtol: float = 0.0
    noise: float = 16.0

    def __post_init__(self) -> None:
        if not (self.atol >= 0 and self.rtol >= 0 and self.noise >= 0):
            raise ValueError(f"tolerance must be non-negative, got atol={self.atol}, rtol={self.rtol}, "
                             f"noise={self.noise}")

    def allowance(self, dtype: str, scale: float) -> float:
        """The noise-floor term for activations of magnitude ``scale`` in ``dtype``."""
        return self.noise * EPS.get(dtype, EPS["fp32"]) * max(float(scale), 0.0)

    def __str__(self) -> str:
        return f"atol={self.atol:g}, rtol={self.rtol:g}, noise={self.noise:g}*eps*scale"


DEFAULT: Mapping[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-4),
    "fp16": Tolerance(atol=2e-2, rtol=2e-2),
    # OpenVINO's bf16 inference hint: weights and activations rounded to 8 significant bits, fp32 accumulation
    "bf16": Tolerance(atol=6e-2, rtol=6e-2, noise=1.0),
    # static int8 (QDQ, per-channel weights, per-tensor activations calibrated by MinMax): a few quantisation
    # steps of the output range per element; the task metric (tools/eval_precision.py) is the real check
    "int8": Tolerance(atol=1.5e-1, rtol=1e-1, noise=1.0),
}

# Deep or wide generators accumulate more rounding: their outputs are sums over many more terms.
TOLERANCES: Mapping[str, Mapping[str, Tolerance]] = {
    "dcgan": DEFAULT,
    # 16 residual blocks + two upsamplers: fp32 reordering of ~10^5-term sums, outputs in [-1, 1] or [0, 1]
    # bf16 / int8 without the noise term: measured on the real x4 weights (outputs in [-1, 1]) the bf16 hint is
    # off by <= 0.022 and int8 (first and last conv in float) by <= 0.19 at the worst pixel of small crops,
    # while the activation-scale allowance would be ~20; the PSNR check of tools/eval_precision.py is the real one
    "srgan": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=3e-2, rtol=3e-2),
              "bf16": Tolerance(atol=5e-2, rtol=5e-2, noise=0.0), "int8": Tolerance(atol=3e-1, rtol=0.0, noise=0.0)},
    "srresnet": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=3e-2, rtol=3e-2),
                 "bf16": Tolerance(atol=5e-2, rtol=5e-2, noise=0.0),
                 "int8": Tolerance(atol=3e-1, rtol=0.0, noise=0.0)},
    # dilated ResNet trunk with instance norms
    "pggan_inpaint": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=4e-2, rtol=4e-2)},
    # 3D transposed convs over 64^3 volumes, 512 input channels
    "gan3d": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=3e-2, rtol=3e-2)},
    "drgan": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=3e-2, rtol=3e-2)},
    "tgan": {"fp32": Tolerance(atol=2e-4, rtol=1e-4), "fp16": Tolerance(atol=3e-2, rtol=3e-2)},
}

# Layers kept in fp32 inside an fp16 graph (input cast up, output cast back down): normalisations whose
# variance of large activations overflows half (65504), and per family any layers named by fnmatch patterns
# over the module's qualified name inside the generator.
FP16_KEEP_FP32: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "default": {
        "types": ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm", "LayerNorm",
                  "LocalResponseNorm", "Softmax", "LogSoftmax"),
        "names": (),
    },
}


def _lookup(table: Mapping[str, object], model_name: str | None, family: str | None):
    for key in (model_name, family):
        if key and key in table:
            return table[key]
    return None


def get_tolerance(dtype: str, model_name: str | None = None, family: str | None = None) -> Tolerance:
    """The tolerance for ``dtype`` ("fp32", "fp16", "bf16" or "int8") of a model name / family, falling back to
    DEFAULT."""
    if dtype not in DEFAULT:
        raise ValueError(f"dtype must be one of {sorted(DEFAULT)}, got {dtype!r}")
    table = _lookup(TOLERANCES, model_name, family) or DEFAULT
    return table.get(dtype, DEFAULT[dtype])


def fp32_modules_for(model_name: str | None = None, family: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(module type names, qualified-name patterns) kept in fp32 by an fp16 export of this model."""
    base = FP16_KEEP_FP32["default"]
    extra = _lookup(FP16_KEEP_FP32, model_name, family) or {}
    types = tuple(dict.fromkeys(tuple(base["types"]) + tuple(extra.get("types", ()))))
    names = tuple(dict.fromkeys(tuple(base["names"]) + tuple(extra.get("names", ()))))
    return types, names
