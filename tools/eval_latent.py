"""Measure ganzoo.latent's inversion, attribute editing and interpolation on the polygon DCGAN (issue 14).

    python tools/eval_latent.py --model runs/dcgan32-polygons --icgan runs/icgan-polygons \\
        --bigan runs/bigan-polygons --classifier runs/polygon-classifier --threads 1 \\
        --json latent_polygons.json --markdown latent_polygons.md
    python tools/eval_latent.py --model RUN --icgan DIR --icgan-steps 300 --quick ...   # a small smoke run

Everything is measured on **held-out real polygon images** (:func:`ganzoo.data.polygons.polygon_heldout`,
``POLYGONS_HELDOUT_SEED``, never trained on): images ``[0, n_eval)`` are inverted and edited; the attribute vectors
are computed from images ``[half, 2 * half)`` of the held-out set (``half`` = ``--heldout`` / 2), disjoint from the
edited ones.

1. **Inversion** (:func:`ganzoo.latent.invert`, one start per image, Adam lr 0.05, pixel MSE, no prior or feature
   term): optimise-from-random, IcGAN encoder only, IcGAN encoder-then-optimise, BiGAN encoder only, BiGAN
   encoder-then-optimise, at each ``--steps`` budget; PSNR of G(z) against the image (peak = the [-1, 1] range's
   width, i.e. PSNR of images in [0, 1]), mean over the images, time per image (the batch's wall time / its size),
   and the share of reconstructions whose four factors the classifier reads as the image's true labels.
2. **Attribute editing** (:func:`ganzoo.latent.attribute_vector`, :func:`ganzoo.latent.edit`; the codes z = E(x),
   and E(x) refined by ``max(--steps)`` optimisation steps; strength ``--strength``, a comma list, each
   measured): for each encoder and each edit (colour red -> blue, blue -> red, size small -> large,
   large -> small), the vector is mean E(x) over vector images with the target value minus the mean over those
   with the source value; edited images are the evaluation images with the source value. An edit **succeeds**
   when the classifier reads the target value on G(z + v) and the same other three factors as on the unedited
   reconstruction G(z).
3. **Interpolation** (:func:`ganzoo.latent.interpolate`, slerp and linear, ``--frames`` frames): pairs of evaluation
   images with size small and large and the same colour and sides, endpoints inverted with the IcGAN encoder then
   ``max(--steps)`` optimisation steps; along each path the classifier's expected size class (sum_k k p_k, in
   [0, 2]) and P(large) are **monotone** when no step goes against the endpoints' direction by more than
   ``--tolerance`` (0.05); also the share of paths whose colour reading stays the endpoints'.
4. **Semantic inpainting** (Yeh et al. 2016, :func:`ganzoo.latent.semantic_inpaint`, ``max(--steps)`` steps,
   Poisson blend) against OpenCV Telea and Navier-Stokes on the inverted images with seeded 10-30% rectangle holes:
   PSNR inside the hole and the share of fills the classifier reads correctly on all four factors.
5. **Samples** (``--samples``, 2048): what the classifier reads on G(z), z ~ N(0, 1), next to an untrained G of the
   same config (the floor) and the held-out real images (the ceiling): per factor the total-variation distance
   between its class histogram and the held-out labels' histogram, and the share read confidently (p >= 0.9) on
   all four factors.

A :class:`ganzoo.train.classifiers.PolygonClassifier` reads the factors: loaded from ``--classifier DIR`` when
``DIR/classifier.safetensors`` exists, otherwise trained on real images of its own seed
(``CLASSIFIER_SEED``, not the GAN's seed 0 nor the held-out seed) and saved there; its held-out accuracy per factor
is reported. An encoder folder without ``encoder.safetensors`` is trained IcGAN-style when ``--icgan-steps`` is
given (:func:`ganzoo.latent.encoders.train_icgan_encoder`) and saved there; without it that encoder's rows are left
out. The JSON report holds every number, the settings and wall times; the markdown (also on stdout) the tables.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

logger = logging.getLogger("eval_latent")

#: (factor, source value, target value): the edits measured, by class index names below
EDITS = (("colour", "red", "blue"), ("colour", "blue", "red"), ("size", "small", "large"), ("size", "large", "small"))
SIZE_NAMES = ("small", "medium", "large")


def class_index(factor: str, name: str) -> int:
    """The class index of a named factor value ("red" -> 0, "large" -> 2)."""
    from ganzoo.data.polygons import POLYGON_COLOURS

    names = list(POLYGON_COLOURS) if factor == "colour" else list(SIZE_NAMES)
    return names.index(name)


# ------------------------------------------------------------------------------------------------ classifier


def get_classifier(folder: Path | None, *, n: int, epochs: int) -> tuple[Any, dict[str, Any]]:
    """The factor classifier: loaded from ``folder/classifier.safetensors`` or trained (and saved there)."""
    from ganzoo.train.classifiers import (CLASSIFIER_SEED, POLYGON_CLASSIFIER_FILE, load_polygon_classifier,
                                          save_polygon_classifier, train_polygon_classifier)

    path = folder / POLYGON_CLASSIFIER_FILE if folder is not None else None
    if path is not None and path.is_file():
        try:
            clf, info = load_polygon_classifier(path)
        except ValueError as e:
            raise ValueError(f"--classifier {folder}: {e}") from None
        logger.info("loaded the factor classifier from %s", path)
        return clf, {**info, "loaded_from": str(path)}
    t0 = time.perf_counter()
    clf = train_polygon_classifier(n, seed=CLASSIFIER_SEED, epochs=epochs)
    info = {"train_images": n, "epochs": epochs, "seed": CLASSIFIER_SEED, "train_s": round(time.perf_counter() - t0, 1)}
    if path is not None:
        save_polygon_classifier(clf, path, info=info)
    return clf, info


@torch.no_grad()
def classify(clf: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Softmax probabilities per factor of images (B, 3, 32, 32) in [-1, 1], in batches of 256."""
    outs: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(x), 256):
        for k, v in clf(x[i:i + 256].float().cpu()).items():
            outs.setdefault(k, []).append(v.softmax(1))
    return {k: torch.cat(v) for k, v in outs.items()}


