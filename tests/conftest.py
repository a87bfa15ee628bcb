"""Shared fixtures: a tiny saved model, and a Hugging Face-compatible hub server on 127.0.0.1."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import ganzoo

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    """tools/<name>.py as a module, once per process (registered in sys.modules: its dataclasses resolve their
    annotations there, and the tools that import each other by name get this same module)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]

# huggingface_hub.constants reads HF_HUB_OFFLINE once, when first imported (and `import huggingface_hub` alone
# does not import it: the package loads its submodules lazily). Import it here, online, before any test sets the
# variable: otherwise a pytest-xdist worker whose first hub call happens inside an offline test stays offline for
# every later test it runs.
os.environ.pop("HF_HUB_OFFLINE", None)
try:
    import huggingface_hub.constants  # noqa: F401
except ImportError:  # pragma: no cover - a test extra
    pass

# Under pytest-xdist (-n N) each worker takes an equal share of the cores for torch's intra-op threads, so N
# workers do not oversubscribe the machine (subprocesses a test starts choose their own).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))


@pytest.fixture(autouse=True)
def _isolate_hub_env(monkeypatch, tmp_path_factory):
    """No test reaches a real hub or the user's cache."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed port: any unexpected download fails fast
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache")))


def tiny_model(seed: int = 0) -> ganzoo.models.GANModel:
    """A small DCGAN (32x32, grey, narrow) with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    m = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    # Non-trivial BN statistics, so a round trip that drops buffers would show.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.normal_()
            mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


@pytest.fixture
def saved_tiny(tmp_path) -> tuple[ganzoo.models.GANModel, Path]:
    m = tiny_model()
    return m, ganzoo.save_pretrained(m, tmp_path / "tiny")


@pytest.fixture
def hub_server():
    """The embedded hub plus two commits of a tiny test repo, served on 127.0.0.1."""
    import tempfile

    from ganzoo.hub.server import HubServer, RepoStore

    store = RepoStore.from_embedded()
    commits = {}
    models = {}
    for i, ref in enumerate(["v1", "main"]):
        m = tiny_model(seed=i)
        with tempfile.TemporaryDirectory() as d:
            ganzoo.save_pretrained(m, d)
            files = {p.name: p.read_bytes() for p in Path(d).iterdir()}
        commits[ref] = store.add("ganzoo-test/tiny", files, ref=ref)
        models[ref] = m
    with HubServer(store) as srv:
        srv.test_commits = commits
        srv.test_models = models
        old = os.environ.get("HF_ENDPOINT")
        os.environ["HF_ENDPOINT"] = srv.url
        try:
            yield srv
        finally:
            if old is None:
                os.environ.pop("HF_ENDPOINT", None)
            else:
                os.environ["HF_ENDPOINT"] = old
