"""``ganzoo demo``: a tour on the embedded hub that also writes a self-contained HTML page.

:func:`run_demo` does what the tour always did (load ``dcgan`` from the embedded hub with its sha256 verified,
draw 64 samples, check that a ``save_pretrained`` -> ``from_pretrained`` round trip gives bit-identical outputs,
export to ONNX validated in ONNX Runtime) and writes ``index.html`` beside its pictures. The page needs no
network: inline CSS, no scripts, every picture a PNG (animated: a GIF) in the same folder, referenced by a
relative path.

The page is a list of sections, each built by a function in :data:`SECTIONS` from the shared
:class:`DemoContext`. A section whose weights are not published is kept, with the reason stated, instead of
failing the demo; later families add their builder to the list. A builder that raises is shown as FAILED and
makes :attr:`DemoResult.ok` False. Builders load models through :meth:`DemoContext.load_model` (``run_demo(load=...)``
replaces the embedded hub, e.g. with small untrained models in tests).

The 3D-GAN, DR-GAN and TGAN sections compare with held-out data (``voxel_heldout``, the ``HEADS_HELDOUT_SEED``
identities, ``sprite_heldout``), deterministically by ``seed``; each is skipped, with the NoPretrainedWeightsError
message, while its tag (:data:`GAN3D_TAG`, :data:`DRGAN_TAG` / :data:`DRGAN_MULTI_TAG`, :data:`TGAN_TAG`) has no
published weights.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import html
import io
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["run_demo", "DemoResult", "DemoContext", "Section", "SECTIONS", "SR_DEMO_PHOTOS", "SR_MODELS", "SR_X2_MODELS", "SR_X8_MODELS",
           "INPAINT_DEMO_PAIRS", "GAN3D_TAG", "GAN3D_DEMO_N", "GAN3D_HELDOUT_INDICES", "DRGAN_TAG", "DRGAN_MULTI_TAG",
           "DRGAN_DEMO_IDENTITY", "DRGAN_INPUT_YAW", "DRGAN_MULTI_INPUT_YAWS", "TGAN_TAG", "TGAN_DEMO_N", "TGAN_FPS"]

#: Held-out photos shown in the SR section, with the zoomed box (top, left, height, width) in HR-crop pixels.
SR_DEMO_PHOTOS: tuple[tuple[str, tuple[int, int, int, int]], ...] = (
    ("chelsea", (56, 24, 64, 64)),
    ("china", (72, 96, 64, 64)),
)
#: (column title, registry name) of the SR models in the SR section.
SR_MODELS: tuple[tuple[str, str], ...] = (("SRResNet", "srresnet"), ("SRGAN", "srgan"))
SR_X2_MODELS: tuple[tuple[str, str], ...] = (("SRResNet x2", "srresnet_x2"), ("SRGAN x2", "srgan_x2"))
SR_X8_MODELS: tuple[tuple[str, str], ...] = (("SRResNet x8", "srresnet_x8"), ("SRGAN x8", "srgan_x8"))
_ZOOM_SIDE = 256  # zoomed crops are shown this many pixels wide (nearest-neighbour, pixels visible)


@dataclasses.dataclass
class Section:
    """One section of the page. ``status``: "shown", "skipped" (with ``reason``) or "failed" (with ``reason``)."""

    id: str
    title: str
    status: str = "shown"
    reason: str = ""
    body: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "reason": self.reason,
                "seconds": self.seconds}


@dataclasses.dataclass
class DemoContext:
    """What the builders share: the output folder, the tour's results and a way to write pictures."""

    out_dir: Path
    seed: int
    model: Any = None  # the tour's model (dcgan.digiface, the default tag of dcgan, by default)
    samples_png: Path | None = None
    saved_dir: Path | None = None
    round_trip_identical: bool | None = None
    export: Any = None  # ganzoo.export.ExportResult, or None
    export_skipped: str = ""
    files: list[Path] = dataclasses.field(default_factory=list)
    shown_families: dict[str, str] = dataclasses.field(default_factory=dict)  # family -> section id
    load_sr: Callable[[str], Any] | None = None  # how the SR sections load a model (default: load below)
    load: Callable[[str], Any] | None = None  # how the other model sections load a tag (default: embedded hub)
    #: how a section gets a file a tag ships beside its weights: (tag, "encoder" | "classifier") -> the module or
    #: None (default: from the tag's embedded repo, sha256-checked)
    load_extra: Callable[[str, str], Any] | None = None

    def load_model(self, name: str) -> Any:
        """The model ``name`` by :attr:`load` (default ``ganzoo.load(name, local_files_only=True)``); raises
        NoPretrainedWeightsError when no weights are published for it."""
        return (self.load or _load_default)(name)

    def load_extra_file(self, tag: str, kind: str) -> Any:
        """The ``kind`` ("encoder" or "classifier") that ``tag`` ships, or None when it ships none."""
        return (self.load_extra or _load_extra_default)(tag, kind)

    def add_file(self, name: str) -> str:
        """Record ``out_dir/name`` (written atomically by the caller) as a file of the demo; returns ``name``."""
        self.files.append(self.out_dir / name)
        return name

    def save_png(self, name: str, image: np.ndarray) -> str:
        """Write a uint8 (H, W) or (H, W, 3) image as ``out_dir/name`` atomically; returns the relative path."""
        from PIL import Image

        from .utils import atomic_write

        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
        path = self.out_dir / name
        atomic_write(path, buf.getvalue())
        self.files.append(path)
        return name

    def rel(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.out_dir)).as_posix()


@dataclasses.dataclass
class DemoResult:
    """What :func:`run_demo` did: the page, every file it wrote, and each section's status."""

    out_dir: Path
    index: Path
    files: list[Path]
    sections: list[Section]
    round_trip_identical: bool
    export: Any
    seconds: float

    @property
    def ok(self) -> bool:
        """The round trip was bit-identical and no section failed."""
        return self.round_trip_identical and all(s.status != "failed" for s in self.sections)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _skip(section: Section, reason: str) -> Section:
    section.status, section.reason = "skipped", reason
    return section


# ------------------------------------------------------------------------------------------------- sections

def section_tour(ctx: DemoContext, s: Section) -> Section:
    """What the tour did: which weights it loaded and verified, the round trip, the export."""
    import ganzoo

    cfg = ctx.model.pretrained_cfg
    saved = ctx.rel(ctx.saved_dir)
    if ctx.export is not None:
        onnx = ctx.rel(ctx.export.path)
        export = f"<a href=\"{_e(onnx)}\">{_e(onnx)}</a>, validated in ONNX Runtime (see below)"
    else:
        export = _e(f"skipped: {ctx.export_skipped}")
    rows = [  # (label, cell HTML)
        ("model", _e(f"{cfg.name} ({ganzoo.model_info(cfg.name).family} family)")),
        ("weights", _e(f"{cfg.hub_id} @ {cfg.revision}, embedded in the package")),
        ("sha256", _e(f"{cfg.sha256} (verified on load)")),
        ("save_pretrained -> from_pretrained",
         f"outputs bit-identical: {'yes' if ctx.round_trip_identical else '<b>NO</b>'} (folder "
         f"<a href=\"{_e(saved)}/README.md\">{_e(saved)}/</a>)"),
        ("ONNX export", export),
    ]
    s.body = "<table class=\"kv\">" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    return s


def _load_default(name: str) -> Any:
    import ganzoo

    return ganzoo.load(name, local_files_only=True)


_load_sr_default = _load_default  # the SR sections' default loader (kept under its old name)


def _load_extra_default(tag: str, kind: str) -> Any:
    if kind == "encoder":
        from .latent.encoders import published_encoder

        return published_encoder(tag, local_files_only=True)
    if kind == "classifier":
        from .hub.resolve import resolve_extra_files
        from .train.classifiers import POLYGON_CLASSIFIER_FILE, load_polygon_classifier

        got = resolve_extra_files(tag, "classifier.json", POLYGON_CLASSIFIER_FILE, local_files_only=True)
        return None if got is None else load_polygon_classifier(got[1])[0]
    raise ValueError(f"kind: expected 'encoder' or 'classifier', got {kind!r}")


