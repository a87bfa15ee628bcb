"""Fault injection against the real huggingface_hub client: a loopback hub (127.0.0.1, free port) that corrupts,
truncates, stalls, fails and lies about sizes; clients killed mid-download; processes sharing one cache; corrupt
config.json; symlinks leaving a model folder. Every case checks the typed error, that the cache is consistent
afterwards (no partial file, every cached blob's sha256 equals its ETag name, every link resolves) and that a
later good call succeeds. Every wait is bounded."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.errors import CorruptConfigError, HubError, IntegrityError, UnsafePathError
from ganzoo.hub.download import hf_download, reclaim_stale_incomplete, repo_cache_dir
from ganzoo.hub.server import Fault

pytestmark = pytest.mark.network

TINY = "ganzoo-test/tiny"
W = "model.safetensors"
Z = torch.randn(2, 100, generator=torch.Generator().manual_seed(5))


def assert_cache_consistent(repo: str, cache: Path) -> None:
    """No temporaries; each blob's content hashes to its name (the test hub's ETag is the sha256); each snapshot
    entry is a link to an existing blob."""
    d = repo_cache_dir(repo, cache)
    if not d.exists():
        return
    blobs = d / "blobs"
    leftovers = [p.name for p in blobs.glob("*.incomplete")] if blobs.is_dir() else []
    assert not leftovers, leftovers
    for b in blobs.iterdir() if blobs.is_dir() else []:
        assert hashlib.sha256(b.read_bytes()).hexdigest() == b.name, f"corrupt blob {b.name} stayed cached"
    for link in (d / "snapshots").rglob("*") if (d / "snapshots").is_dir() else []:
        if link.is_symlink():
            assert link.exists(), f"dangling snapshot link {link}"


def good_load(srv, cache: Path, spec: str = f"hf-hub:{TINY}") -> None:
    srv.faults.clear()
    m = ganzoo.from_pretrained(spec, cache_dir=cache)
    with torch.no_grad():
        assert torch.equal(m(Z), srv.test_models["main"](Z))
    assert_cache_consistent(TINY, cache)


# --- one bad response at a time ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fault, error, match", [
    (Fault("corrupt"), IntegrityError, r"sha256 mismatch for ganzoo-test/tiny@main/model.safetensors.*removed"),
    (Fault("truncate"), HubError, r"download of ganzoo-test/tiny@main/model.safetensors failed"),
    (Fault("error"), HubError, r"cannot reach the hub for ganzoo-test/tiny@main/model.safetensors.*500"),
    (Fault("error-get"), HubError, r"download of ganzoo-test/tiny@main/model.safetensors failed.*500"),
    (Fault("lie-size"), HubError, r"download of .*model.safetensors failed.*(size|Consistency)"),
    (Fault("lie-length"), HubError, r"download of .*model.safetensors failed.*(size|Consistency)"),
    (Fault("stall", seconds=0.3), HubError, r"download of .*model.safetensors failed"),
], ids=lambda x: x.kind if isinstance(x, Fault) else None)
def test_bad_weights_response_is_a_typed_error_and_leaves_a_clean_cache(hub_server, tmp_path, fault, error, match):
    hub_server.faults[(TINY, W)] = fault
    t = time.monotonic()
    with pytest.raises(error, match=match):
        ganzoo.from_pretrained(f"hf-hub:{TINY}", cache_dir=tmp_path)
    assert time.monotonic() - t < 30
    assert_cache_consistent(TINY, tmp_path)
    assert not list((repo_cache_dir(TINY, tmp_path) / "snapshots").rglob(W))
    good_load(hub_server, tmp_path)


def test_unpinned_spec_with_other_valid_weights_under_the_right_etag_is_refused(hub_server, tmp_path):
    """An hf-hub: spec has no registry pin: the weights are checked against the downloaded config.json's pin,
    so a valid safetensors file with other weights (served under the true ETag) is refused and evicted."""
    other = hub_server.store.commits[TINY][hub_server.test_commits["v1"]][W]
    hub_server.faults[(TINY, W)] = Fault("lie-etag", payload=other)
    with pytest.raises(IntegrityError, match="sha256 mismatch for ganzoo-test/tiny@main/model.safetensors"):
        ganzoo.from_pretrained(f"hf-hub:{TINY}", cache_dir=tmp_path)
    assert_cache_consistent(TINY, tmp_path)
    good_load(hub_server, tmp_path)


def test_corrupt_blob_already_in_the_cache_is_evicted_on_the_next_call(hub_server, tmp_path, monkeypatch):
    good_load(hub_server, tmp_path)
    snap = next((repo_cache_dir(TINY, tmp_path) / "snapshots").rglob(W))
    blob = snap.resolve()
    blob.write_bytes(b"\0" * blob.stat().st_size)  # bit rot / a previous bug
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        ganzoo.from_pretrained(f"hf-hub:{TINY}", cache_dir=tmp_path)
    assert not blob.exists() and not snap.is_symlink()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    good_load(hub_server, tmp_path)


@pytest.mark.parametrize("payload, match", [
    (b"\xff\xfe not utf-8 \x80", "is not UTF-8"),
    (b"{not json", "is not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"model_name": "dcgan_32", "weights": {"sha256": 12}}', "'weights.sha256' must be 64 lowercase hex"),
    (b'{"model_name": "dcgan_32", "weights": {"filename": "../../etc/passwd"}}', "'weights.filename'"),
    (b'{"weights": {}}', "'model_name' must be a non-empty string"),
])
def test_corrupt_config_json_is_typed_evicted_and_replaced(hub_server, tmp_path, payload, match):
    hub_server.faults[(TINY, "config.json")] = Fault("lie-etag", payload=payload)
    with pytest.raises(CorruptConfigError, match=rf"config.json.*{match}") as e:
        ganzoo.from_pretrained(f"hf-hub:{TINY}", cache_dir=tmp_path)
    assert "download it again" in str(e.value) or "cannot read" in str(e.value)
    assert not list((repo_cache_dir(TINY, tmp_path) / "snapshots").rglob("config.json"))
    assert_cache_consistent(TINY, tmp_path)
    good_load(hub_server, tmp_path)


def test_cli_download_exits_1_when_config_json_is_corrupt_and_0_after(hub_server, tmp_path, monkeypatch, capsys):
    from ganzoo.cli import main

    cfg = ganzoo.model_info("dcgan").pretrained_cfg
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    hub_server.faults[(cfg.hub_id, "config.json")] = Fault("corrupt")
    assert main(["download", "dcgan", "--source", "remote"]) == 1
    err = capsys.readouterr().err
    assert "config.json" in err and "Traceback" not in err
    assert_cache_consistent(cfg.hub_id, tmp_path)
    hub_server.faults.clear()
    assert main(["download", "dcgan", "--source", "remote"]) == 0
    assert_cache_consistent(cfg.hub_id, tmp_path)


def test_download_verifies_a_config_json_that_contradicts_the_registry(hub_server, tmp_path, monkeypatch, capsys):
    import json

    from ganzoo.cli import main
    from ganzoo.factory import download

    cfg = ganzoo.model_info("dcgan").pretrained_cfg
    files = hub_server.store.commits[cfg.hub_id][cfg.revision]
    card = json.loads(files["config.json"])
    card["weights"]["sha256"] = "0" * 64
    hub_server.faults[(cfg.hub_id, "config.json")] = Fault("lie-etag", payload=json.dumps(card).encode())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(IntegrityError, match="config.json pins sha256 0000.* but the registry pins"):
        download("dcgan", source="remote")
    assert main(["download", "dcgan", "--source", "remote"]) == 1
    assert "registry pins" in capsys.readouterr().err
    assert_cache_consistent(cfg.hub_id, tmp_path)
    hub_server.faults.clear()
    assert (download("dcgan", source="remote") / W).is_file()
    assert (download("dcgan") / "config.json").is_file()  # the embedded copy is verified the same way


def test_offline_remote_path_fails_fast(tmp_path):
    """huggingface_hub alone retries an unreachable hub for ~23 s; one probe decides at once."""
    t = time.monotonic()
    with pytest.raises(HubError, match="cannot reach the hub"):
        ganzoo.load("dcgan", source="remote", cache_dir=tmp_path)
    assert time.monotonic() - t < 5


# --- processes -------------------------------------------------------------------------------------------------
_CLIENT = (
    "import sys\n"
    "from ganzoo.hub.download import hf_download\n"
    "from ganzoo.errors import HubError\n"
    "try:\n"
    "    p = hf_download(sys.argv[1], sys.argv[2], sha256=sys.argv[3] if len(sys.argv) > 3 else None)\n"
    "    print('OK', p)\n"
    "except HubError as e:\n"
    "    print('HUBERROR', e); sys.exit(3)\n"
)


def _client(srv, cache: Path, repo: str, filename: str, sha: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "HF_ENDPOINT": srv.url, "HF_HUB_CACHE": str(cache), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.Popen([sys.executable, "-c", _CLIENT, repo, filename] + ([sha] if sha else []), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:  # bounded polling
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _incomplete(repo: str, cache: Path) -> list[Path]:
    b = repo_cache_dir(repo, cache) / "blobs"
    return list(b.glob("*.incomplete")) if b.is_dir() else []


def _sha(srv, filename: str) -> str:
    return hashlib.sha256(srv.store.commits[TINY][srv.test_commits["main"]][filename]).hexdigest()


def test_a_failing_download_does_not_break_another_process_in_flight(hub_server, tmp_path):
    """Process A downloads the weights slowly; process B's download of another file of the repo fails meanwhile.
    B cleans only its own temporary; A completes and verifies."""
    hub_server.faults[(TINY, W)] = Fault("slow", seconds=5)
    hub_server.faults[(TINY, "README.md")] = Fault("error-get")  # fails at once, while A is still downloading
    a = _client(hub_server, tmp_path, TINY, W, _sha(hub_server, W))
    try:
        _wait_for(lambda: _incomplete(TINY, tmp_path), 60, "A's download to start")
        b = _client(hub_server, tmp_path, TINY, "README.md")
        out_b, err_b = b.communicate(timeout=60)
        assert b.returncode == 3 and "HUBERROR download of ganzoo-test/tiny@main/README.md failed" in out_b, err_b
        out_a, err_a = a.communicate(timeout=60)
    finally:
        a.kill()
    assert a.returncode == 0 and out_a.startswith("OK"), (out_a, err_a)
    assert_cache_consistent(TINY, tmp_path)
    good_load(hub_server, tmp_path)


def test_several_processes_download_the_same_file_into_one_cache(hub_server, tmp_path):
    hub_server.faults[(TINY, W)] = Fault("slow", seconds=0.5)
    procs = [_client(hub_server, tmp_path, TINY, W, _sha(hub_server, W)) for _ in range(3)]
    try:
        outs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert all(o.startswith("OK") for o, _ in outs)
    assert len({o.split()[1] for o, _ in outs}) == 1
    assert_cache_consistent(TINY, tmp_path)


def test_sigkilled_download_leaves_a_partial_that_is_reclaimed_safely(hub_server, tmp_path):
    hub_server.faults[(TINY, W)] = Fault("slow", seconds=20)
    victim = _client(hub_server, tmp_path, TINY, W)
    try:
        _wait_for(lambda: _incomplete(TINY, tmp_path), 60, "the download to start")
        # While the download is alive it holds the blob's lock: even an age limit of 0 leaves it alone.
        assert reclaim_stale_incomplete(TINY, tmp_path, older_than_s=0) == []
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        victim.kill()
    partial = _incomplete(TINY, tmp_path)
    assert len(partial) == 1
    # A fresh partial (it might be a download on a filesystem whose locks do not work) is kept ...
    assert reclaim_stale_incomplete(TINY, tmp_path) == []
    # ... a later good call works regardless ...
    hub_server.faults.clear()
    assert hf_download(TINY, W, cache_dir=tmp_path, sha256=_sha(hub_server, W)).is_file()
    # ... and once it is old and its lock is free, the next download reclaims it.
    old = time.time() - 3600
    os.utime(partial[0], (old, old))
    hf_download(TINY, "config.json", cache_dir=tmp_path)
    assert not partial[0].exists()
    assert_cache_consistent(TINY, tmp_path)


# --- symlinks --------------------------------------------------------------------------------------------------
@pytest.fixture
def outside_file(tmp_path) -> Path:
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    return secret


@pytest.mark.parametrize("which", ["model.safetensors", "config.json"])
def test_symlink_leaving_the_model_folder_is_refused_before_reading(saved_tiny, outside_file, which):
    _, folder = saved_tiny
    (folder / which).unlink()
    (folder / which).symlink_to(outside_file)
    with pytest.raises(UnsafePathError, match=rf"{which} resolves to .*secret.bin, outside its folder"):
        ganzoo.from_pretrained(folder)
    with pytest.raises(UnsafePathError):
        ganzoo.load("dcgan_32", pretrained=folder)


def test_symlinked_bare_file_outside_its_folder_is_refused(saved_tiny, tmp_path):
    _, folder = saved_tiny
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "w.safetensors"
    link.symlink_to(folder / W)
    with pytest.raises(UnsafePathError, match="outside its folder"):
        ganzoo.load("dcgan_32", pretrained=link)


def test_symlinks_inside_the_folder_and_hf_snapshots_are_fine(saved_tiny, hub_server, tmp_path):
    model, folder = saved_tiny
    (folder / "real.safetensors").write_bytes((folder / W).read_bytes())
    (folder / W).unlink()
    (folder / W).symlink_to("real.safetensors")
    with torch.no_grad():
        assert torch.equal(ganzoo.from_pretrained(folder)(Z), model(Z))
    good_load(hub_server, tmp_path / "c")
    snap = next((repo_cache_dir(TINY, tmp_path / "c") / "snapshots").iterdir())
    with torch.no_grad():
        assert torch.equal(ganzoo.from_pretrained(snap)(Z), hub_server.test_models["main"](Z))


def test_fault_spec_is_validated_and_bounded():
    from ganzoo.hub.server import MAX_FAULT_SECONDS, HubServer, RepoStore

    with pytest.raises(ValueError, match="fault kind must be one of"):
        Fault("explode")
    with pytest.raises(ValueError, match="seconds must be in"):
        Fault("stall", seconds=MAX_FAULT_SECONDS + 1)
    with pytest.raises(ValueError, match="times must be"):
        Fault("error", times=-1)
    with HubServer(RepoStore()) as srv:
        assert srv.url.startswith("http://127.0.0.1:") and not srv.url.endswith(":0")


def test_times_limits_a_fault_to_n_gets(hub_server, tmp_path):
    """A transient failure (one truncated GET) is retried by huggingface_hub and the download then succeeds intact."""
    hub_server.faults[(TINY, W)] = Fault("truncate", times=1)
    good = _sha(hub_server, W)
    path = hf_download(TINY, W, cache_dir=tmp_path, sha256=good)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == good
    assert (TINY, W) not in hub_server.faults or hub_server.faults[(TINY, W)].times == 0
    assert_cache_consistent(TINY, tmp_path)


def test_evicting_a_blob_shared_by_two_revisions_leaves_no_dangling_link(hub_server, tmp_path, monkeypatch):
    """Two revisions holding the same bytes share one blob (huggingface_hub links both snapshots to it); evicting
    the blob removes every link to it, not only the one being verified."""
    c = hub_server.test_commits
    hf_download(TINY, W, revision="v1", cache_dir=tmp_path)
    hf_download(TINY, W, revision="main", cache_dir=tmp_path)
    snaps = repo_cache_dir(TINY, tmp_path) / "snapshots"
    blob_v1 = (snaps / c["v1"] / W).resolve()
    # a third snapshot folder linking the same blob (as huggingface_hub does for identical files across commits)
    twin = snaps / ("f" * 40)
    twin.mkdir()
    (twin / W).symlink_to(os.path.relpath(blob_v1, twin))
    blob_v1.write_bytes(b"rot")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(IntegrityError):
        hf_download(TINY, W, revision=c["v1"], cache_dir=tmp_path, sha256=hashlib.sha256(b"x").hexdigest())
    assert not (twin / W).is_symlink() and not (snaps / c["v1"] / W).is_symlink()
    assert_cache_consistent(TINY, tmp_path)
