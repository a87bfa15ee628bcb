"""Data-parallel training (ganzoo.train.distributed): 2 CPU processes under torchrun compute what 1 process
computes on the same global batch; SyncBatchNorm uses the global batch's statistics."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.train.distributed import DistContext, SyncBatchNorm, convert_sync_batchnorm
from tests.test_train import TINY_PGGAN

#: The stated tolerance. Summation order differs between 1 and 2 processes (global-batch statistics are all-reduced),
#: so gradients agree to about 1e-7 relative; Adam then moves every element by about lr * sign(gradient), so the few
#: elements whose gradient is zero up to rounding may move the other way. Hence: at least 99.99% of the parameter
#: elements within ATOL (relative for values above 1) of the 1-process run, every element within 2 * lr * steps,
#: BN statistics within ATOL.
#: Checked after one step: later steps feed these tiny differences back through the GAN's dynamics, and two runs
#: drift apart as any two runs with another summation order do (measured: after 4 steps the median element differs
#: by 1% of the median update). Without global-batch BatchNorm statistics 15% of the elements differ after one step.
ATOL = 1e-6
SHARE = 0.9999
LR = 2e-4
STEPS = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the launcher and its workers, by process group
        p.communicate()
        raise
    assert p.returncode == 0, out[-4000:]


def _torchrun(module: str, args: list[str], cwd: Path) -> None:
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
          "--master_port", str(_free_port()), "-m", module, *args], cwd)


def assert_two_processes_match_one(one_dir: Path, two_dir: Path, init: dict[str, torch.Tensor], *,
                                   lr: float = LR, steps: int = STEPS) -> None:
    """The stated tolerance (see ATOL): the 2-process run folder ``two_dir`` against the 1-process ``one_dir``, both
    trained ``steps`` steps with Adam at ``lr`` from the initial state dict ``init``."""
    one, two = load_file(one_dir / "model.safetensors"), load_file(two_dir / "model.safetensors")
    assert one.keys() == two.keys() == init.keys()
    floats = [k for k in one if one[k].is_floating_point()]
    # relative above 1: pretrained BN running variances reach the thousands, where float32 spacing alone is 1e-4
    diff = {k: (one[k].double() - two[k].double()).abs() / one[k].double().abs().clamp_min(1) for k in floats}
    total = sum(d.numel() for d in diff.values())
    close = sum(int((d <= ATOL).sum()) for d in diff.values())
    worst = max(float(d.max()) for d in diff.values())
    assert close / total >= SHARE, f"only {close} of {total} parameter elements agree within {ATOL}"
    assert worst <= 2 * lr * steps, f"an element differs by {worst:.3g}, more than Adam can move it in {steps} steps"
    stats = [k for k in floats if "running_" in k]
    assert stats and max(float(diff[k].max()) for k in stats) <= 1e-5
    assert max(float((one[k] - init[k]).abs().max()) for k in floats) > 100 * ATOL  # the runs really trained
    for k in one:  # num_batches_tracked and any other integer buffer: exactly equal
        if not one[k].is_floating_point():
            assert torch.equal(one[k], two[k]), k
    assert (two_dir / "train" / "checkpoint.pt").is_file()  # rank 0 wrote the run folder


def _dcgan_args(out: Path) -> list[str]:
    return ["--model", "dcgan_32", "--steps", str(STEPS), "--batch-size", "8", "--seed", "3", "--device", "cpu",
            "--out", str(out)]


def test_two_processes_match_one_on_the_global_batch(tmp_path):
    _run([sys.executable, "-m", "ganzoo.train.dcgan", *_dcgan_args(tmp_path / "one")], tmp_path)
    _torchrun("ganzoo.train.dcgan", _dcgan_args(tmp_path / "two"), tmp_path)
    torch.manual_seed(3)  # the recipe's seed: the initial weights of both runs
    init = __import__("ganzoo").create("dcgan_32.mnist").state_dict()
    assert_two_processes_match_one(tmp_path / "one", tmp_path / "two", init)


def _pggan_args(out: Path) -> list[str]:
    # --l1-warmup 0: the first step is adversarial, so D and its SyncBatchNorm layers train too
    return ["--config", json.dumps(TINY_PGGAN), "--steps", str(STEPS), "--batch-size", "4", "--l1-warmup", "0",
            "--seed", "3", "--device", "cpu", "--out", str(out)]


def test_two_processes_match_one_for_pggan_inpainting(tmp_path):
    _run([sys.executable, "-m", "ganzoo.train.pggan_inpaint", *_pggan_args(tmp_path / "one")], tmp_path)
    _torchrun("ganzoo.train.pggan_inpaint", _pggan_args(tmp_path / "two"), tmp_path)
    torch.manual_seed(3)
    init = __import__("ganzoo").create("pggan_inpaint.pool256", **TINY_PGGAN).state_dict()
    assert any(k.startswith("discriminator.") and "running_var" in k for k in init)  # D has BatchNorm to sync
    assert_two_processes_match_one(tmp_path / "one", tmp_path / "two", init)
    # the same global batch: rank 0's logged losses are the mean over both processes' halves
    log = lambda d: json.loads((d / "train" / "log.jsonl").read_text().splitlines()[-1])  # noqa: E731
    one, two = log(tmp_path / "one"), log(tmp_path / "two")
    assert one.keys() == two.keys() and "loss_d" in one
    for k in one:
        if k not in ("step", "elapsed_s", "hole_l1"):
            assert two[k] == pytest.approx(one[k], abs=2e-5), k


def test_sync_batchnorm_without_a_process_group_is_batchnorm():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(5)
    ref = torch.nn.BatchNorm2d(5)
    ref.load_state_dict(bn.state_dict())
    convert_sync_batchnorm(torch.nn.Sequential(bn))
    assert isinstance(bn, SyncBatchNorm) and list(bn.state_dict()) == list(ref.state_dict())
    x = torch.randn(4, 5, 3, 3)
    assert torch.equal(bn(x), ref(x)) and torch.equal(bn.running_var, ref.running_var)


def test_global_batch_must_split_evenly():
    ctx = DistContext(rank=1, world_size=2)
    with pytest.raises(ValueError, match="--batch-size 7 must be a multiple of the number of processes \\(2\\)"):
        ctx.check_batch(7)
    assert torch.equal(ctx.shard(torch.arange(8)), torch.arange(4, 8))