def _zoom(img: np.ndarray, box: tuple[int, int, int, int], side: int = _ZOOM_SIDE) -> np.ndarray:
    t, l, h, w = box
    crop = img[t:t + h, l:l + w]
    f = max(1, side // max(h, w))
    return np.repeat(np.repeat(crop, f, axis=0), f, axis=1)


def section_sr(ctx: DemoContext, s: Section) -> Section:
    """Bicubic | SRResNet | SRGAN | ground truth on x4 bicubic LR crops of held-out photos, with zooms and scores."""
    return _sr_compare(ctx, s, SR_MODELS, "sr")


def section_sr_x2(ctx: DemoContext, s: Section) -> Section:
    """Bicubic | SRResNet x2 | SRGAN x2 | ground truth, as :func:`section_sr` at x2."""
    return _sr_compare(ctx, s, SR_X2_MODELS, "sr_x2")


def section_sr_x8(ctx: DemoContext, s: Section) -> Section:
    """Bicubic | SRResNet x8 | SRGAN x8 | ground truth, as :func:`section_sr` at x8 (a 32x32 input)."""
    return _sr_compare(ctx, s, SR_X8_MODELS, "sr_x8")


def _sr_compare(ctx: DemoContext, s: Section, sr_models: Sequence[tuple[str, str]], prefix: str) -> Section:
    """The SR comparison rows of ``sr_models`` ((title, model name), all of one scale) on SR_DEMO_PHOTOS; pictures
    are saved as ``<prefix>_<photo>_<column>.png``."""
    from .data.photos import bicubic_up, get_photo, make_lr
    from .errors import NoPretrainedWeightsError
    from .metrics import sr_forward, sr_scores

    load = ctx.load_sr or ctx.load or _load_sr_default
    models: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for title, name in sr_models:
        try:
            models[title] = load(name)
        except NoPretrainedWeightsError as e:
            missing[title] = f"ganzoo.load({name!r}) raises NoPretrainedWeightsError: {e}"
    if not models:
        return _skip(s, "SR weights are not published yet, so there is nothing to compare with bicubic. "
                        + " ".join(missing.values()))
    scales = {getattr(m.config, "scale", None) for m in models.values()}
    if len(scales) != 1:
        raise ValueError(f"the SR models have different scales {sorted(scales)}")
    scale = scales.pop()
    ctx.shown_families.setdefault("srgan", s.id)
    parts = []
    if missing:
        parts.append("<p class=\"note\">" + "<br>".join(_e(f"{t}: {m}") for t, m in missing.items()) + "</p>")
    desc = ", ".join(f"{t} = {m.pretrained_cfg.name if m.pretrained_cfg else t}" for t, m in models.items())
    parts.append(f"<p>x{scale} super-resolution of held-out photos (never used for training; "
                 f"<code>ganzoo.data.SR_HELDOUT</code>): the 256x256 HR crop is down-sampled by PIL BICUBIC to "
                 f"{256 // scale}x{256 // scale} (left), then up-sampled by each method. Under each picture: PSNR "
                 f"and SSIM on the Y channel (BT.601) with {scale} pixels of border removed, and PSNR in RGB, "
                 f"against the ground truth. Below each picture, the boxed region enlarged "
                 f"(nearest neighbour). {_e(desc)}.</p>")
    for photo_name, box in SR_DEMO_PHOTOS:
        photo = get_photo(photo_name)
        hr = photo.load()
        lr = make_lr(hr, scale)
        cols: list[tuple[str, np.ndarray | None, dict | None, str]] = [("bicubic", bicubic_up(lr, scale), None, "")]
        for title, _ in sr_models:
            if title in models:
                cols.append((title, sr_forward(models[title], lr), None, ""))
            else:
                cols.append((title, None, None, "no weights published"))
        cols.append(("ground truth", hr, None, ""))
        t, l, h, w = box
        lr_box = (t // scale, l // scale, h // scale, w // scale)
        stem = f"{prefix}_{photo_name}"
        figs = [_figure(
            "LR input", ctx.save_png(f"{stem}_lr.png", lr), ctx.save_png(f"{stem}_lr_zoom.png", _zoom(lr, lr_box)),
            lr.shape, lr_box, f"{lr.shape[1]}x{lr.shape[0]}, shown enlarged", pixelated=True)]
        for title, img, _, note in cols:
            key = title.lower().replace(" ", "_")
            if img is None:
                figs.append(f"<figure class=\"missing\"><div class=\"ph\">{_e(note)}</div>"
                            f"<figcaption><b>{_e(title)}</b></figcaption></figure>")
                continue
            if title == "ground truth":
                cap = f"{photo.source}, crop {photo.box} (top, left, h, w)"
            else:
                sc = sr_scores(hr, img, scale)
                cap = (f"PSNR-Y {sc['psnr_y']:.2f} dB · SSIM-Y {sc['ssim_y']:.4f}<br>"
                       f"PSNR-RGB {sc['psnr_rgb']:.2f} dB")
            figs.append(_figure(title, ctx.save_png(f"{stem}_{key}.png", img),
                                ctx.save_png(f"{stem}_{key}_zoom.png", _zoom(img, box)), img.shape, box, cap,
                                escape_caption=title == "ground truth"))
        parts.append(f"<h3>{_e(photo_name)} <span class=\"small\">({_e(photo.description)}; "
                     f"{_e(photo.license)})</span></h3><div class=\"srrow\">" + "".join(figs) + "</div>")
    s.body = "\n".join(parts)
    return s


def _figure(title: str, src: str, zoom_src: str, shape: tuple[int, ...], box: tuple[int, int, int, int],
            caption: str, *, pixelated: bool = False, escape_caption: bool = True) -> str:
    h, w = shape[:2]
    t, l, bh, bw = box
    rect = (f"top:{100 * t / h:.3f}%;left:{100 * l / w:.3f}%;height:{100 * bh / h:.3f}%;"
            f"width:{100 * bw / w:.3f}%")
    cls = " class=\"pix\"" if pixelated else ""
    cap = _e(caption) if escape_caption else caption
    return (f"<figure><div class=\"frame\"><img{cls} src=\"{_e(src)}\" alt=\"{_e(title)}\" width=\"{_ZOOM_SIDE}\" "
            f"height=\"{round(_ZOOM_SIDE * h / w)}\"><div class=\"box\" style=\"{rect}\"></div></div>"
            f"<img class=\"pix zoom\" src=\"{_e(zoom_src)}\" alt=\"{_e(title)}, zoomed\" width=\"{_ZOOM_SIDE}\" "
            f"height=\"{round(_ZOOM_SIDE * bh / bw)}\">"
            f"<figcaption><b>{_e(title)}</b><br>{cap}</figcaption></figure>")


def section_dcgan(ctx: DemoContext, s: Section) -> Section:
    """64 samples of every published DCGAN tag."""
    import torch

    import ganzoo
    from .utils import make_grid, to_uint8

    tags = ganzoo.list_models(pretrained=True, family="dcgan")
    if not tags:
        return _skip(s, "no DCGAN weights are published")
    figs = []
    for tag in tags:
        if ctx.model is not None and ctx.model.pretrained_cfg.name == tag and ctx.samples_png is not None:
            src, cfg = ctx.rel(ctx.samples_png), ctx.model.pretrained_cfg
        else:
            model = ganzoo.load(tag, local_files_only=True)
            cfg = model.pretrained_cfg
            with torch.no_grad():
                images = model.sample(64, generator=torch.Generator().manual_seed(ctx.seed))
            grid = to_uint8(make_grid(images.float()), model.specs.outputs[0].range or (-1.0, 1.0)).permute(1, 2, 0).numpy()
            src = ctx.save_png(f"samples_{tag.replace('.', '_')}.png", grid[..., 0] if grid.shape[2] == 1 else grid)
        out = ganzoo.model_info(tag).specs.outputs[0]
        from PIL import Image

        with Image.open(ctx.out_dir / src) as im:
            w, h = im.size
        f = max(1, round(500 / w))  # small grids shown enlarged by an integer factor, pixels kept sharp
        figs.append(f"<figure><img class=\"pix\" src=\"{_e(src)}\" alt=\"{_e(tag)} samples\" width=\"{w * f}\" "
                    f"height=\"{h * f}\">"
                    f"<figcaption><b>{_e(tag)}</b>: 64 samples, seed {ctx.seed}, output "
                    f"{_e('x'.join(map(str, out.shape[1:])))}; {_e(cfg.dataset)}</figcaption></figure>")
    ctx.shown_families["dcgan"] = s.id
    s.body = "<div class=\"row\">" + "".join(figs) + "</div>"
    return s


#: (photo, bucket index, mask kind) of the held-out pairs shown in the inpainting section.
INPAINT_DEMO_PAIRS: tuple[tuple[str, int, str], ...] = (
    ("coffee", 0, "stroke"), ("astronaut", 1, "rect"), ("china", 2, "stroke"), ("flower", 2, "rect"))


def section_inpaint(ctx: DemoContext, s: Section) -> Section:
    """Input | mask | OpenCV Telea | OpenCV Navier-Stokes | ganzoo | ground truth on held-out pairs, with hole scores."""
    import ganzoo
    from .data.inpainting import BUCKETS, heldout_pairs, mask_to_image
    from .metrics import inpaint_scores
    from .pipelines.inpainting import OPENCV_RADIUS, inpaint, opencv_inpaint

    tags = ganzoo.list_models(pretrained=True, family="pggan_inpaint")
    if not tags:
        return _skip(s, "no inpainting weights are published")
    model = ganzoo.load(tags[0], local_files_only=True)
    ctx.shown_families["pggan_inpaint"] = s.id
    parts = [f"<p>Held-out photos (<code>ganzoo.data.INPAINT_HELDOUT</code>, never trained on) with the seeded masks "
             f"of the evaluation protocol (<code>heldout_pairs()</code>; white = hole). Under each result: PSNR, SSIM "
             f"and L1 inside the hole against the ground truth. OpenCV <code>cv2.inpaint</code> radius "
             f"{OPENCV_RADIUS}. ganzoo = <code>{_e(tags[0])}</code> ({_e(model.pretrained_cfg.description)}); "
             f"its model card has the numbers on all 60 pairs.</p>"]
    for photo, bi, kind in INPAINT_DEMO_PAIRS:
        pair = next(p for p in heldout_pairs(BUCKETS[bi], photos=[photo]) if p.kind == kind)
        shown = pair.image.copy()
        shown[pair.mask] = 255
        cols = [("Telea", opencv_inpaint(pair.image, pair.mask, "telea")),
                ("Navier-Stokes", opencv_inpaint(pair.image, pair.mask, "ns")),
                ("ganzoo", inpaint(pair.image, pair.mask, model))]
        stem = f"inpaint_{photo}_{kind}"
        figs = [_plain_figure("input", ctx.save_png(f"{stem}_input.png", shown), f"hole {pair.coverage:.0%} ({kind})"),
                _plain_figure("mask", ctx.save_png(f"{stem}_mask.png", mask_to_image(pair.mask)), "white = hole")]
        for title, img in cols:
            sc = inpaint_scores(pair.image, img, pair.mask)
            figs.append(_plain_figure(title, ctx.save_png(f"{stem}_{title.lower().replace('-', '_')}.png", img),
                                      f"PSNR {sc['hole_psnr']:.2f} dB · SSIM {sc['hole_ssim']:.3f} · "
                                      f"L1 {sc['hole_l1']:.3f}"))
        figs.append(_plain_figure("ground truth", ctx.save_png(f"{stem}_gt.png", pair.image), photo))
        parts.append(f"<h3>{_e(photo)}, hole {pair.coverage:.0%}</h3><div class=\"srrow\">" + "".join(figs)
                     + "</div>")
    s.body = "\n".join(parts)
    return s


def _plain_figure(title: str, src: str, caption: str) -> str:
    return (f"<figure><img src=\"{_e(src)}\" alt=\"{_e(title)}\" width=\"{_ZOOM_SIDE}\" height=\"{_ZOOM_SIDE}\">"
            f"<figcaption><b>{_e(title)}</b><br>{_e(caption)}</figcaption></figure>")


# ------------------------------------------------------------------------------------ 3D-GAN, DR-GAN, TGAN

#: 3D-GAN: the tag shown, how many samples, and which held-out shapes (indices of ``voxel_heldout()``) beside them.
GAN3D_TAG = "gan3d_32.shapes"
GAN3D_DEMO_N = 4
GAN3D_HELDOUT_INDICES: tuple[int, ...] = (5, 7, 8, 9)  # chair, lamp, mug, bookshelf (class = index % 10)
_VIEW_PX = 128  # pixels per rendered view (as ``ganzoo sample -o x.png``)
#: DR-GAN: the tags, the held-out identity (index under HEADS_HELDOUT_SEED), the pose of the single input and the
#: poses of the three inputs fused by the multi-image model.
DRGAN_TAG = "drgan.heads"
DRGAN_MULTI_TAG = "drgan_multi.heads"
DRGAN_DEMO_IDENTITY = 0
DRGAN_INPUT_YAW = 30.0
DRGAN_MULTI_INPUT_YAWS: tuple[float, ...] = (-45.0, 0.0, 30.0)
#: TGAN: the tag, how many videos are tiled, and the GIF frame rate.
TGAN_TAG = "tgan.sprites"
TGAN_DEMO_N = 4
TGAN_FPS = 8


def _try_load(ctx: DemoContext, tag: str) -> tuple[Any, str]:
    """(model, "") or (None, why) when ``tag`` has no published weights (NoPretrainedWeightsError)."""
    from .errors import NoPretrainedWeightsError

    try:
        return ctx.load_model(tag), ""
    except NoPretrainedWeightsError as e:
        return None, f"ganzoo.load({tag!r}) raises NoPretrainedWeightsError: {e}"


def _other_name(model: Any, tag: str) -> str:
    """"" when ``model`` is ``tag`` by its own pretrained config, else a note naming what it says it is (a model
    given by ``run_demo(load=...)``)."""
    name = getattr(getattr(model, "pretrained_cfg", None), "name", None)
    return "" if not name or name == tag else f" (the model loaded for it calls itself {name})"


def _tile(tiles: np.ndarray, gap: int = 2, gap_value: int = 255) -> np.ndarray:
    """uint8 (rows, cols, H, W, 3) -> one picture with ``gap`` white pixels between tiles."""
    from .pipelines.rotation import tile_poses

    return tile_poses(np.ascontiguousarray(tiles), gap=gap, gap_value=gap_value)


def _img(src: str, alt: str, w: int, h: int, *, pixelated: bool = False) -> str:
    cls = " class=\"pix\"" if pixelated else ""
    return f"<img{cls} src=\"{_e(src)}\" alt=\"{_e(alt)}\" width=\"{w}\" height=\"{h}\">"


def _png_size(ctx: DemoContext, src: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(ctx.out_dir / src) as im:
        return im.size


def _wide_figure(ctx: DemoContext, src: str, alt: str, caption_html: str, *, scale: int = 1) -> str:
    w, h = _png_size(ctx, src)
    return (f"<figure style=\"width:{w * scale}px\">{_img(src, alt, w * scale, h * scale, pixelated=scale > 1)}"
            f"<figcaption>{caption_html}</figcaption></figure>")


def _view_rows(vols: np.ndarray, threshold: float) -> tuple[np.ndarray, list[bool]]:
    """Volumes (N, 1, D, H, W) -> renders uint8 (N, views, S, S, 3) of DEFAULT_VIEWS (blank for an empty volume),
    and which volumes had a surface."""
    from .pipelines.voxels import DEFAULT_VIEWS, render_views

    rows, has = [], []
    for v in vols:
        if float(v.max()) <= threshold:
            rows.append(np.full((_VIEW_PX, _VIEW_PX * len(DEFAULT_VIEWS), 3), 255, np.uint8))
            has.append(False)
        else:
            rows.append(render_views(v, DEFAULT_VIEWS, _VIEW_PX, threshold))
            has.append(True)
    strips = np.stack(rows)  # (N, S, S * views, 3)
    n, s = strips.shape[0], strips.shape[1]
    return strips.reshape(n, s, len(DEFAULT_VIEWS), s, 3).transpose(0, 2, 1, 3, 4), has


def section_gan3d(ctx: DemoContext, s: Section) -> Section:
    """Multi-view renders of 3D-GAN samples beside renders of held-out real shapes, and one sample as an OBJ mesh."""
    import torch

    from .data.voxels import SHAPE_CLASSES, VOXEL_HELDOUT_SEED, voxel_heldout
    from .pipelines.voxels import DEFAULT_VIEWS, voxels_to_mesh, write_mesh
    from .utils import eval_mode

    model, why = _try_load(ctx, GAN3D_TAG)
    if model is None:
        return _skip(s, f"3D-GAN weights are not published yet, so there are no shapes to show. {why}")
    tag = GAN3D_TAG
    lo, hi = model.specs.outputs[0].range or (0.0, 1.0)
    thr = (lo + hi) / 2
    with torch.no_grad(), eval_mode(model):
        vols = model.sample(GAN3D_DEMO_N, generator=torch.Generator().manual_seed(ctx.seed))
    vols = vols.detach().float().cpu().numpy()  # (N, 1, D, H, W)
    side = int(vols.shape[-1])
    gen_tiles, has = _view_rows(vols, thr)
    gen_src = ctx.save_png("gan3d_samples.png", _tile(gen_tiles))
    real, labels = voxel_heldout(max(GAN3D_HELDOUT_INDICES) + 1, size=side)
    idx = list(GAN3D_HELDOUT_INDICES)
    real_tiles, _ = _view_rows(real[idx], 0.5)
    real_src = ctx.save_png("gan3d_heldout.png", _tile(real_tiles))
    ctx.shown_families["gan3d"] = s.id
    views = ", ".join(f"{a:g}" for a, _ in DEFAULT_VIEWS)
    elev = ", ".join(sorted({f"{e:g}" for _, e in DEFAULT_VIEWS}))
    occ = "; ".join(f"#{i}: {100 * float((v > thr).mean()):.1f}%" + ("" if h else " (empty: no surface)")
                    for i, (v, h) in enumerate(zip(vols, has)))
    classes = ", ".join(f"#{i} {SHAPE_CLASSES[int(labels['class'][i])]}" for i in idx)
    parts = [f"<p>Rows = shapes, columns = views (camera yaw {_e(views)} degrees, elevation {_e(elev)} degrees, "
             f"orthographic, each shape framed on its own); the surface at occupancy {thr:g} by marching cubes, "
             f"rendered as <code>ganzoo sample -o shapes.png</code> does ({_VIEW_PX} px per view).</p>"]
    figs = [_wide_figure(ctx, gen_src, f"{tag} samples",
                         f"<b>{_e(tag)}</b>{_e(_other_name(model, tag))}: {GAN3D_DEMO_N} samples, seed "
                         f"{ctx.seed} (z ~ U(0, 1) from "
                         f"<code>torch.Generator().manual_seed({ctx.seed})</code>), {side}<sup>3</sup> voxels; "
                         f"occupied voxels {_e(occ)}"),
            _wide_figure(ctx, real_src, "held-out shapes",
                         f"<b>held-out real shapes</b> for comparison: <code>ganzoo.data.voxel_heldout()</code> "
                         f"{_e(classes)} (seed VOXEL_HELDOUT_SEED = {VOXEL_HELDOUT_SEED}, never trained on), "
                         f"{side}<sup>3</sup> voxels")]
    parts.append("<div class=\"row\">" + "".join(figs) + "</div>")
    first = next((i for i, h in enumerate(has) if h), None)
    if first is None:
        parts.append(f"<p class=\"note\">No sample has a voxel above {thr:g}, so there is no mesh to write.</p>")
    else:
        v, f = voxels_to_mesh(vols[first], thr)
        name = f"gan3d_sample_{first}.obj"
        write_mesh(ctx.out_dir / name, v, f, normals=True)
        ctx.add_file(name)
        parts.append(f"<p>Sample #{first} as a mesh: <a href=\"{_e(name)}\">{_e(name)}</a> (Wavefront OBJ with "
                     f"vertex normals, y up, voxel units; {len(v)} vertices, {len(f)} triangles; "
                     f"<code>ganzoo sample {_e(tag)} -o shape.obj</code> writes the same).</p>")
    s.body = "\n".join(parts)
    return s


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))


def _rgb(faces: np.ndarray) -> np.ndarray:
    return np.repeat(faces, 3, axis=-1) if faces.shape[-1] == 1 else faces


def section_drgan(ctx: DemoContext, s: Section) -> Section:
    """A held-out procedural head at one pose, the DR-GAN pose sweep from it (and from three fused images with the
    multi-image model), and the true renders of that identity at the same yaws."""
    from PIL import Image

    from .data.heads import HEADS_HELDOUT_SEED, identity_for, render_head, render_views
    from .pipelines.rotation import FACE_SIZE, Rotator

    single, why_single = _try_load(ctx, DRGAN_TAG)
    multi, why_multi = _try_load(ctx, DRGAN_MULTI_TAG)
    if single is None and multi is None:
        return _skip(s, f"DR-GAN weights are not published yet, so there is nothing to rotate. {why_single} "
                        f"{why_multi}")
    rotators = [(tag, Rotator(m), _other_name(m, tag)) for tag, m in ((DRGAN_TAG, single), (DRGAN_MULTI_TAG, multi))
                if m is not None]
    yaws = rotators[0][1].yaws
    order = sorted(range(len(yaws)), key=lambda k: yaws[k])  # the sweep's order: ascending yaw
    sweep_yaws = [yaws[k] for k in order]
    for tag, r, _ in rotators[1:]:
        if sorted(r.yaws) != sorted(yaws):
            raise ValueError(f"{tag} has the poses {r.yaws}, {rotators[0][0]} has {yaws}")
    identity = identity_for(HEADS_HELDOUT_SEED, DRGAN_DEMO_IDENTITY)
    truth = render_views(identity, sweep_yaws, FACE_SIZE)  # (P, 96, 96, 3)
    ctx.shown_families["drgan"] = s.id
    who = (f"held-out identity {DRGAN_DEMO_IDENTITY} (<code>ganzoo.data.heads.identity_for(HEADS_HELDOUT_SEED = "
           f"{HEADS_HELDOUT_SEED}, {DRGAN_DEMO_IDENTITY})</code>, never trained on)")
    rows: list[tuple[str, str, str]] = []  # (label HTML, picture src, note HTML under the picture)

    def sweep_row(tag: str, r: Rotator, other: str, faces: list[np.ndarray], label: str) -> None:
        out = r(faces, "sweep", seed=ctx.seed)  # (M, P, 96, 96, C); M = 1 (one face, or fused)
        gen = _rgb(out[:1])
        ref = truth if r.channels == 3 else _rgb(np.stack([np.asarray(Image.fromarray(t).convert("L"))[..., None]
                                                           for t in truth]))  # a grey model: against grey truth
        psnr = [_psnr(g, t) for g, t in zip(gen[0], ref)]
        key = tag.split(".")[0]
        src = ctx.save_png(f"{key}_sweep.png", _tile(gen))
        note = "PSNR vs the true render (dB): " + " · ".join(f"{p:.1f}" for p in psnr) \
            + f"; mean {np.mean(psnr):.2f}"
        rows.append((f"<b>{_e(tag)}</b>{_e(other)}<br>{label}", src, _e(note)))

    parts = []
    if why_single:
        parts.append(f"<p class=\"note\">{_e(why_single)}</p>")
    if why_multi:
        parts.append(f"<p class=\"note\">Only single-image rotation is shown: {_e(why_multi)}</p>")
    for tag, r, other in rotators:
        if r.multi_image:
            inputs = [render_head(identity, y, FACE_SIZE) for y in DRGAN_MULTI_INPUT_YAWS]
            src = ctx.save_png("drgan_multi_inputs.png", _tile(np.stack(inputs)[None]))
            rows.append((f"<b>inputs</b> of {_e(tag)}<br>yaws "
                         + ", ".join(f"{y:g}" for y in DRGAN_MULTI_INPUT_YAWS) + " degrees", src, ""))
            sweep_row(tag, r, other, inputs, "3 images fused (learned confidences), then every pose")
        else:
            face = render_head(identity, DRGAN_INPUT_YAW, FACE_SIZE)
            src = ctx.save_png("drgan_input.png", face)
            rows.append((f"<b>input</b><br>yaw {DRGAN_INPUT_YAW:g} degrees", src, ""))
            sweep_row(tag, r, other, [face], "every pose from the one input")
    rows.append(("<b>ground truth</b><br>the same identity rendered at each yaw",
                 ctx.save_png("drgan_truth.png", _tile(truth[None])), ""))
    step = FACE_SIZE + 2
    head = "".join(f"<span style=\"width:{step}px\">{y:g}&deg;</span>" for y in sweep_yaws)
    parts.append(f"<p>DR-GAN turns a face to every pose of its grid: {who}, rendered by "
                 f"<code>ganzoo.data.heads.render_head</code> at {FACE_SIZE} px. The noise z is drawn from seed "
                 f"{ctx.seed} (<code>ganzoo.pipelines.rotate(..., 'sweep', seed={ctx.seed})</code>) and shared by "
                 f"every pose. Columns: yaw in degrees (positive = face turned towards the image right).</p>")
    grid = [f"<div class=\"prow\"><div class=\"plabel\"></div><div class=\"yaws\">{head}</div></div>"]
    for label, src, note in rows:
        w, h = _png_size(ctx, src)
        grid.append(f"<div class=\"prow\"><div class=\"plabel\">{label}</div><div>{_img(src, src, w, h)}"
                    + (f"<div class=\"small\">{note}</div>" if note else "") + "</div></div>")
    parts.append("<div class=\"posegrid\">" + "".join(grid) + "</div>")
    s.body = "\n".join(parts)
    return s


def _videos_pm1(videos: Any, value_range: tuple[float, float]) -> Any:
    lo, hi = value_range
    return (videos.detach().float().cpu() - lo) / (hi - lo) * 2 - 1


def _video_figures(ctx: DemoContext, stem: str, videos: Any, title_html: str) -> tuple[str, str]:
    """A tiled GIF and a frame-strip PNG of ``videos`` ((B, C, T, H, W), [-1, 1] floats or uint8): (GIF figure,
    strip figure)."""
    import math

    from .pipelines.video import video_grid, video_to_uint8, write_gif

    b, _, t, h, w = videos.shape
    grid = video_grid(videos, nrow=max(1, math.ceil(math.sqrt(b))))
    gif = f"{stem}.gif"
    write_gif(ctx.out_dir / gif, grid, TGAN_FPS)
    ctx.add_file(gif)
    strip = ctx.save_png(f"{stem}_frames.png", _tile(video_to_uint8(videos)))  # rows = videos, columns = frames
    gh, gw = grid.shape[1:3]
    gif_fig = (f"<figure style=\"width:{max(2 * gw, 300)}px\">"
               f"{_img(gif, f'{stem} (animated)', 2 * gw, 2 * gh, pixelated=True)}"
               f"<figcaption>{title_html}<br>animated GIF, {t} frames at {TGAN_FPS} fps, {b} videos of {w}x{h} tiled "
               f"(shown at 2x)</figcaption></figure>")
    strip_fig = _wide_figure(ctx, strip, f"{stem} frames",
                             f"{title_html}: every frame, rows = videos, columns = frames 0 .. {t - 1}")
    return gif_fig, strip_fig


def section_tgan(ctx: DemoContext, s: Section) -> Section:
    """Sampled TGAN videos (an animated GIF and a frame strip) beside held-out real sprite videos."""
    import torch

    from .data.sprites import SPRITES_HELDOUT_SEED, sprite_heldout
    from .utils import eval_mode

    model, why = _try_load(ctx, TGAN_TAG)
    if model is None:
        return _skip(s, f"TGAN weights are not published yet, so there are no videos to show. {why}")
    tag = TGAN_TAG
    with torch.no_grad(), eval_mode(model):
        out = model.sample(TGAN_DEMO_N, generator=torch.Generator().manual_seed(ctx.seed))
    videos = _videos_pm1(out, model.specs.outputs[0].range or (-1.0, 1.0))  # (B, C, T, H, W)
    _, _, t, h, w = videos.shape
    real, _ = sprite_heldout(TGAN_DEMO_N, frames=t, size=h, dtype=np.uint8)  # (B, 3, T, H, W) uint8
    ctx.shown_families["tgan"] = s.id
    gen_gif, gen_strip = _video_figures(
        ctx, "tgan_samples", videos,
        f"<b>{_e(tag)}</b>{_e(_other_name(model, tag))}: {TGAN_DEMO_N} samples, seed {ctx.seed} (z0 ~ U(-1, 1) from "
        f"<code>torch.Generator().manual_seed({ctx.seed})</code>)")
    real_gif, real_strip = _video_figures(
        ctx, "tgan_heldout", real,
        f"<b>held-out real videos</b>: <code>ganzoo.data.sprite_heldout({TGAN_DEMO_N})</code> (seed "
        f"SPRITES_HELDOUT_SEED = {SPRITES_HELDOUT_SEED}, never trained on; 1 sprite per video)")
    s.body = (f"<p>Videos as <code>ganzoo sample {_e(tag)} -o clips.gif</code> writes them; the frame strips "
              f"show the same videos frame by frame.</p>"
              f"<div class=\"row\">{gen_gif}{real_gif}</div><h3>Frames</h3>"
              f"<div class=\"row\">{gen_strip}</div><div class=\"row\">{real_strip}</div>")
    return s


def section_export(ctx: DemoContext, s: Section) -> Section:
    """The ONNX export of the tour's model: where, and how it was validated against PyTorch."""
    res = ctx.export
    if res is None:
        return _skip(s, f"ONNX export skipped: {ctx.export_skipped}")
    v = res.validation
    if v is None:
        return _skip(s, "the export was not validated")
    try:
        from importlib.metadata import version

        ort_v = version("onnxruntime")
    except Exception:  # pragma: no cover - metadata missing
        ort_v = "?"
    axes = "; ".join(f"{k} dim {', '.join(f'{i} = {n}' for i, n in d.items())}" for k, d in res.dynamic_axes.items()) \
        or "none (static shapes)"
    head = (f"<p><a href=\"{_e(ctx.rel(res.path))}\">{_e(ctx.rel(res.path))}</a>: {_e(res.model)} "
            f"{_e(res.component)}, opset {res.opset}, {_e(res.dtype)}, {res.size_bytes / 1e6:.1f} MB, sha256 "
            f"<code>{_e(res.sha256[:16])}...</code>; dynamic axes {_e(axes)}. Validated in ONNX "
            f"Runtime {_e(ort_v)} ({_e(v.backend)}) against PyTorch on fresh random inputs (seed {v.seed}): every "
            f"element must satisfy |onnx - torch| &lt;= atol + rtol |torch| + allowance. Result: "
            f"<b>{'passed' if v.passed else 'FAILED'}</b>.</p>")
    rows = "".join(
        f"<tr><td>{c.batch}</td><td>{_e('x'.join(map(str, c.size)) if c.size else '-')}</td><td>{_e(c.output)}</td>"
        f"<td>{_e(c.shape)}</td><td>{c.max_abs_err:.3g}</td><td>{c.max_rel_err:.3g}</td>"
        f"<td>{c.atol:.0e} / {c.rtol:.0e}" + (f" + {c.allowance:.1e}" if c.allowance else "") + "</td>"
        f"<td class=\"{'pass' if c.passed else 'fail'}\">{'yes' if c.passed else 'NO'}</td></tr>"
        for c in v.cases)
    s.body = head + ("<table><tr><th>batch</th><th>spatial size</th><th>output</th><th>shape</th>"
                     "<th>max abs err</th><th>max rel err</th><th>tolerance (atol / rtol + allowance)</th>"
                     "<th>pass</th></tr>" + rows + "</table>")
    return s


def section_registry(ctx: DemoContext, s: Section) -> Section:
    """Every registry family: its models, which tags have published weights, and whether the page shows it."""
    import ganzoo
    from .registry import get_entry

    rows = []
    for fam in ganzoo.list_families():
        names = ganzoo.list_models(family=fam)
        with_w = ganzoo.list_models(pretrained=True, family=fam)
        without = [f"{n}.{t}" for n in names for t, c in get_entry(n).cfgs.items() if not c.has_weights]
        shown = ctx.shown_families.get(fam)
        where = f"<a href=\"#{_e(shown)}\">yes</a>" if shown else (
            "no: no weights published" if not with_w else "no: no demo section yet")
        rows.append(f"<tr><td><b>{_e(fam)}</b></td><td>{_e(', '.join(names))}</td>"
                    f"<td class=\"{'pass' if with_w else 'muted'}\">{_e(', '.join(with_w) or 'none')}</td>"
                    f"<td class=\"small\">{_e(', '.join(without) or '-')}</td><td>{where}</td></tr>")
    s.body = (f"<p>{len(ganzoo.list_models())} models in {len(ganzoo.list_families())} families "
              f"(<code>ganzoo list</code> prints the same).</p><table class=\"left\"><tr><th>family</th>"
              f"<th>models</th><th>tags with weights</th><th>tags without weights</th><th>on this page</th></tr>"
              + "".join(rows) + "</table>")
    return s


#: The face model of the latent-tools section, and the seed of its four interpolation corners.
LATENT_FACE_TAG = "dcgan.digiface"
LATENT_GRID = (6, 8)  # rows, columns of the face interpolation grid
#: the real face the section inverts: skimage.data.astronaut() (NASA, public domain), this crop (top, left, side)
LATENT_FACE_CROP = (30, 140, 200)
LATENT_INVERT_STEPS, LATENT_INVERT_RESTARTS = 300, 2


def _astronaut_face(size: int) -> np.ndarray:
    """uint8 (size, size, 3): the face of skimage.data.astronaut() (LATENT_FACE_CROP), bicubic-resized."""
    from PIL import Image

    from .data.photos import get_photo

    top, left, side = LATENT_FACE_CROP
    img = get_photo("astronaut").load_full()[top:top + side, left:left + side]
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((size, size), Image.BICUBIC))