def predict(clf: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: p.argmax(1) for k, p in classify(clf, x).items()}


# ------------------------------------------------------------------------------------------------ encoders


def get_encoder(folder: Path | None, model: Any, *, train_steps: int | None, label: str, model_arg: str
                ) -> tuple[Any, Any, dict[str, Any]] | None:
    """(encoder, the generator it inverts, info) for the encoder in ``folder`` (trained and saved there first with
    ``train_steps``), or None. The generator is ``model``, except for a BiGAN run that fine-tuned its generator
    (``freeze_g`` false): its own."""
    from ganzoo.latent.encoders import (ENCODER_WEIGHTS, check_encoder_matches, load_encoder, save_encoder,
                                        train_icgan_encoder)

    if folder is None:
        return None
    if not (folder / ENCODER_WEIGHTS).is_file():
        if not train_steps:
            logger.warning("%s: no %s in %s; its rows are left out", label, ENCODER_WEIGHTS, folder)
            return None
        t0 = time.perf_counter()
        enc, hist = train_icgan_encoder(model, train_steps, generator=model_arg, progress=True)
        tail = hist[-50:]
        info = {"tool": "tools/eval_latent.py", "steps": train_steps, "latent_mse_first": hist[0],
                "latent_mse_last50": sum(tail) / len(tail), "wall_s": round(time.perf_counter() - t0, 1)}
        save_encoder(enc, folder, info=info)
    enc = load_encoder(folder)
    check_encoder_matches(enc, model)
    js = folder / "encoder.json"
    info = json.loads(js.read_text()).get("training", {}) if js.is_file() else {}
    gen, own = model, False
    recipe = folder / "train" / "recipe.json"
    if enc.config.method == "bigan" and recipe.is_file() and not json.loads(recipe.read_text()).get("freeze_g"):
        import ganzoo

        gen, own = ganzoo.load(folder, device="cpu").eval(), True
        logger.info("%s: the run fine-tuned its generator; its rows use that generator", label)
    return enc, gen, {"path": str(folder), "method": enc.config.method, "own_generator": own, **info}


# ------------------------------------------------------------------------------------------------ measures


def factors_match(pred: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], factors=None) -> torch.Tensor:
    """(B,) bool: every factor of ``factors`` (default all) of ``pred`` equals ``labels``."""
    ks = list(factors or pred)
    ok = torch.ones(len(pred[ks[0]]), dtype=torch.bool)
    for k in ks:
        ok &= pred[k] == labels[k]
    return ok


