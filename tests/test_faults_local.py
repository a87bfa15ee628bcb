"""Local fault injection: interrupted and refused save_pretrained, names versus paths, bad argument types and
control characters in names, ids, revisions and file names. Nothing here touches a network."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import ganzoo
import ganzoo.utils
from ganzoo.errors import InvalidRepoIdError, UnknownModelError
from ganzoo.errors import InvalidModelSpecError, SaveDirectoryError, UnsupportedDtypeError
from ganzoo.factory import _is_path_like
from ganzoo.hub.validate import parse_hub_spec, validate_filename, validate_repo_id, validate_revision

REPO_ROOT = Path(__file__).resolve().parents[1]


def tiny(seed: int = 0) -> ganzoo.models.GANModel:
    torch.manual_seed(seed)
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


def _z() -> torch.Tensor:
    return torch.randn(2, 100, generator=torch.Generator().manual_seed(3))


def same(a, b) -> bool:
    with torch.no_grad():
        return torch.equal(a(_z()), b(_z()))


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


# ------------------------------------------------------------------------------- save_pretrained: interruption


@pytest.mark.parametrize("fail_on", ["config.json", "README.md"])
def test_save_interrupted_after_the_weights_leaves_the_old_folder(tmp_path, monkeypatch, fail_on):
    old, new = tiny(0), tiny(1)
    folder = ganzoo.save_pretrained(old, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = ganzoo.utils.atomic_write

    def flaky(path, data):
        if Path(path).name == fail_on:
            raise OSError(28, "No space left on device (injected)")
        real(path, data)

    monkeypatch.setattr(ganzoo.utils, "atomic_write", flaky)
    with pytest.raises(OSError, match="injected"):
        ganzoo.save_pretrained(new, folder)
    monkeypatch.undo()
    # the old folder, byte for byte, and no temporary folder beside it
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert siblings(folder) == ["m"]
    assert same(ganzoo.from_pretrained(folder), old)
    # and a later good save works
    ganzoo.save_pretrained(new, folder)
    assert same(ganzoo.from_pretrained(folder), new)


def test_save_interrupted_into_a_new_folder_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ganzoo.utils, "atomic_write", boom)
    with pytest.raises(KeyboardInterrupt):
        ganzoo.save_pretrained(tiny(), tmp_path / "a" / "b" / "m")
    assert list(tmp_path.iterdir()) == []  # neither the folder, a temporary one, nor the parents it made


_KILLER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import torch, ganzoo, ganzoo.utils

    folder = Path(sys.argv[1])
    torch.manual_seed(1)
    new = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    real = ganzoo.utils.atomic_write

    def slow(path, data):
        real(path, data)
        if Path(path).name == "model.safetensors":  # the weights are written, config.json is not
            print("MID", flush=True)
            time.sleep(60)

    ganzoo.utils.atomic_write = slow
    ganzoo.save_pretrained(new, folder)
""")


