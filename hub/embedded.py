"""The hub embedded in the package: repos in Hugging Face layout under ``ganzoo/hub/repos/<org>/<name>/``.

``repos/index.json`` lists each repo's files with their sha256 and size, and the repo's revision: a
content-derived commit id (sha1 of the sorted file list and hashes), so a revision names exact bytes the way a
git commit does. The test hub server serves the same repos at the same revisions.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from .io import sha256_file
from .validate import validate_filename, validate_repo_id

__all__ = ["EMBEDDED_ROOT", "EmbeddedRepo", "embedded_index", "find_embedded", "publish_embedded", "content_revision"]

EMBEDDED_ROOT = Path(__file__).parent / "repos"
INDEX_NAME = "index.json"


@dataclass(frozen=True)
class EmbeddedRepo:
    repo_id: str
    revision: str
    path: Path
    files: dict[str, dict]  # filename -> {"sha256": ..., "size": ...}


def embedded_index(root: Path = EMBEDDED_ROOT) -> dict[str, dict]:
    p = root / INDEX_NAME
    return json.loads(p.read_text()) if p.is_file() else {}


def find_embedded(repo_id: str, revision: str | None = None, root: Path = EMBEDDED_ROOT) -> EmbeddedRepo | None:
    """The embedded repo, or None if it is not embedded or the embedded copy is not at ``revision``
    (``None`` and ``"main"`` accept the embedded revision)."""
    validate_repo_id(repo_id)
    entry = embedded_index(root).get(repo_id)
    if entry is None:
        return None
    if revision not in (None, "main", entry["revision"]):
        return None
    return EmbeddedRepo(repo_id, entry["revision"], root / repo_id, entry["files"])


def content_revision(files: dict[str, dict]) -> str:
    blob = json.dumps(sorted((k, v["sha256"]) for k, v in files.items())).encode()
    return hashlib.sha1(blob).hexdigest()


def publish_embedded(src_dir: str | Path, repo_id: str, root: Path = EMBEDDED_ROOT) -> EmbeddedRepo:
    """Copy a save_pretrained folder into the embedded hub and update the index. Returns the new repo entry."""
    validate_repo_id(repo_id)
    src = Path(src_dir)
    dest = root / repo_id
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = {}
    for f in sorted(src.iterdir()):
        if f.is_file() and not f.name.startswith("."):
            validate_filename(f.name)
            shutil.copy2(f, tmp / f.name)
            files[f.name] = {"sha256": sha256_file(f), "size": f.stat().st_size}
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    index = embedded_index(root)
    index[repo_id] = {"revision": content_revision(files), "files": files}
    (root / INDEX_NAME).write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    return EmbeddedRepo(repo_id, index[repo_id]["revision"], dest, files)