def run_inversion(model: Any, clf: Any, x: torch.Tensor, labels: dict[str, torch.Tensor],
                  encoders: dict[str, Any], budgets: list[int], seed: int) -> list[dict[str, Any]]:
    from ganzoo.latent import invert

    rows = []
    plan: list[tuple[str, str, Any, int, Any]] = [("optimize from random", "optimize", None, s, model)
                                                  for s in budgets]
    for name, (enc, gen) in encoders.items():
        plan.append((f"{name} encoder", "encoder", enc, 0, gen))
        plan += [(f"{name} encoder + optimize", "encoder+optimize", enc, s, gen) for s in budgets]
    for label, method, enc, steps, gen in plan:
        res = invert(gen, x, method, steps=max(steps, 1), restarts=1, encoder=enc, seed=seed, progress=False)
        kept = factors_match(predict(clf, res.reconstruction), labels)
        rows.append({"method": label, "steps": steps, "images": len(x), "psnr_mean": float(res.psnr.mean()),
                     "psnr_std": float(res.psnr.std()) if len(x) > 1 else 0.0, "mse_mean": float(res.mse.mean()),
                     "time_per_image_s": res.time_s / len(x), "factors_kept": float(kept.float().mean())})
        logger.info("inversion %s, %d steps: PSNR %.2f dB", label, steps, rows[-1]["psnr_mean"])
    return rows


