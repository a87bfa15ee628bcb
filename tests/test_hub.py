"""The real huggingface_hub client against a hub server on 127.0.0.1: pinning, cache, offline, failures."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.errors import HubError, IntegrityError, InvalidRepoIdError, OfflineError
from ganzoo.hub.download import repo_cache_dir

pytestmark = pytest.mark.network

Z = torch.randn(4, 100, generator=torch.Generator().manual_seed(1))


def _files_under(p: Path) -> list[str]:
    return sorted(str(f.relative_to(p)) for f in p.rglob("*") if f.is_file() or f.is_symlink())


def test_download_by_repo_id_pinned_revision_then_offline(hub_server, tmp_path, monkeypatch):
    c = hub_server.test_commits
    ref = hub_server.test_models
    cache = tmp_path / "cache"
    # by repo id at the branch head
    head = ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", cache_dir=cache)
    assert torch.equal(head(Z), ref["main"](Z))
    # pinned to the older commit: different weights, exactly those of that commit
    old = ganzoo.from_pretrained(f"hf-hub:ganzoo-test/tiny@{c['v1']}", cache_dir=cache)
    assert torch.equal(old(Z), ref["v1"](Z))
    assert not torch.equal(old(Z), head(Z))
    # revision= argument, by branch name
    assert torch.equal(ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", revision="v1", cache_dir=cache)(Z),
                       ref["v1"](Z))
    # offline: the cache alone serves both revisions, and the server sees no request
    n = len(hub_server.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = ganzoo.from_pretrained(f"hf-hub:ganzoo-test/tiny@{c['v1']}", cache_dir=cache)
    assert torch.equal(again(Z), ref["v1"](Z))
    assert torch.equal(ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", cache_dir=cache)(Z), ref["main"](Z))
    assert len(hub_server.requests) == n


def test_registry_model_from_remote_hub_then_offline_in_a_fresh_process(hub_server, tmp_path):
    cache = tmp_path / "cache"
    remote = ganzoo.load("dcgan", source="remote", cache_dir=cache)
    embedded = ganzoo.load("dcgan")
    assert torch.equal(remote(Z), embedded(Z))
    cfg = ganzoo.model_info("dcgan").pretrained_cfg
    assert any(p == f"/{cfg.hub_id}/resolve/{cfg.revision}/model.safetensors" for _, p in hub_server.requests)
    # A new process with the real environment variables: offline, from the cache filled above.
    code = (
        "import ganzoo, torch; m = ganzoo.load('dcgan', source='remote');"
        "z = torch.randn(2, 100, generator=torch.Generator().manual_seed(3)); print(float(m(z).sum()))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert float(out.stdout.strip()) == pytest.approx(float(embedded(z).sum()), abs=1e-4)


def test_offline_with_nothing_cached_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"not in the cache.*HF_HUB_OFFLINE=1.*ganzoo download"):
        ganzoo.load("dcgan", source="remote", cache_dir=tmp_path)
    with pytest.raises(OfflineError, match="local_files_only=True"):
        monkeypatch.delenv("HF_HUB_OFFLINE")
        ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", local_files_only=True, cache_dir=tmp_path)


def test_truncated_download_leaves_no_partial_file(hub_server, tmp_path):
    hub_server.faults[("ganzoo-test/tiny", "model.safetensors")] = "truncate"
    with pytest.raises(HubError, match="download of ganzoo-test/tiny@main/model.safetensors failed"):
        ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", cache_dir=tmp_path)
    files = _files_under(repo_cache_dir("ganzoo-test/tiny", tmp_path))
    assert not [f for f in files if f.endswith(".incomplete") or f.endswith("model.safetensors")], files
    # the fault gone, the same call succeeds: nothing corrupt was cached
    hub_server.faults.clear()
    m = ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", cache_dir=tmp_path)
    assert torch.equal(m(Z), hub_server.test_models["main"](Z))


def test_corrupt_download_is_rejected_and_removed_from_cache(hub_server, tmp_path):
    cfg = ganzoo.model_info("dcgan").pretrained_cfg
    hub_server.faults[(cfg.hub_id, "model.safetensors")] = "corrupt"
    with pytest.raises(IntegrityError, match=f"sha256 mismatch.*expected {cfg.sha256}"):
        ganzoo.load("dcgan", source="remote", cache_dir=tmp_path)
    files = _files_under(repo_cache_dir(cfg.hub_id, tmp_path))
    assert not [f for f in files if "model.safetensors" in f or f.startswith("blobs/") and
                os.path.getsize(repo_cache_dir(cfg.hub_id, tmp_path) / f) > 100_000], files
    hub_server.faults.clear()
    assert ganzoo.load("dcgan", source="remote", cache_dir=tmp_path) is not None


def test_unknown_revision_and_repo(hub_server, tmp_path):
    with pytest.raises(HubError, match="revision 'nope' not found"):
        ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny@nope", cache_dir=tmp_path)
    with pytest.raises(HubError, match="repo 'ganzoo-test/missing' not found"):
        ganzoo.from_pretrained("hf-hub:ganzoo-test/missing", cache_dir=tmp_path)


def test_unreachable_hub_is_a_hub_error(tmp_path):
    with pytest.raises(HubError, match="cannot reach the hub"):
        ganzoo.from_pretrained("hf-hub:ganzoo-test/tiny", cache_dir=tmp_path)


@pytest.mark.parametrize("spec", ["hf-hub:../etc", "hf-hub:org/../../x", "hf-hub:/abs/path", "hf-hub:a/b/c",
                                  "hf-hub:org/na me", "hf-hub:org/name@../../main"])
def test_repo_ids_that_try_path_traversal_are_refused(spec, tmp_path):
    with pytest.raises(InvalidRepoIdError, match="invalid"):
        ganzoo.from_pretrained(spec, cache_dir=tmp_path)


@pytest.mark.parametrize("name", ["../model.safetensors", "/etc/passwd", "a/../../b", "a\\b", "", "./x"])
def test_file_names_that_try_path_traversal_are_refused(name):
    from ganzoo.hub.download import hf_download

    with pytest.raises(InvalidRepoIdError, match="invalid file name"):
        hf_download("ganzoo/dcgan-mnist", name)


def test_embedded_source_does_not_touch_the_network(hub_server):
    n = len(hub_server.requests)
    ganzoo.load("dcgan")
    ganzoo.load("dcgan", source="embedded")
    assert len(hub_server.requests) == n


def test_pinned_revision_other_than_embedded_goes_to_remote(hub_server, tmp_path):
    cfg = ganzoo.model_info("dcgan").pretrained_cfg
    with pytest.raises(HubError, match="not in the embedded hub"):
        ganzoo.load("dcgan", revision="0" * 40, source="embedded")
    with pytest.raises(HubError, match="revision '0000000000000000000000000000000000000000' not found"):
        ganzoo.load("dcgan", revision="0" * 40, cache_dir=tmp_path)
    # the registry's own revision is served by the embedded hub
    assert ganzoo.load("dcgan", revision=cfg.revision, source="embedded") is not None


def test_hub_server_serves_snapshot_download(hub_server, tmp_path):
    from huggingface_hub import snapshot_download

    path = snapshot_download("ganzoo-test/tiny", revision=hub_server.test_commits["v1"], cache_dir=tmp_path,
                             endpoint=hub_server.url)
    assert sorted(os.listdir(path)) == ["README.md", "config.json", "model.safetensors"]


def test_cli_download_fills_the_cache_then_works_offline(hub_server, tmp_path, monkeypatch, capsys):
    from ganzoo.cli import main

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["download", "dcgan", "--source", "remote"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder.is_relative_to(tmp_path) and (folder / "model.safetensors").is_file()
    assert folder.name == ganzoo.model_info("dcgan").pretrained_cfg.revision  # the snapshot of the pinned commit
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = ganzoo.load("dcgan", source="remote")
    with torch.no_grad():
        assert torch.equal(m(Z), ganzoo.load("dcgan")(Z))


def test_save_safetensors_is_byte_for_byte_reproducible(tmp_path):
    """safetensors keeps metadata in a hash map ordered differently per process: published sha256s must not be."""
    code = (
        "import sys, torch\n"
        "from ganzoo.hub.io import save_safetensors\n"
        "sd = {'b': torch.arange(5.0), 'a': torch.ones(2, 3, dtype=torch.float16), 'c': torch.tensor(3)}\n"
        "print(save_safetensors(sd, sys.argv[1], metadata={'format': 'pt', 'x': '1', 'zz': '2', 'm': '3', 'k': '4'}))\n"
    )
    shas = {subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{i}.safetensors")], capture_output=True,
                           text=True, check=True, timeout=120).stdout.strip() for i in range(3)}
    assert len(shas) == 1
    from safetensors import safe_open

    with safe_open(str(tmp_path / "0.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt", "x": "1", "zz": "2", "m": "3", "k": "4"}
        assert f.get_tensor("a").dtype == torch.float16 and f.get_tensor("b").tolist() == [0, 1, 2, 3, 4]


def test_every_embedded_repo_is_consistent():
    """index.json hashes and sizes match the files; the revision is the content revision; config.json parses and
    pins its weights' sha256; its pretrained_cfg contradicts no registry pin; the registry pins that revision."""
    import hashlib

    from ganzoo.hub.embedded import EMBEDDED_ROOT, content_revision, embedded_index
    from ganzoo.hub.resolve import read_config
    from ganzoo.registry import get_entry, list_models

    index = embedded_index()
    assert index
    pins = {}
    for name in list_models():
        for cfg in get_entry(name).cfgs.values():
            if cfg.hub_id in index:
                pins.setdefault(cfg.hub_id, []).append(cfg)
    for repo, entry in index.items():
        folder = EMBEDDED_ROOT / repo
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(entry["files"]), repo
        for fname, meta in entry["files"].items():
            data = (folder / fname).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"] and len(data) == meta["size"], (repo, fname)
        assert entry["revision"] == content_revision(entry["files"]), repo
        card = read_config(folder / "config.json")
        w = card["weights"]
        assert w["sha256"] == entry["files"][w["filename"]]["sha256"], repo
        assert repo in pins, f"no registry tag publishes {repo}"
        for cfg in pins[repo]:
            assert cfg.revision == entry["revision"], f"{cfg.name} pins {cfg.revision}, index has {entry['revision']}"
            assert cfg.sha256 == w["sha256"] and cfg.filename == w["filename"], cfg.name
        pc = card.get("pretrained_cfg") or {}
        for key in ("revision", "sha256"):
            assert pc.get(key) in (None, entry["revision"] if key == "revision" else w["sha256"]), (repo, key, pc[key])
