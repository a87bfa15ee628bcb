"""Data-parallel training: the same recipe on one process or on N under ``torchrun``.

    torchrun --nproc_per_node 2 -m ganzoo.train.dcgan --model dcgan_32 --batch-size 64 --out runs/x   # 2 CPU procs
    torchrun --nproc_per_node 8 -m ganzoo.train.pggan_inpaint ... --device cuda                        # 8 GPUs

Every process draws the same *global* batch from the same seeded generator and keeps its own contiguous slice
(:meth:`DistContext.shard`); the networks are wrapped in ``DistributedDataParallel`` (gradients averaged over the
processes: gloo on CPU, NCCL on GPU), and BatchNorm layers are switched to :class:`SyncBatchNorm`, which normalises
with the statistics of the global batch. So N processes compute what one process computes on the global batch,
up to floating-point summation order (tests/test_distributed.py: after one step, 99.99% of the parameter elements
within 1e-6 of the one-process run; the rest are elements whose gradient is zero up to rounding, which Adam moves by
about its learning rate either way). Over many steps two such runs drift apart as any two GAN runs with another
summation order do.
torch's own ``nn.SyncBatchNorm`` runs on GPUs only; this one runs wherever ``torch.distributed`` does.

Only rank 0 writes files and shows a progress bar.
"""
from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

logger = logging.getLogger(__name__)

__all__ = ["DistContext", "setup", "shutdown", "SyncBatchNorm", "convert_sync_batchnorm"]


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size`` (1 without torchrun), its ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def check_batch(self, batch_size: int) -> None:
        """ValueError unless the global batch splits evenly over the processes (every slice the same size keeps
        the averaged gradient equal to the global batch's)."""
        if batch_size % self.world_size:
            raise ValueError(f"--batch-size {batch_size} must be a multiple of the number of processes "
                             f"({self.world_size}): each takes an equal slice of the global batch")

    def shard(self, x: torch.Tensor) -> torch.Tensor:
        """This process's contiguous slice of a global batch ``x`` (B, ...) -> (B / world_size, ...)."""
        if not self.distributed:
            return x
        n = x.shape[0] // self.world_size
        return x[self.rank * n:(self.rank + 1) * n]

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` itself on one process; ``DistributedDataParallel(module)`` under torchrun. BatchNorm layers
        become :class:`SyncBatchNorm` first, so buffers stay equal on every process without broadcasting."""
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        convert_sync_batchnorm(module)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over the processes (for logging)."""
        if not self.distributed:
            return float(value)
        t = value.detach().reshape(1).to(self.device, torch.float64)
        dist.all_reduce(t)
        return float(t) / self.world_size

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup(device: str | torch.device | None = None) -> DistContext:
    """The context of this process, starting the process group when torchrun launched it (``WORLD_SIZE`` > 1).

    device: ``"cpu"``, ``"cuda"`` (each process takes GPU ``LOCAL_RANK``) or None (cuda when available).
    Backend: NCCL for CUDA, gloo for the CPU. Raises ValueError for a device that is not available."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' is not available here (no CUDA device or a CPU-only torch build)")
        dev = torch.device("cuda", local if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    elif dev.type != "cpu":
        raise ValueError(f"training runs on 'cpu' or 'cuda', got {str(dev)!r}")
    if world <= 1:
        return DistContext(device=dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=10))
    logger.info("rank %d of %d on %s (%s)", rank, world, dev, backend)
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev, backend=backend)


def shutdown(ctx: DistContext) -> None:
    """End the process group (every process must call it, or the launcher sees an abort at exit)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over the global batch of all processes, on CPU (gloo) and GPU (NCCL) alike.

    In training mode with an initialised process group, the per-channel sum and count, then the sum of squared
    deviations from the global mean, are all-reduced (differentiably: ``torch.distributed.nn.functional.all_reduce``),
    the batch is normalised with the global mean and biased variance, and the running statistics are updated with
    the global unbiased variance, as one process with the whole batch would. Otherwise it is ordinary ``F.batch_norm``. Parameters, buffers and
    state-dict keys are those of the BatchNorm it replaces (:func:`convert_sync_batchnorm`).
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input of at least 2 dims (B, C, ...), got shape {tuple(input.shape)}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        c = input.shape[1]
        dims = [0, *range(2, input.dim())]
        x = input.float()
        count = torch.full((1,), x.numel() / c, dtype=torch.float32, device=x.device)
        stats = all_reduce(torch.cat([x.sum(dims), count]))
        n = stats[-1]
        mean = stats[:c] / n
        shape = (1, c) + (1,) * (input.dim() - 2)
        # two passes: E[x^2] - E[x]^2 cancels catastrophically in float32 where a channel's mean is large against
        # its spread (measured: a random SRGAN discriminator's features, which then trained visibly differently)
        var = all_reduce(((x - mean.reshape(shape)) ** 2).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1)
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y.to(input.dtype)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Switch every BatchNorm1d/2d/3d in ``module`` to :class:`SyncBatchNorm` in place (same parameters, buffers
    and state-dict keys). Returns ``module``."""
    for m in module.modules():
        if isinstance(m, _BatchNorm) and not isinstance(m, SyncBatchNorm):
            m.__class__ = SyncBatchNorm
    return module


def unwrap(module: Any) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (itself otherwise)."""
    return getattr(module, "module", module)