def run_edits(clf: Any, x_edit: torch.Tensor, lab_edit: dict[str, torch.Tensor], x_vec: torch.Tensor,
              lab_vec: dict[str, torch.Tensor], encoders: dict[str, Any],
              strengths: list[float], opt_steps: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Edit rows for each encoder, edit and strength: the codes are z = E(x), and (``opt_steps`` > 0) also E(x)
    refined by that many optimisation steps (the vector is mean E(x) either way)."""
    from ganzoo.data.polygons import FACTORS
    from ganzoo.latent import attribute_vector, edit

    from ganzoo.latent import invert

    rows = []
    for name, (enc, model) in encoders.items():
        with torch.no_grad():
            starts = {"E(x)": enc.eval()(x_edit)}
        if opt_steps:
            starts[f"E(x) + {opt_steps} steps"] = invert(model, x_edit, method="encoder+optimize", encoder=enc,
                                                        steps=opt_steps, restarts=1, seed=seed, progress=False).z
        for factor, src, dst in EDITS:
            a, b = class_index(factor, src), class_index(factor, dst)
            with_ = x_vec[lab_vec[factor] == b]
            without = x_vec[lab_vec[factor] == a]
            sel = lab_edit[factor] == a
            todo = x_edit[sel]
            others = [f for f in FACTORS if f != factor]
            true = {k: lab_edit[k][sel] for k in FACTORS}
            base = {"encoder": name, "edit": f"{factor} {src} -> {dst}", "images": len(todo),
                    "vector_images": [len(with_), len(without)]}
            if len(with_) == 0 or len(without) == 0 or len(todo) == 0:
                rows += [{**base, "codes": c, "strength": st, "success": None, "target": None, "kept": None,
                          "reconstruction_correct": None} for c in starts for st in strengths]
                continue
            v = attribute_vector(enc, with_, without)
            for (codes, z0), st in ((c, st) for c in starts.items() for st in strengths):
                row = {**base, "codes": codes, "strength": st}
                res = edit(model, todo, {factor: st}, {factor: v}, z=z0[sel])
                pe, pr = predict(clf, res.outputs), predict(clf, res.reconstruction)
                target = pe[factor] == b
                kept = factors_match(pe, pr, others)
                rows.append({**row, "success": float((target & kept).float().mean()),
                             "target": float(target.float().mean()), "kept": float(kept.float().mean()),
                             "reconstruction_correct": float(factors_match(pr, true).float().mean()),
                             "vector_norm": float(v.norm())})
                logger.info("edit %s x %g (%s, z = %s): success %.3f", row["edit"], st, name, codes,
                            rows[-1]["success"])
    return rows


def monotone(v: np.ndarray, tol: float) -> bool:
    """True when ``v`` (T,) never steps against the direction of v[-1] - v[0] by more than ``tol``."""
    sign = 1.0 if v[-1] >= v[0] else -1.0
    return bool((sign * np.diff(v) >= -tol).all())


def run_interpolation(model: Any, clf: Any, x: torch.Tensor, lab: dict[str, torch.Tensor], encoder: Any,
                      *, steps: int, frames: int, max_pairs: int, tol: float, seed: int) -> dict[str, Any]:
    from ganzoo.latent import interpolate, invert

    small = torch.nonzero(lab["size"] == 0).flatten().tolist()
    large = torch.nonzero(lab["size"] == 2).flatten().tolist()
    pairs, used = [], set()
    for i in small:
        for j in large:
            if j not in used and lab["colour"][i] == lab["colour"][j] and lab["sides"][i] == lab["sides"][j]:
                pairs.append((i, j))
                used.add(j)
                break
        if len(pairs) >= max_pairs:
            break
    out: dict[str, Any] = {"pairs": len(pairs), "frames": frames, "tolerance": tol, "endpoint_steps": steps}
    if not pairs:
        return out
    idx = torch.tensor([k for p in pairs for k in p])
    method = "encoder+optimize" if encoder is not None else "optimize"
    inv = invert(model, x[idx], method, steps=steps, restarts=1, encoder=encoder, seed=seed, progress=False)
    out["endpoint_method"] = method + (" (IcGAN)" if encoder is not None else "")
    out["endpoint_psnr"] = float(inv.psnr.mean())
    for path in ("slerp", "linear"):
        mono_v = mono_p = colour_kept = ends_ok = 0
        for k in range(len(pairs)):
            imgs = interpolate(model, inv.z[2 * k], inv.z[2 * k + 1], steps=frames, method=path)
            p = classify(clf, imgs)
            size_p = p["size"].numpy()
            ev = size_p @ np.arange(3, dtype=np.float64)
            mono_v += monotone(ev, tol)
            mono_p += monotone(size_p[:, 2], tol)
            col = p["colour"].argmax(1)
            colour_kept += bool((col == col[0]).all() and (col[-1] == col[0]))
            ends_ok += bool(p["size"][0].argmax() == 0 and p["size"][-1].argmax() == 2)
        n = len(pairs)
        out[path] = {"monotone_expected_size": mono_v / n, "monotone_p_large": mono_p / n,
                     "colour_constant": colour_kept / n, "endpoints_small_large": ends_ok / n}
    return out


# ------------------------------------------------------------------------------------------------ report


@torch.no_grad()
def factor_profile(clf: Any, x: torch.Tensor, conf: float = 0.9) -> dict[str, Any]:
    """What the classifier reads on images (B, 3, 32, 32) in [-1, 1]: per factor the histogram of its argmax,
    and the share of images whose every factor is read with probability >= ``conf``."""
    probs = classify(clf, x)
    hist = {k: (torch.bincount(p.argmax(1), minlength=p.shape[1]).double() / len(x)).tolist()
            for k, p in probs.items()}
    confident = torch.stack([p.max(1).values >= conf for p in probs.values()]).all(0)
    return {"hist": hist, "confident": float(confident.double().mean())}


def _tv(p: list[float], q: list[float]) -> float:
    return 0.5 * float(sum(abs(a - b) for a, b in zip(p, q)))


def run_samples(model: Any, clf: Any, x_real: torch.Tensor, lab_real: dict[str, torch.Tensor], n: int,
                seed: int) -> dict[str, Any]:
    """Sample quality read by the factor classifier: ``n`` samples of G (z ~ N(0, 1), seeded), an untrained G of
    the same config (the floor) and the held-out real images (the ceiling). Per factor the total-variation distance
    between the classifier's histogram on the images and the real labels' histogram (0 = the factor's values are
    as common as in the data), and the share of images read confidently on all four factors."""
    import ganzoo

    from ganzoo.data.polygons import N_CLASSES

    true_hist = {k: (torch.bincount(v, minlength=N_CLASSES[k]).double() / len(v)).tolist() for k, v in lab_real.items()}
    z = torch.randn(n, model.config.nz, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    untrained = ganzoo.create(model.model_name, **model.config.to_dict()).eval()
    rows = {}
    for label, imgs in (("samples", model.generator(z)), ("untrained G", untrained.generator(z)),
                        ("held-out real", x_real)):
        prof = factor_profile(clf, imgs.clamp(-1, 1))
        rows[label] = {"images": len(imgs), "confident": prof["confident"],
                       "tv": {k: _tv(prof["hist"][k], true_hist[k]) for k in true_hist}, "hist": prof["hist"]}
    return {"n": n, "seed": seed, "confidence": 0.9, "true_hist": true_hist, "rows": rows}


def run_inpainting(model: Any, clf: Any, x: torch.Tensor, lab: dict[str, torch.Tensor], n: int, steps: int,
                   seed: int) -> dict[str, Any]:
    """Semantic inpainting by z-optimisation (Yeh et al. 2016, :func:`ganzoo.latent.semantic_inpaint`, Poisson blend)
    against OpenCV's Telea and Navier-Stokes on the first ``n`` images ``x`` with seeded rectangle holes of 10-30%
    (:func:`ganzoo.data.inpainting.mask_in_bucket`): PSNR inside the hole (images in [0, 1]) and the share of filled
    images whose four factors the classifier reads as the true labels."""
    from ganzoo.data.inpainting import mask_in_bucket
    from ganzoo.latent import semantic_inpaint
    from ganzoo.pipelines.inpainting import opencv_inpaint
    from ganzoo.utils import to_uint8

    x = x[:n]
    size = x.shape[-1]
    holes = np.stack([mask_in_bucket(size, size, (0.1, 0.3), kind="rect", seed=seed * 100003 + k)
                      for k in range(len(x))])
    hole_t = torch.from_numpy(holes)
    u8 = to_uint8(x, (-1.0, 1.0)).permute(0, 2, 3, 1).numpy()

    def from_u8(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)

    t0 = time.perf_counter()
    sem = semantic_inpaint(model, x, hole_t, steps=steps, blend="poisson", seed=seed, progress=False).composite
    t_sem = time.perf_counter() - t0
    fills = {f"semantic inpainting ({steps} steps, Poisson blend)": (sem.clamp(-1, 1), t_sem)}
    for name, algo in (("OpenCV Telea", "telea"), ("OpenCV Navier-Stokes", "ns")):
        t0 = time.perf_counter()
        out = np.stack([opencv_inpaint(u8[k], holes[k], algo) for k in range(len(x))])
        fills[name] = (from_u8(out), time.perf_counter() - t0)
    rows = []
    hm = hole_t[:, None].expand_as(x)
    for name, (img, secs) in fills.items():
        err = ((img - x) / 2) ** 2
        mse = torch.stack([err[k][hm[k]].mean() for k in range(len(x))]).clamp_min(1e-10)
        psnr = 10 * torch.log10(1 / mse)
        rows.append({"method": name, "images": len(x), "hole_psnr_mean": float(psnr.mean()),
                     "hole_psnr_std": float(psnr.std()), "time_per_image_s": secs / len(x),
                     "factors_correct": float(factors_match(predict(clf, img), {k: v[:n] for k, v in lab.items()})
                                              .float().mean())})
        logger.info("inpainting %s: hole PSNR %.2f dB", name, rows[-1]["hole_psnr_mean"])
    return {"holes": "rectangles covering 10-30%", "coverage_mean": float(holes.mean()), "rows": rows}


def evaluate(model: Any, *, model_arg: str, clf: Any, clf_info: dict[str, Any], encoders: dict[str, Any],
             encoder_info: dict[str, Any], heldout: int, n_eval: int, budgets: list[int], strength: list[float],
             frames: int, pairs: int, tol: float, seed: int, samples: int = 2048) -> dict[str, Any]:
    """Every measure of the module docstring, as a JSON-serialisable report. encoders: name ("IcGAN", "BiGAN")
    -> (encoder, the generator it inverts); the IcGAN one (if any) also inverts the interpolation endpoints."""
    from ganzoo.data.polygons import FACTORS, POLYGONS_HELDOUT_SEED, polygon_heldout
    from ganzoo.train.classifiers import polygon_accuracy

    t0 = time.perf_counter()
    xs, labs = polygon_heldout(heldout)
    x = torch.from_numpy(xs)
    lab = {k: torch.from_numpy(labs[k]) for k in FACTORS}
    half = heldout // 2
    n_eval = min(n_eval, half)
    ev = slice(0, n_eval)
    x_ev, lab_ev = x[ev], {k: v[ev] for k, v in lab.items()}
    x_vec, lab_vec = x[half:2 * half], {k: v[half:2 * half] for k, v in lab.items()}
    acc = polygon_accuracy(clf, x, labs)
    timing: dict[str, float] = {}
    t = time.perf_counter()
    inv_rows = run_inversion(model, clf, x_ev, lab_ev, encoders, budgets, seed)
    timing["inversion_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    edit_x, edit_lab = x[:half], {k: v[:half] for k, v in lab.items()}
    edit_rows = run_edits(clf, edit_x, edit_lab, x_vec, lab_vec, encoders, strength, opt_steps=max(budgets),
                          seed=seed)
    timing["editing_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    icgan = encoders.get("IcGAN")
    interp = run_interpolation(model, clf, edit_x, edit_lab, icgan[0] if icgan else None, steps=max(budgets),
                               frames=frames, max_pairs=pairs, tol=tol, seed=seed)
    timing["interpolation_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    inpaint_report = run_inpainting(model, clf, x_ev, lab_ev, n_eval, max(budgets), seed)
    timing["inpainting_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    sample_report = run_samples(model, clf, x, lab, samples, seed)
    timing["samples_s"] = round(time.perf_counter() - t, 1)
    timing["total_s"] = round(time.perf_counter() - t0, 1)
    import ganzoo

    return {
        "model": model_arg, "model_name": model.model_name, "config": model.config.to_dict(),
        "heldout": {"seed": POLYGONS_HELDOUT_SEED, "images": heldout, "inverted": n_eval,
                    "edited_from": f"[0, {half})", "vectors_from": f"[{half}, {2 * half})"},
        "classifier": {**clf_info, "heldout_accuracy": acc, "heldout_images": heldout},
        "encoders": encoder_info, "inversion": {"budgets": budgets, "lr": 0.05, "restarts": 1, "rows": inv_rows},
        "editing": {"strengths": strength, "rows": edit_rows}, "interpolation": interp, "inpainting": inpaint_report,
        "samples": sample_report,
        "timing": timing,
        "machine": {"cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
                    "device": "cpu"},
        "versions": {"ganzoo": ganzoo.__version__, "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _f(v: Any, fmt: str = ".3f") -> str:
    return "n/a" if v is None else format(v, fmt)


def markdown(r: dict[str, Any]) -> str:
    h, c = r["heldout"], r["classifier"]
    acc = ", ".join(f"{k} {v:.3f}" for k, v in c["heldout_accuracy"].items())
    src = (f"loaded from {c['loaded_from']}" if "loaded_from" in c else "trained here")
    trained = f"{c.get('train_images', '?')} real images of seed {c.get('seed', '?')}, {c.get('epochs', '?')} epochs"
    lines = [f"## Latent tools on {r['model']} ({r['model_name']}, nz={r['config'].get('nz')})", "",
             f"Held-out real polygons (seed {h['seed']}, never trained on): {h['images']} images; inversion on the "
             f"first {h['inverted']}, edits of images {h['edited_from']}, attribute vectors from {h['vectors_from']}.",
             "", f"Factor classifier ({src}; {trained}): held-out accuracy {acc}.", ""]
    for name, info in r["encoders"].items():
        lines.append(f"- {name} encoder: {info.get('path')} ({info.get('method')}; "
                     f"{info.get('steps', '?')} steps" + (f", {info['wall_s']} s" if "wall_s" in info else "")
                     + ("; its rows use the run's own fine-tuned generator" if info.get("own_generator") else "")
                     + ")")
    inv = r["inversion"]
    lines += ["", f"### Inversion (one start per image, Adam lr {inv['lr']}, pixel MSE)", "",
              "| method | steps | PSNR (dB), mean ± sd | time / image (ms) | factors kept |",
              "|---|---:|---:|---:|---:|"]
    for row in inv["rows"]:
        lines.append(f"| {row['method']} | {row['steps']} | {row['psnr_mean']:.2f} ± {row['psnr_std']:.2f} | "
                     f"{1000 * row['time_per_image_s']:.1f} | {row['factors_kept']:.3f} |")
    lines += ["", "Factors kept: share of reconstructions whose four factors the classifier reads as the image's "
              "true labels.", "",
              "### Attribute editing (z + strength * vector; z = E(x), or E(x) refined by optimisation)", "",
              "| encoder | z | edit | strength | images | success | target reached | others kept | reconstruction "
              "correct |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["editing"]["rows"]:
        lines.append(f"| {row['encoder']} | {row['codes']} | {row['edit']} | {row['strength']:g} | {row['images']} | "
                     f"{_f(row['success'])} | "
                     f"{_f(row['target'])} | {_f(row['kept'])} | {_f(row['reconstruction_correct'])} |")
    lines += ["", "Success: the classifier reads the target value on the edit and the same other three factors as on "
              "the unedited reconstruction. Reconstruction correct: all four factors of G(E(x)) read as the true "
              "labels.", ""]
    it = r["interpolation"]
    lines += [f"### Interpolation ({it['pairs']} pairs small -> large of the same colour and sides, {it['frames']} "
              f"frames, tolerance {it['tolerance']})", ""]
    if it["pairs"]:
        lines += [f"Endpoints: {it['endpoint_method']}, {it['endpoint_steps']} steps, PSNR {it['endpoint_psnr']:.2f} "
                  f"dB.", "", "| path | E[size] monotone | P(large) monotone | colour constant | ends read small / "
                  "large |", "|---|---:|---:|---:|---:|"]
        for p in ("slerp", "linear"):
            q = it[p]
            lines.append(f"| {p} | {q['monotone_expected_size']:.3f} | {q['monotone_p_large']:.3f} | "
                         f"{q['colour_constant']:.3f} | {q['endpoints_small_large']:.3f} |")
    ip = r.get("inpainting")
    if ip:
        lines += ["", f"### Inpainting held-out polygons ({ip['rows'][0]['images']} images, {ip['holes']}, mean "
                  f"{ip['coverage_mean']:.2f})", "", "| method | hole PSNR (dB), mean ± sd | time / image (ms) | "
                  "factors correct |", "|---|---:|---:|---:|"]
        for row in ip["rows"]:
            lines.append(f"| {row['method']} | {row['hole_psnr_mean']:.2f} ± {row['hole_psnr_std']:.2f} | "
                         f"{1000 * row['time_per_image_s']:.1f} | {row['factors_correct']:.3f} |")
        lines += ["", "Factors correct: the classifier reads all four factors of the filled image as its true labels. "
                  "The PG-GAN inpainting model is not compared: it is trained on photos, not on these 32x32 "
                  "polygons."]
    sm = r.get("samples")
    if sm:
        from ganzoo.data.polygons import FACTORS

        lines += ["", f"### Samples read by the factor classifier ({sm['n']} samples, z ~ N(0, 1), seed {sm['seed']})",
                  "", "| images | confident on all factors | " + " | ".join(f"TV {k}" for k in FACTORS) + " |",
                  "|---|---:|" + "---:|" * len(FACTORS)]
        for label, row in sm["rows"].items():
            lines.append(f"| {label} ({row['images']}) | {row['confident']:.3f} | "
                         + " | ".join(f"{row['tv'][k]:.3f}" for k in FACTORS) + " |")
        lines += ["", f"Confident: every factor read with probability >= {sm['confidence']}. TV: total-variation "
                  "distance between the classifier's class histogram on those images and the held-out labels' "
                  "histogram (0 = each value as common as in the data; the real row is the classifier's own error)."]
    t = r["timing"]
    lines += ["", f"{t['total_s']:.0f} s (inversion {t['inversion_s']:.0f} s, editing {t['editing_s']:.0f} s, "
              f"interpolation {t['interpolation_s']:.0f} s) on {r['machine']['cpu']} (cpu, "
              f"{r['machine']['torch_threads']} thread(s)), ganzoo {r['versions']['ganzoo']}, torch "
              f"{r['versions']['torch']}, {r['date']}."]
    return "\n".join(lines) + "\n"


def _int_at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {v}")
        return v

    return parse


def _strengths(text: str) -> list[float]:
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals or any(not np.isfinite(v) or v == 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected non-zero finite strengths, got {text!r}")
    return vals


def _budgets(text: str) -> list[int]:
    try:
        vals = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts such as 50,200, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected step counts >= 1, got {text!r}")
    return vals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the polygon DCGAN: a run folder or name.tag ganzoo.load accepts")
    ap.add_argument("--icgan", type=Path, default=None, help="folder of the IcGAN encoder (encoder.safetensors)")
    ap.add_argument("--icgan-steps", type=_int_at_least(1), default=None,
                    help="train the IcGAN encoder for this many steps when --icgan has none, and save it there")
    ap.add_argument("--bigan", type=Path, default=None, help="a BiGAN run folder (python -m ganzoo.train.bigan)")
    ap.add_argument("--classifier", type=Path, default=None,
                    help="folder of the factor classifier (trained and saved there when absent)")
    ap.add_argument("--classifier-images", type=_int_at_least(64), default=12000)
    ap.add_argument("--classifier-epochs", type=_int_at_least(1), default=6)
    ap.add_argument("--heldout", type=_int_at_least(8), default=512, help="held-out images used (default 512)")
    ap.add_argument("--n", type=_int_at_least(1), default=128, help="images inverted per method (default 128)")
    ap.add_argument("--steps", type=_budgets, default=[50, 200], help="optimisation budgets (default 50,200)")
    ap.add_argument("--strength", type=_strengths, default=[1.0, 2.0],
                    help="attribute vector strengths, comma-separated (default 1,2)")
    ap.add_argument("--frames", type=_int_at_least(2), default=9)
    ap.add_argument("--pairs", type=_int_at_least(1), default=32)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--samples", type=_int_at_least(1), default=2048,
                    help="generated samples whose factors the classifier reads (default 2048)")
    ap.add_argument("--seed", type=_int_at_least(0), default=0)
    ap.add_argument("--threads", type=_int_at_least(0), default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 64 held-out images, 8 inverted, budgets 5,10, a classifier of 256 images, "
                         "1 epoch, 2 pairs of 5 frames")
    ap.add_argument("--json", default=None, help="write the JSON report here")
    ap.add_argument("--markdown", default=None, help="write the markdown tables here")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if a.quick:
        a.heldout, a.n, a.steps, a.classifier_images, a.classifier_epochs = 64, 8, [5, 10], 256, 1
        a.pairs, a.frames, a.samples = 2, 5, 64
    if a.threads:
        torch.set_num_threads(a.threads)
    import ganzoo
    from ganzoo.errors import GanzooError
    from ganzoo.models.dcgan import DCGANConfig
    from ganzoo.utils import atomic_write

    try:
        model = ganzoo.load(a.model, device="cpu").eval()
    except (GanzooError, OSError, ValueError) as e:
        ap.error(f"--model {a.model}: {e}")
    cfg = model.config
    if not isinstance(cfg, DCGANConfig) or cfg.nc != 3 or cfg.image_size != 32:
        ap.error(f"--model {a.model}: expected a 32x32 RGB DCGAN (the polygons), got {model.model_name} "
                 f"{getattr(cfg, 'nc', '?')}x{getattr(cfg, 'image_size', '?')}")
    encoders, info = {}, {}
    try:
        for label, folder, steps in (("IcGAN", a.icgan, a.icgan_steps), ("BiGAN", a.bigan, None)):
            got = get_encoder(folder, model, train_steps=steps, label=label, model_arg=a.model)
            if got is not None:
                encoders[label], info[label] = got[:2], got[2]
        clf, clf_info = get_classifier(a.classifier, n=a.classifier_images, epochs=a.classifier_epochs)
    except (ValueError, OSError) as e:
        ap.error(str(e))
    report = evaluate(model, model_arg=a.model, clf=clf, clf_info=clf_info, encoders=encoders, encoder_info=info,
                      heldout=a.heldout, n_eval=a.n, budgets=a.steps, strength=a.strength, frames=a.frames,
                      pairs=a.pairs, tol=a.tolerance, seed=a.seed, samples=a.samples)
    report["command"] = " ".join(["python", "tools/eval_latent.py", *(sys.argv[1:] if argv is None else argv)])
    if a.json:
        atomic_write(Path(a.json), (json.dumps(report, indent=2) + "\n").encode())
    md = markdown(report)
    if a.markdown:
        atomic_write(Path(a.markdown), md.encode())
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
