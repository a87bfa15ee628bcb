"""Model cards: README.md with YAML metadata, in the Hugging Face format."""
from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["render_model_card", "parse_model_card"]

_PIPELINE = {"dcgan": "unconditional-image-generation", "srgan": "image-to-image", "pggan_inpaint": "image-to-image",
             "drgan": "image-to-image", "tgan": "text-to-video", "gan3d": "unconditional-image-generation"}


def _spec_lines(specs: list[Mapping[str, Any]]) -> str:
    rows = []
    for s in specs:
        rng = f"[{s['range'][0]:g}, {s['range'][1]:g}]" if s.get("range") else "unbounded"
        shape = "(" + ", ".join(str(d) for d in s["shape"]) + ")"
        rows.append(f"| `{s['name']}` | {shape} | {s.get('dtype', 'float32')} | {rng} | {s.get('description', '')} |")
    return "\n".join(rows)


def render_model_card(config_json: Mapping[str, Any], *, training: Mapping[str, Any] | None = None,
                      notes: str = "") -> str:
    """Render README.md for a saved model from its config.json contents.

    ``training`` (recipe, command, steps, final losses, wall time, machine) says how the weights were made.
    """
    import yaml

    pc = config_json.get("pretrained_cfg") or {}
    family = config_json.get("family", "")
    name = f"{config_json['model_name']}.{config_json.get('tag') or 'custom'}"
    meta = {
        "library_name": "ganzoo",
        "license": pc.get("license") or "apache-2.0",
        "tags": ["gan", "ganzoo", family, config_json["model_name"]],
        "pipeline_tag": _PIPELINE.get(family, "image-to-image"),
    }
    if pc.get("dataset"):
        meta["datasets"] = [pc["dataset"]]
    front = yaml.safe_dump(meta, sort_keys=False).strip()
    weights = config_json.get("weights", {})
    lines = [
        f"---\n{front}\n---",
        f"# {name}",
        "",
        pc.get("description") or f"{config_json['model_name']} weights for ganzoo.",
        "",
        "## Usage",
        "",
        "```python",
        "import ganzoo",
        f'model = ganzoo.load("{name}")' if config_json.get("tag") else 'model = ganzoo.from_pretrained("PATH")',
        "```",
        "",
        "## Inputs and outputs",
        "",
        "| tensor | shape | dtype | range | meaning |",
        "|---|---|---|---|---|",
        # config.json's "specs" (written since ganzoo derived them from the config); older files kept them in
        # pretrained_cfg
        _spec_lines((config_json.get("specs") or pc).get("inputs", [])),
        _spec_lines((config_json.get("specs") or pc).get("outputs", [])),
        "",
        "## Architecture",
        "",
        f"Family `{family}`, model `{config_json['model_name']}`, config:",
        "",
        "```json",
        json.dumps(config_json.get("config", {}), indent=2),
        "```",
        "",
        f"Weights: `{weights.get('filename', 'model.safetensors')}` ({weights.get('dtype', 'float32')}, "
        f"sha256 `{weights.get('sha256', '?')}`), "
        + (" and ".join(f"{p} (`{p}.*`)" for p in weights.get("parts") or ["generator", "discriminator"])) + ".",
    ]
    if pc.get("paper"):
        lines += ["", "## Paper", "", f"{pc['paper']} ({pc.get('paper_url', '')})"]
        if pc.get("citation"):
            lines += ["", "```bibtex", pc["citation"], "```"]
    if training:
        lines += ["", "## How these weights were made", ""]
        lines += [f"- **{k}**: {v}" if not isinstance(v, (dict, list)) else f"- **{k}**: `{json.dumps(v)}`"
                  for k, v in training.items()]
    if notes:
        lines += ["", notes]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def parse_model_card(text: str) -> tuple[dict[str, Any], str]:
    """Split a README.md into (YAML metadata, markdown body). No front matter -> ({}, text)."""
    import yaml

    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        raise ValueError("model card has an unterminated YAML front matter (no closing '---')")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"model card metadata must be a mapping, got {type(meta).__name__}")
    return meta, text[end + 4:].lstrip("\n")