def section_latent(ctx: DemoContext, s: Section) -> Section:
    """ganzoo.latent on the faces: a 2-D spherical interpolation grid between four sampled faces, and a linear
    vs spherical path between two of them (the spherical path stays on the prior's shell, so the midpoints keep
    the samples' contrast)."""
    import torch

    from .latent import interpolate, interpolation_grid
    from .utils import make_grid, to_uint8

    model, why = _try_load(ctx, LATENT_FACE_TAG)
    if model is None:
        return _skip(s, f"the face model has no published weights. {why}")
    rng = torch.Generator().manual_seed(ctx.seed)
    nz = model.config.nz
    corners = torch.randn(4, nz, generator=rng)
    rows, cols = LATENT_GRID
    with torch.no_grad():
        grid = interpolation_grid(model, corners, rows=rows, cols=cols, method="slerp")
        lin = interpolate(model, corners[0], corners[3], steps=cols, method="linear")
        sph = interpolate(model, corners[0], corners[3], steps=cols, method="slerp")
    value_range = model.specs.outputs[0].range or (-1.0, 1.0)

    def picture(images: torch.Tensor, nrow: int, name: str) -> tuple[str, int, int]:
        arr = to_uint8(make_grid(images.float(), nrow=nrow), value_range).permute(1, 2, 0).numpy()
        return ctx.save_png(name, arr), arr.shape[1], arr.shape[0]

    # inversion of a real photo's face: what the DigiFace-trained generator can reach of a face it never saw
    from PIL import Image

    from .latent import invert

    face_src = _astronaut_face(model.config.image_size)
    xf = torch.from_numpy(face_src).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    inv = invert(model, xf, method="optimize", steps=LATENT_INVERT_STEPS, restarts=LATENT_INVERT_RESTARTS,
                 seed=ctx.seed, progress=False)
    pair = torch.cat([xf, inv.reconstruction.clamp(-1, 1)])
    arr_inv = to_uint8(make_grid(pair, nrow=2), value_range).permute(1, 2, 0).numpy()
    arr_inv = np.asarray(Image.fromarray(arr_inv).resize((arr_inv.shape[1] * 2, arr_inv.shape[0] * 2),
                                                         Image.NEAREST))
    src_inv = ctx.save_png("latent_face_inversion.png", arr_inv)
    src, w, h = picture(grid, cols, "latent_face_grid.png")
    src_lin, wl, hl = picture(lin, cols, "latent_face_linear.png")
    src_sph, _, _ = picture(sph, cols, "latent_face_slerp.png")
    # the norm of the interpolated codes: linear midpoints shrink towards 0, slerp keeps |z| ~ sqrt(nz)
    t = torch.linspace(0, 1, cols)
    mid_lin = float(((1 - t[cols // 2]) * corners[0] + t[cols // 2] * corners[3]).norm())
    name = _other_name(model, LATENT_FACE_TAG)
    s.body = (f"<p><b>{_e(LATENT_FACE_TAG)}</b>{_e(name)}: "
              f"<code>ganzoo.latent.interpolation_grid</code> between four codes z ~ N(0, I) (seed {ctx.seed}, "
              f"the corners), nested spherical interpolation, {rows} x {cols}. A path from the command line: "
              f"<code>ganzoo interpolate {_e(LATENT_FACE_TAG)} --steps 8 -o path.gif</code>.</p>"
              f"<figure><img src=\"{_e(src)}\" alt=\"face interpolation grid\" width=\"{w}\" height=\"{h}\">"
              f"<figcaption>corners: top-left, top-right, bottom-left, bottom-right are G(z) of the four codes"
              f"</figcaption></figure>"
              f"<figure><img src=\"{_e(src_lin)}\" alt=\"linear path\" width=\"{wl}\" height=\"{hl}\">"
              f"<figcaption>linear path top-left -> bottom-right corner (|z| at the midpoint {mid_lin:.1f}, "
              f"sqrt(nz) = {nz ** 0.5:.1f})</figcaption></figure>"
              f"<figure><img src=\"{_e(src_sph)}\" alt=\"spherical path\" width=\"{wl}\" height=\"{hl}\">"
              f"<figcaption>spherical path between the same codes</figcaption></figure>"
              f"<figure style=\"width:{arr_inv.shape[1]}px\"><img src=\"{_e(src_inv)}\" alt=\"face inversion\" "
              f"width=\"{arr_inv.shape[1]}\" height=\"{arr_inv.shape[0]}\"><figcaption>a real face "
              f"(skimage.data.astronaut(), NASA, public domain) and G(z) of its inversion "
              f"(<code>ganzoo.latent.invert</code>, {LATENT_INVERT_STEPS} Adam steps, {LATENT_INVERT_RESTARTS} "
              f"restarts): PSNR {float(inv.psnr[0]):.2f} dB, {inv.time_s:.1f} s. The generator learned synthetic "
              f"DigiFace faces; a real photo's face is reached only roughly.</figcaption></figure>")
    ctx.shown_families.setdefault("dcgan", s.id)
    return s


#: The polygon DCGAN of the latent-edits section, the edits shown (factor, from, to), how many held-out images each,
#: the strength, and the held-out images the attribute vectors are averaged over (disjoint from the edited ones).
LATENT_POLYGON_TAG = "dcgan_32.polygons"
LATENT_EDITS: tuple[tuple[str, str, str], ...] = (("colour", "red", "blue"), ("size", "small", "large"))
LATENT_EDIT_IMAGES = 6
LATENT_EDIT_STRENGTH = 2.0
LATENT_EDIT_STEPS = 200  # optimisation steps refining z = E(x) before the edit (E(x) alone fits real images poorly)
LATENT_VECTOR_IMAGES = (256, 512)


def section_latent_edits(ctx: DemoContext, s: Section) -> Section:
    """Attribute edits of held-out polygons: z = E(x) with the encoder the tag ships, refined by
    ``LATENT_EDIT_STEPS`` steps of pixel-loss optimisation, then G(z + strength * v) with v = mean E(x) over
    held-out images with the target value minus the mean over those with the source value; the factor classifier
    the tag ships reads every picture."""
    import torch

    from .data.polygons import FACTORS, POLYGON_COLOURS, polygon_heldout
    from .latent import attribute_vector, edit
    from .utils import to_uint8

    model, why = _try_load(ctx, LATENT_POLYGON_TAG)
    if model is None:
        return _skip(s, f"the polygon model has no published weights. {why}")
    enc = ctx.load_extra_file(LATENT_POLYGON_TAG, "encoder")
    clf = ctx.load_extra_file(LATENT_POLYGON_TAG, "classifier")
    if enc is None or clf is None:
        return _skip(s, f"{LATENT_POLYGON_TAG} ships no " + ("encoder" if enc is None else "factor classifier")
                     + " (encoder.safetensors / classifier.safetensors in its repo)")
    lo, hi = LATENT_VECTOR_IMAGES
    xs, labs = polygon_heldout(hi)
    x = torch.from_numpy(xs)
    lab = {k: torch.from_numpy(labs[k]) for k in FACTORS}
    names = {"colour": list(POLYGON_COLOURS), "size": ["small", "medium", "large"],
             "sides": ["3", "4", "5", "6"], "pos": [f"cell {i}" for i in range(9)]}

    def read(images: torch.Tensor) -> dict[str, tuple[list[int], list[float]]]:
        with torch.no_grad():
            out = clf(images.float().clamp(-1, 1))
        return {k: (v.argmax(1).tolist(), v.softmax(1).max(1).values.tolist()) for k, v in out.items()}

    figures, scale = [], 3
    for factor, src, dst in LATENT_EDITS:
        a, b = names[factor].index(src), names[factor].index(dst)
        pool = lab[factor][lo:hi]
        v = attribute_vector(enc, x[lo:hi][pool == b], x[lo:hi][pool == a])
        idx = torch.nonzero(lab[factor][:lo] == a).flatten()[:LATENT_EDIT_IMAGES]
        res = edit(model, x[idx], {factor: LATENT_EDIT_STRENGTH}, {factor: v}, encoder=enc,
                   inversion={"method": "encoder+optimize", "steps": LATENT_EDIT_STEPS, "restarts": 1,
                              "seed": ctx.seed, "progress": False})
        rec, ed = read(res.reconstruction), read(res.outputs)
        tiles = torch.stack([x[idx], res.reconstruction.clamp(-1, 1), res.outputs.clamp(-1, 1)], 1)  # (n, 3, C, H, W)
        arr = to_uint8(tiles, (-1.0, 1.0)).permute(0, 1, 3, 4, 2).numpy()
        big = np.repeat(np.repeat(arr, scale, axis=2), scale, axis=3)
        src_png = ctx.save_png(f"latent_edits_{factor}_{src}_{dst}.png", _tile(big))
        changed = [[f for f in FACTORS if f != factor and ed[f][0][i] != rec[f][0][i]] for i in range(len(idx))]
        hits = sum(int(ed[factor][0][i] == b and not changed[i]) for i in range(len(idx)))
        rows = "".join(
            f"<tr><td>{i + 1}</td><td>{_e(names[factor][rec[factor][0][i]])} ({rec[factor][1][i]:.2f})</td>"
            f"<td>{_e(names[factor][ed[factor][0][i]])} ({ed[factor][1][i]:.2f})</td>"
            f"<td>{'yes' if not changed[i] else 'no: ' + _e(', '.join(changed[i]))}</td></tr>"
            for i in range(len(idx)))
        figures.append(
            f"<div class=\"row top\">{_wide_figure(ctx, src_png, f'{factor} {src} to {dst}', f'<b>{_e(factor)}: {_e(src)} -> {_e(dst)}</b>, strength {LATENT_EDIT_STRENGTH:g}: held-out input | G(z) | edit')}"
            f"<table><tr><th>row</th><th>G(z) read as</th><th>edit read as</th><th>other factors kept</th></tr>"
            f"{rows}</table></div><p>{hits} of {len(idx)} edits reach <b>{_e(dst)}</b> and keep the other three "
            f"factors, as the classifier reads them.</p>")
    name = _other_name(model, LATENT_POLYGON_TAG)
    s.body = (f"<p><b>{_e(LATENT_POLYGON_TAG)}</b>{_e(name)}, with the IcGAN encoder and the factor classifier it "
              f"ships: held-out polygons (never trained on) are encoded, z = E(x) is refined by {LATENT_EDIT_STEPS} "
              f"steps of pixel-loss optimisation, moved along an attribute vector (the mean code E(x) of held-out "
              f"images {lo}-{hi - 1} with the target value minus that of those with the source value) and generated "
              f"again; the classifier's reading is shown with its probability. The classifier reads the number of "
              f"sides poorly even on real images (its held-out accuracy is in the model card), so 'kept' is strict. "
              f"From the command line (the vector from folders of images, inverted the same way): "
              f"<code>ganzoo edit {_e(LATENT_POLYGON_TAG)} shape.png --method encoder+optimize --steps "
              f"{LATENT_EDIT_STEPS} --restarts 1 --attribute-images blue/ red/ -o edited.png</code>.</p>"
              + "".join(figures))
    ctx.shown_families.setdefault("dcgan", s.id)
    return s


#: (id, title, builder) of every page section, in page order. Builders take (DemoContext, Section) and return the
#: Section, filled in or marked skipped with a reason.
SECTIONS: list[tuple[str, str, Callable[[DemoContext, Section], Section]]] = [
    ("tour", "Tour: verified weights, round trip, export", section_tour),
    ("sr", "Super-resolution x4: bicubic | SRResNet | SRGAN | ground truth", section_sr),
    ("sr_x2", "Super-resolution x2: bicubic | SRResNet x2 | SRGAN x2 | ground truth", section_sr_x2),
    ("sr_x8", "Super-resolution x8: bicubic | SRResNet x8 | SRGAN x8 | ground truth", section_sr_x8),
    ("inpaint", "Inpainting: Telea | Navier-Stokes | ganzoo PGGAN | ground truth", section_inpaint),
    ("dcgan", "DCGAN samples", section_dcgan),
    ("latent", "Latent space: interpolation and inversion on the faces", section_latent),
    ("latent_edits", "Latent edits: held-out polygons along attribute vectors, read by a factor classifier",
     section_latent_edits),
    ("gan3d", "3D-GAN: sampled shapes | held-out shapes", section_gan3d),
    ("drgan", "DR-GAN: pose sweep of a held-out face | ground truth", section_drgan),
    ("tgan", "TGAN: sampled videos | held-out videos", section_tgan),
    ("export", "ONNX export validation", section_export),
    ("registry", "Model families and published weights", section_registry),
]


# ------------------------------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:20px auto;max-width:1380px;
color:#1d1d1f;background:#f4f4f6;padding:0 16px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:0 0 10px}h3{font-size:16px;margin:18px 0 8px}
section{background:#fff;border:1px solid #dcdce0;border-radius:8px;padding:14px 20px;margin:14px 0}
.badge{font-size:12px;font-weight:600;border-radius:10px;padding:2px 8px;margin-left:8px;vertical-align:middle}
.shown{background:#e2f4e5;color:#17662a}.skipped{background:#fff1cc;color:#7a5200}
.failed{background:#fde2e2;color:#9b1c1c}
.reason{background:#fffaf0;border-left:4px solid #e0a800;padding:8px 12px;margin:6px 0}
.failed-reason{background:#fff5f5;border-left:4px solid #c53030;padding:8px 12px;margin:6px 0}
table{border-collapse:collapse;font-size:14px;margin:6px 0}
th,td{border-bottom:1px solid #e6e6ea;padding:4px 10px;text-align:right;vertical-align:top}
th{background:#f7f7f9;font-weight:600}table.left td,table.left th,table.kv td,table.kv th{text-align:left}
td.pass{color:#17662a;font-weight:600}td.fail{color:#9b1c1c;font-weight:700}td.muted{color:#888}
.srrow{display:flex;gap:10px;flex-wrap:nowrap;overflow-x:auto}.row{display:flex;gap:24px;flex-wrap:wrap}
figure{margin:0;width:256px;flex:none}figcaption{font-size:13px;line-height:1.35;margin-top:4px}
.row figure{width:auto}.row.top{align-items:flex-start}
.frame{position:relative;line-height:0}.frame img{display:block}
.box{position:absolute;border:2px solid #ffdd00;box-shadow:0 0 0 1px #000;box-sizing:border-box}
img.zoom{display:block;margin-top:6px}img.pix{image-rendering:pixelated}
.missing .ph{width:256px;height:518px;display:flex;align-items:center;justify-content:center;background:#eee;
color:#666;border:1px dashed #bbb;box-sizing:border-box;text-align:center}
.small{font-size:12px;color:#666;font-weight:normal}.note{color:#7a5200}code{font-size:13px}
footer{font-size:12px;color:#666;margin:10px 0 30px}
.posegrid{overflow-x:auto}.prow{display:flex;align-items:flex-start;gap:10px;margin:6px 0}
.plabel{width:170px;flex:none;font-size:13px;line-height:1.35}.yaws{display:flex;font-size:12px;color:#666}
.yaws span{display:block;flex:none;text-align:center}
"""


def _render(ctx: DemoContext, sections: Sequence[Section], seconds: float) -> str:
    import ganzoo

    toc = " · ".join(f"<a href=\"#{_e(s.id)}\">{_e(s.title.split(':')[0])}</a>" for s in sections)
    parts = [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>ganzoo {_e(ganzoo.__version__)} demo</title>",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>ganzoo {_e(ganzoo.__version__)} demo</h1>",
        f"<p>{len(ganzoo.list_models())} models in {len(ganzoo.list_families())} families; published weights: "
        f"{_e(', '.join(ganzoo.list_models(pretrained=True)) or 'none')}. Written by <code>ganzoo demo</code>; "
        f"everything on this page is in this folder.</p>",
        f"<p class=\"small\">{toc}</p>",
    ]
    for s in sections:
        badge = {"shown": "shown", "skipped": "skipped", "failed": "FAILED"}[s.status]
        parts.append(f"<section id=\"{_e(s.id)}\"><h2>{_e(s.title)}<span class=\"badge {s.status}\">{badge}</span>"
                     f"</h2>")
        if s.status == "skipped":
            parts.append(f"<div class=\"reason\">Not shown: {_e(s.reason)}</div>")
        elif s.status == "failed":
            parts.append(f"<div class=\"failed-reason\">This section failed: {_e(s.reason)}</div>")
        parts.append(s.body)
        parts.append("</section>")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    times = ", ".join(f"{s.id} {s.seconds:.1f} s" for s in sections)
    parts.append(f"<footer>Generated {when} on {_e(platform.platform())}, Python {_e(platform.python_version())}, "
                 f"in {seconds:.1f} s ({_e(times)}).</footer></body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------------------- entry point


def _undo(ctx: DemoContext, created: list[Path], saved_existed: bool) -> None:
    """After a failed tour: remove the files it wrote and the folders it created (nothing else)."""
    import shutil

    for f in ctx.files:
        with contextlib.suppress(OSError):
            Path(f).unlink()
    if ctx.saved_dir is not None and not saved_existed:
        shutil.rmtree(ctx.saved_dir, ignore_errors=True)
    for c in created:
        try:
            c.rmdir()
        except OSError:
            break


def _tour(ctx: DemoContext, name: str, seed: int, export: bool, say: Callable[[str], None]) -> None:
    """Load, sample, round trip, export: fills ``ctx``; raises what ganzoo.load raises."""
    import torch

    import ganzoo
    from .utils import save_image_grid

    out = ctx.out_dir
    say(f"ganzoo {ganzoo.__version__}: {len(ganzoo.list_models())} models in {len(ganzoo.list_families())} "
        f"families; published weights: {', '.join(ganzoo.list_models(pretrained=True))}")
    model = ganzoo.load(name, local_files_only=True)
    cfg = model.pretrained_cfg
    ctx.model = model
    say(f"loaded {cfg.name} from the embedded hub ({cfg.hub_id}@{cfg.revision[:12]}, sha256 verified)")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        images = model.sample(64, generator=gen)
    ctx.samples_png = save_image_grid(images, out / "samples.png", value_range=model.specs.outputs[0].range or (-1.0, 1.0))
    ctx.files.append(ctx.samples_png)
    say(f"64 samples -> {ctx.samples_png}")
    ctx.saved_dir = ganzoo.save_pretrained(model, out / "saved")
    again = ganzoo.from_pretrained(ctx.saved_dir)
    z = model.sample_inputs(4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ctx.round_trip_identical = bool(torch.equal(model(*z), again(*z)))
    ctx.files.extend(sorted(p for p in Path(ctx.saved_dir).iterdir() if p.is_file()))
    say(f"save_pretrained -> from_pretrained round trip in {ctx.saved_dir}: outputs bit-identical = "
        f"{ctx.round_trip_identical}")
    if not export:
        ctx.export_skipped = "not requested (run_demo(export=False))"
        say(f"ONNX export skipped: {ctx.export_skipped}")
    else:
        try:
            from .export import to_onnx

            ctx.export = to_onnx(model, out / f"{cfg.architecture}.onnx")
            ctx.files.append(Path(ctx.export.path))
            say(f"ONNX export validated in ONNX Runtime -> {ctx.export.path}")
        except ImportError as e:
            ctx.export_skipped = f"{e} (pip install 'ganzoo[onnx]')"
            say(f"ONNX export skipped: {ctx.export_skipped}")


def run_demo(out_dir: str | os.PathLike, name: str = "dcgan", *, seed: int = 0,
             echo: Callable[[str], None] | None = None, sections: Sequence[str] | None = None,
             load_sr: Callable[[str], Any] | None = None, export: bool = True,
             load: Callable[[str], Any] | None = None,
             load_extra: Callable[[str, str], Any] | None = None) -> DemoResult:
    """Run the tour and write ``out_dir/index.html`` with its pictures.

    name: the tour's model (a noise-input generator with embedded weights; ``dcgan``). seed: of the samples.
    echo: called with one line per step (the CLI prints them); default: the module logger.
    sections: ids from :data:`SECTIONS` to include (default: all). load_sr: how the SR section loads a model by
    name (default ``ganzoo.load(name, local_files_only=True)``; it must raise NoPretrainedWeightsError when a
    model has no weights). load: the same for the other model sections (3D-GAN, DR-GAN, TGAN: called with a tag
    such as ``"drgan.heads"``), and for the SR sections when ``load_sr`` is None. load_extra: (tag, "encoder" |
    "classifier") -> the module the tag ships beside its weights, or None (default: from its embedded repo).
    export: False leaves the ONNX export out (the page says so).
    Raises what ``ganzoo.load`` raises for the tour's model; section errors are reported on the page instead.
    """
    from .utils import atomic_write

    say = echo or logger.info
    wanted = list(sections) if sections is not None else [sid for sid, _, _ in SECTIONS]
    unknown = sorted(set(wanted) - {sid for sid, _, _ in SECTIONS})
    if unknown:
        raise ValueError(f"unknown demo sections {unknown}; expected some of {[sid for sid, _, _ in SECTIONS]}")
    t_start = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    created: list[Path] = []  # folders this call creates, innermost first: removed again if the tour fails
    d = out
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    saved_existed = (out / "saved").exists()
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out_dir=out, seed=seed, load_sr=load_sr, load=load, load_extra=load_extra)
    try:
        _tour(ctx, name, seed, export, say)
    except BaseException:
        _undo(ctx, created, saved_existed)
        raise
    tour_seconds = time.perf_counter() - t_start

    # Content sections first so the registry section knows which families the page shows; page order is kept.
    built: dict[str, Section] = {}
    order = [sid for sid, _, _ in SECTIONS if sid in wanted]
    for sid in sorted(order, key=lambda x: x == "registry"):
        title, builder = next((t, b) for i, t, b in SECTIONS if i == sid)
        sec = Section(sid, title)
        t0 = time.perf_counter()
        try:
            sec = builder(ctx, sec)
        except Exception as e:  # shown on the page and in the exit status, never swallowed
            logger.exception("demo section %s failed", sid)
            sec.status, sec.reason, sec.body = "failed", f"{type(e).__name__}: {e}", ""
        sec.seconds = time.perf_counter() - t0 + (tour_seconds if sid == "tour" else 0.0)
        built[sid] = sec
        say(f"section {sid}: {sec.status}" + (f" ({sec.reason})" if sec.reason else ""))
    page = [built[sid] for sid in order]
    seconds = time.perf_counter() - t_start
    index = out / "index.html"
    atomic_write(index, _render(ctx, page, seconds).encode("utf-8"))
    say(f"page -> {index}")
    return DemoResult(out_dir=out, index=index, files=[index, *ctx.files], sections=page,
                      round_trip_identical=bool(ctx.round_trip_identical), export=ctx.export, seconds=seconds)