def test_save_sigkilled_mid_save_leaves_the_old_folder(tmp_path):
    old = tiny(0)
    folder = ganzoo.save_pretrained(old, tmp_path / "m")
    proc = subprocess.Popen([sys.executable, "-c", _KILLER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:  # bounded: one line, or the deadline
            line = proc.stdout.readline().strip()
            if line:
                break
        assert line == "MID", f"the child did not reach the middle of the save (rc={proc.poll()})"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert same(ganzoo.from_pretrained(folder), old)
    left = [n for n in siblings(folder) if n != "m"]
    assert len(left) == 1 and left[0].startswith(".m.ganzoo-tmp-")  # the dead save's work, beside the folder
    # the next save reclaims it (its process is gone) and succeeds
    new = tiny(1)
    ganzoo.save_pretrained(new, folder)
    assert siblings(folder) == ["m"] and same(ganzoo.from_pretrained(folder), new)


def test_save_with_a_save_in_flight_beside_keeps_its_temporary_folder(tmp_path):
    folder = ganzoo.save_pretrained(tiny(), tmp_path / "m")
    live = tmp_path / f".m.ganzoo-tmp-{os.getppid()}-abc"  # a running process's save (our parent is alive)
    live.mkdir()
    ganzoo.save_pretrained(tiny(1), folder)
    assert live.is_dir()


# ------------------------------------------------------------------------------- save_pretrained: refusals


def test_save_refuses_a_users_readme(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "README.md").write_text("my own notes\n")
    with pytest.raises(SaveDirectoryError, match=r"holds files ganzoo did not write \(README\.md\).*overwrite=True") \
            as e:
        ganzoo.save_pretrained(tiny(), folder)
    assert e.value.foreign == ("README.md",) and isinstance(e.value, FileExistsError)
    assert (folder / "README.md").read_text() == "my own notes\n" and sorted(os.listdir(folder)) == ["README.md"]
    assert siblings(folder) == ["mine"]


def test_save_refuses_foreign_files_in_a_ganzoo_folder_unless_overwrite(tmp_path):
    folder = ganzoo.save_pretrained(tiny(0), tmp_path / "m")
    (folder / "notes.txt").write_text("keep me")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(SaveDirectoryError, match=r"\(notes\.txt, sub\)") as e:
        ganzoo.save_pretrained(tiny(1), folder)
    assert e.value.foreign == ("notes.txt", "sub")
    assert same(ganzoo.from_pretrained(folder), tiny(0))
    # overwrite=True replaces ganzoo's files and keeps the user's
    ganzoo.save_pretrained(tiny(1), folder, overwrite=True)
    assert same(ganzoo.from_pretrained(folder), tiny(1))
    assert (folder / "notes.txt").read_text() == "keep me" and (folder / "sub" / "x.bin").read_bytes() == b"\x00\x01"
    assert siblings(folder) == ["m"]


def test_save_replaces_its_own_folder_and_takes_an_empty_one(tmp_path):
    folder = ganzoo.save_pretrained(tiny(0), tmp_path / "m")
    ganzoo.save_pretrained(tiny(1), folder)  # ganzoo's own folder: no overwrite needed
    assert same(ganzoo.from_pretrained(folder), tiny(1))
    empty = tmp_path / "empty"
    empty.mkdir()
    ganzoo.save_pretrained(tiny(0), empty)
    assert sorted(os.listdir(empty)) == ["README.md", "config.json", "model.safetensors"]


def test_save_refuses_a_folder_whose_config_is_not_ganzoos(tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(SaveDirectoryError, match=r"\(config\.json\)"):
        ganzoo.save_pretrained(tiny(), folder)
    assert json.loads((folder / "config.json").read_text()) == {"model_type": "bert"}


def test_save_refuses_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SaveDirectoryError, match="current working directory"):
        ganzoo.save_pretrained(tiny(), ".", overwrite=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int32, torch.bool, torch.complex64,
                                   torch.float8_e4m3fn, "int8", "float64x"])
def test_save_refuses_non_float_dtypes(tmp_path, dtype):
    with pytest.raises(UnsupportedDtypeError, match=r"torch\.float32, torch\.float16 or torch\.bfloat16"):
        ganzoo.save_pretrained(tiny(), tmp_path / "m", dtype=dtype)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype,stored", [(torch.float16, "float16"), ("bf16", "bfloat16"), (None, "float32")])
def test_save_float_dtypes_round_trip(tmp_path, dtype, stored):
    m = tiny()
    folder = ganzoo.save_pretrained(m, tmp_path / "m", dtype=dtype)
    assert json.loads((folder / "config.json").read_text())["weights"]["dtype"] == stored
    back = ganzoo.from_pretrained(folder)
    with torch.no_grad():
        assert torch.allclose(back(_z()), m(_z()), atol=2e-2)


@pytest.mark.parametrize("umask,dir_mode,file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_save_honours_the_umask(tmp_path, umask, dir_mode, file_mode):
    old = os.umask(umask)
    try:
        folder = ganzoo.save_pretrained(tiny(), tmp_path / "m")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == dir_mode
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == \
        {n: file_mode for n in ("README.md", "config.json", "model.safetensors")}


@pytest.mark.parametrize("bad,exc,match", [
    ("", InvalidModelSpecError, "save_directory is empty"),
    ("  ", InvalidModelSpecError, "save_directory is empty"),
    (None, TypeError, "save_directory must be a str or os.PathLike, got NoneType"),
    (123, TypeError, "got int 123"),
    (b"m", TypeError, "got bytes"),
    ("m\n", InvalidModelSpecError, r"control character '\\n'"),
    ("m\x00x", InvalidModelSpecError, r"control character '\\x00'"),
])
def test_save_bad_directory_arguments(tmp_path, monkeypatch, bad, exc, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc, match=match):
        ganzoo.save_pretrained(tiny(), bad)
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        ganzoo.save_pretrained(tiny(), tmp_path / "f")


# ------------------------------------------------------------------------------- names versus paths


@pytest.fixture
def hijack(tmp_path, monkeypatch):
    """A working directory holding a folder and a file named like registry models."""
    monkeypatch.chdir(tmp_path)
    Path("dcgan_32").mkdir()
    Path("dcgan").write_text("not a model\n")
    return tmp_path


def test_a_folder_named_like_a_model_does_not_hijack_the_name(hijack):
    m = ganzoo.load("dcgan_32")  # the embedded published weights, not ./dcgan_32 (an empty folder)
    assert m.pretrained_cfg.name == "dcgan_32.mnist" and m.pretrained_cfg.hub_id
    assert ganzoo.load("dcgan", pretrained=False).model_name == "dcgan"
    assert ganzoo.load("dcgan_32.mnist", pretrained=False).model_name == "dcgan_32"
    assert not _is_path_like("dcgan_32") and not _is_path_like("dcgan")


def test_explicit_paths_load_the_folder(hijack):
    ganzoo.save_pretrained(tiny(), "dcgan_32", overwrite=False)  # an empty folder: taken
    for spec in ("./dcgan_32", "local-dir:dcgan_32", str(hijack / "dcgan_32"), Path("dcgan_32")):
        m = ganzoo.load(spec)
        assert m.config.ngf == 8, spec  # the tiny saved model, not the registry's
    assert ganzoo.from_pretrained("local-dir:dcgan_32").config.ngf == 8
    assert ganzoo.from_pretrained("dcgan_32").config.ngf == 8  # from_pretrained takes folders, never names
    # the registry name still means the registry model
    assert ganzoo.load("dcgan_32", pretrained=False).config.ngf == 64


def test_unknown_name_beside_a_file_says_how_to_load_the_file(hijack):
    Path("mygan").mkdir()
    with pytest.raises(UnknownModelError, match=r"unknown model 'mygan'.*bare name is a registry name: pass "
                                                 r"'\./mygan' or 'local-dir:mygan'"):
        ganzoo.load("mygan")


@pytest.mark.parametrize("x,is_path", [
    ("dcgan", False), ("dcgan.mnist", False), ("hf-hub:org/name", False), ("./dcgan", True), ("../x", True),
    ("~/x", True), ("/abs/x", True), ("runs/dcgan", True), ("local-dir:dcgan", True), (".", True),
    ("netG.pth", True), ("weights.safetensors", True), (Path("dcgan"), True),
])
def test_is_path_like_rule(x, is_path):
    assert _is_path_like(x) is is_path


@pytest.mark.parametrize("call,exc,match", [
    (lambda: ganzoo.load(None), TypeError, r"model name or path must be a str or os.PathLike, got NoneType"),
    (lambda: ganzoo.load(123), TypeError, r"got int 123"),
    (lambda: ganzoo.load(""), InvalidModelSpecError, r"model name or path is empty"),
    (lambda: ganzoo.load("local-dir:"), InvalidModelSpecError, r"path after 'local-dir:' is empty"),
    (lambda: ganzoo.load("dcgan\n"), InvalidModelSpecError, r"control character '\\n' at position 5"),
    (lambda: ganzoo.load("dcgan", pretrained=None), TypeError, r"pretrained must be True, False, a path"),
    (lambda: ganzoo.load("dcgan", pretrained=""), InvalidModelSpecError, r"pretrained is empty"),
    (lambda: ganzoo.load("dcgan_32", revision="main\n"), InvalidRepoIdError, r"invalid revision 'main\\n'"),
    (lambda: ganzoo.from_pretrained(""), InvalidModelSpecError, r"from_pretrained source is empty"),
    (lambda: ganzoo.from_pretrained(None), TypeError, r"from_pretrained source must be a str"),
    (lambda: ganzoo.from_pretrained("hf-hub:org/name\n"), InvalidModelSpecError, r"control character"),
    (lambda: ganzoo.from_pretrained("hf-hub:org/name", revision="v1\r"), InvalidRepoIdError, r"invalid revision"),
    (lambda: ganzoo.factory.download("dcgan\n"), InvalidModelSpecError, r"control character"),
])
def test_bad_arguments_get_clear_errors(tmp_path, monkeypatch, call, exc, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("fn,good", [(validate_repo_id, "org/name"), (validate_revision, "main"),
                                     (validate_filename, "sub/model.safetensors")])
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\x00", "\t", "\x7f"])
def test_validators_refuse_control_characters(fn, good, tail):
    assert fn(good) == good
    with pytest.raises(InvalidRepoIdError, match="control character"):
        fn(good + tail)
    with pytest.raises(InvalidRepoIdError):
        fn(good[:2] + tail + good[2:])


def test_hub_spec_with_a_trailing_newline_is_refused():
    assert parse_hub_spec("hf-hub:org/name@v1") == ("org/name", "v1")
    with pytest.raises(InvalidRepoIdError, match=r"invalid revision 'v1\\n'"):
        parse_hub_spec("hf-hub:org/name@v1\n")
    with pytest.raises(InvalidRepoIdError, match=r"invalid repo id 'org/name\\n'"):
        parse_hub_spec("hf-hub:org/name\n")


def test_device_errors_are_typed():
    from ganzoo.errors import DeviceUnavailableError

    with pytest.raises(DeviceUnavailableError, match="unknown device 'bogus'"):
        ganzoo.load("dcgan_32", pretrained=False, device="bogus")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="device 'cuda' is not available"):
            ganzoo.load("dcgan_32", pretrained=False, device="cuda")


def test_swap_without_rename_exchange_restores_the_old_folder_on_failure(tmp_path, monkeypatch):
    """Where the system has no atomic exchange (not Linux, or a file system without RENAME_EXCHANGE): the old
    folder is renamed aside, and put back when the new one cannot be renamed in."""
    import ganzoo.utils as utils

    folder = ganzoo.save_pretrained(tiny(0), tmp_path / "m")
    monkeypatch.setattr(utils, "_exchange", lambda a, b: False)
    ganzoo.save_pretrained(tiny(1), folder)
    assert same(ganzoo.from_pretrained(folder), tiny(1)) and siblings(folder) == ["m"]
    real = os.rename

    def second_fails(src, dst):
        if ".ganzoo-tmp-" in str(src):
            raise OSError(18, "Invalid cross-device link (injected)")
        real(src, dst)

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(SaveDirectoryError, match="cannot put the new folder in place .*injected"):
        ganzoo.save_pretrained(tiny(2), folder)
    monkeypatch.undo()
    assert same(ganzoo.from_pretrained(folder), tiny(1)) and siblings(folder) == ["m"]
