"""Every CLI user error: exit status 1, one line on stderr, no traceback, and no folder left behind."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
import ganzoo.utils
from ganzoo.cli import main


_PROGRESS = re.compile(r"\|\s*\d+/\d+ \[")  # a tqdm progress bar (train's), not a message


def run_cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip() and not _PROGRESS.search(line)]
    return rc, lines, captured.out


def assert_user_error(capsys, argv, match: str) -> str:
    rc, err, _ = run_cli(capsys, *argv)
    assert rc == 1, (argv, rc, err)
    assert len(err) == 1, err
    assert err[0].startswith(f"ganzoo {argv[0]}: error: ") and "Traceback" not in err[0]
    assert match in err[0], err[0]
    return err[0]


@pytest.fixture
def cwd(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("n", ["-1", "0", "100000"])
def test_sample_refuses_bad_counts(cwd, capsys, n):
    assert_user_error(capsys, ["sample", "dcgan_32", "-n", n], f"-n must be between 1 and 1024 (the number of samples in the grid), got {int(n)}")
    assert list(cwd.iterdir()) == []


def test_sample_output_is_a_folder(cwd, capsys):
    (cwd / "out").mkdir()
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "out"], "expected a file path, got the directory")
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "new/"], "expected a file path, got the directory")
    assert sorted(p.name for p in cwd.iterdir()) == ["out"]


def test_sample_output_unwritable(cwd, capsys, monkeypatch):
    ro = cwd / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k))
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "ro/sub/x.png"], f"cannot write under {ro}: permission")
    (cwd / "afile").write_text("x")
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "afile/x.png"], "is a file, not a folder")
    assert list(ro.iterdir()) == []


def test_sample_output_write_fails_late(cwd, capsys, monkeypatch):
    """An OSError while writing (disk full) is a user-facing error too, and leaves no folder."""
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ganzoo.utils, "atomic_write", full)
    assert_user_error(capsys, ["sample", "dcgan_32", "-n", "2", "-o", "x.png"], "No space left on device")
    assert list(cwd.iterdir()) == []


def test_sample_unknown_suffix(cwd, capsys):
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "x.gif"], "expected one of .png, .jpg")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this build has CUDA")
def test_sample_cuda_on_a_cpu_build(cwd, capsys):
    assert_user_error(capsys, ["sample", "dcgan_32", "--device", "cuda"], "device 'cuda' is not available")


def test_sample_bogus_device(cwd, capsys):
    assert_user_error(capsys, ["sample", "dcgan_32", "--device", "bogus"], "unknown device 'bogus'")


@pytest.mark.parametrize("name,magic", [("x.jpg", b"\xff\xd8\xff"), ("x.JPEG", b"\xff\xd8\xff"),
                                        ("x.png", b"\x89PNG"), ("x.webp", b"RIFF")])
def test_sample_format_from_suffix(cwd, capsys, name, magic):
    rc, err, out = run_cli(capsys, "sample", "dcgan_32", "-n", "4", "-o", name)
    assert rc == 0, err
    assert (cwd / name).read_bytes().startswith(magic)
    assert out.strip().endswith(name)


def test_sample_name_is_not_hijacked_by_a_folder(cwd, capsys):
    (cwd / "dcgan_32").mkdir()  # before the fix: "no model.safetensors in dcgan_32"
    rc, err, _ = run_cli(capsys, "sample", "dcgan_32", "-n", "2", "-o", "g.png")
    assert rc == 0, err
    assert (cwd / "g.png").is_file()


@pytest.mark.parametrize("args,match", [(["--steps", "-1"], "--steps must be an int >= 1, got -1"),
                                        (["--steps", "0"], "--steps must be an int >= 1, got 0"),
                                        (["--batch-size", "0"], "--batch-size must be an int in [1, 4096]"),
                                        (["--lr", "-1"], "--lr must be a float in (0, 1)"),
                                        (["--model", "srgan"], "--model must be a DCGAN")])
def test_train_refuses_bad_recipes(cwd, capsys, args, match):
    assert_user_error(capsys, ["train", *args, "--out", "runs/x"], match)
    assert list(cwd.iterdir()) == []


def test_failing_train_leaves_no_folders(cwd, capsys, monkeypatch):
    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ganzoo.utils, "save_image_grid", fail)
    assert_user_error(capsys, ["train", "--model", "dcgan_32", "--steps", "1", "--batch-size", "4",
                               "--out", "runs/a/b"], "No space left on device")
    assert list(cwd.iterdir()) == []  # not runs/, not runs/a/b with a recipe.json and an empty log
    # a folder that existed keeps existing (only folders train created are removed), emptied of its files
    (cwd / "keep").mkdir()
    (cwd / "keep" / "mine.txt").write_text("x")
    assert_user_error(capsys, ["train", "--model", "dcgan_32", "--steps", "1", "--batch-size", "4",
                               "--out", "keep"], "No space left on device")
    assert sorted(p.name for p in (cwd / "keep").iterdir()) == ["mine.txt"]


def test_failing_demo_leaves_no_folders(cwd, capsys):
    err = assert_user_error(capsys, ["demo", "nosuch", "-o", "a/b/demo"], "unknown model 'nosuch'")
    assert "Known models" in err
    assert list(cwd.iterdir()) == []


def test_demo_failing_late_removes_what_it_wrote(cwd, capsys, monkeypatch):
    import ganzoo.export
    from ganzoo.export.errors import ExportError

    def boom(*a, **k):
        raise ExportError("export failed (injected)")

    monkeypatch.setattr(ganzoo.export, "to_onnx", boom)
    (cwd / "pre").mkdir()
    (cwd / "pre" / "mine.txt").write_text("x")
    assert_user_error(capsys, ["demo", "dcgan_32", "-o", "pre/demo"], "export failed (injected)")
    assert sorted(p.name for p in (cwd / "pre").iterdir()) == ["mine.txt"]  # samples, saved/ and demo/ are gone


def test_demo_output_is_a_file(cwd, capsys):
    (cwd / "f").write_text("x")
    assert_user_error(capsys, ["demo", "dcgan_32", "-o", "f"], "exists and is not a folder")


def test_multi_line_errors_print_one_line(cwd, capsys):
    assert_user_error(capsys, ["sample", "dcgan_32\n", "-o", "x.png"], "control character")


def test_a_real_process_prints_no_traceback(tmp_path):
    """The same through the installed entry point: one line, exit status 1."""
    for argv in (["sample", "dcgan_32", "--device", "bogus"], ["sample", "dcgan_32", "-n", "-1"],
                 ["train", "--steps", "-1", "--out", str(tmp_path / "r")]):
        p = subprocess.run([sys.executable, "-m", "ganzoo.cli", *argv], capture_output=True, text=True, timeout=120,
                           cwd=tmp_path)
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert p.returncode == 1 and len(lines) == 1 and "Traceback" not in p.stderr, (argv, p.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in sorted(folder.rglob("*"))}


def test_train_and_sample_outputs_honour_the_umask(cwd, capsys, umask_027):
    rc, err, _ = run_cli(capsys, "train", "--model", "dcgan_32", "--steps", "1", "--batch-size", "4", "--out", "run")
    assert rc == 0, err
    assert _modes(cwd / "run") == {"README.md": 0o640, "config.json": 0o640, "model.safetensors": 0o640,
                                   "train": 0o750, "train/checkpoint.pt": 0o640, "train/log.jsonl": 0o640,
                                   "train/recipe.json": 0o640, "train/samples_00001.png": 0o640}
    assert (cwd / "run").stat().st_mode & 0o777 == 0o750
    from safetensors.torch import load_file

    model = ganzoo.create("dcgan_32.mnist")
    model.load_state_dict(load_file(str(cwd / "run" / "model.safetensors")))  # the trained weights, complete
    rc, err, _ = run_cli(capsys, "sample", "dcgan_32", "-n", "2", "-o", "out/g.jpg")
    assert rc == 0, err
    assert _modes(cwd / "out") == {"g.jpg": 0o640}
