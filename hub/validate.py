"""Validation of repo ids, revisions and file names before they touch a path or a URL."""
from __future__ import annotations

import re

from ganzoo.errors import InvalidRepoIdError

__all__ = ["validate_repo_id", "validate_revision", "validate_filename", "parse_hub_spec"]

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^{_PART}/{_PART}$")
_REV_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_FILE_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._ -]{0,254}$")
# Patterns are applied with fullmatch: ``$`` alone also matches before a trailing newline ("org/name\n").
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _control(value: object) -> str:
    """`` (it contains the control character '\\n' at 8)`` when a str holds one, else ``""``."""
    if isinstance(value, str):
        m = _CONTROL_RE.search(value)
        if m:
            return f" (it contains the control character {m.group()!r} at position {m.start()})"
    return ""


def validate_repo_id(repo_id: str) -> str:
    """``org/name`` with letters, digits, ``.``, ``_``, ``-``; no ``..``, no absolute paths, no backslashes."""
    if not isinstance(repo_id, str) or not _REPO_RE.fullmatch(repo_id) or ".." in repo_id:
        raise InvalidRepoIdError(
            f"invalid repo id {repo_id!r}{_control(repo_id)}: expected 'org/name' made of letters, digits, '.', "
            f"'_' and '-' (no '..', no leading or trailing punctuation)"
        )
    return repo_id


def validate_revision(revision: str | None) -> str | None:
    if revision is None:
        return None
    if not isinstance(revision, str) or not _REV_RE.fullmatch(revision) or ".." in revision or "//" in revision:
        raise InvalidRepoIdError(
            f"invalid revision {revision!r}{_control(revision)}: expected a branch, tag or commit hash (letters, digits, '.', '_', '-', "
            f"'/'; no '..')"
        )
    return revision


def validate_filename(filename: str) -> str:
    """A relative path inside a repo: no ``..`` components, not absolute, no backslashes or empty parts."""
    if not isinstance(filename, str) or not filename or filename.startswith("/") or "\\" in filename:
        raise InvalidRepoIdError(f"invalid file name {filename!r}: expected a relative path such as "
                                 f"'model.safetensors'")
    parts = filename.split("/")
    if any(p in ("", ".", "..") or not _FILE_PART_RE.fullmatch(p) for p in parts):
        raise InvalidRepoIdError(
            f"invalid file name {filename!r}{_control(filename)}: path components must be plain names of letters, "
            f"digits, '.', '_', '-' and spaces (no '..', '.', or empty parts)"
        )
    return filename


def parse_hub_spec(spec: str) -> tuple[str, str | None]:
    """``"hf-hub:org/name@rev"`` -> ``("org/name", "rev")``; the ``@rev`` part is optional."""
    if not isinstance(spec, str) or not spec.startswith("hf-hub:"):
        raise InvalidRepoIdError(f"expected 'hf-hub:org/name[@revision]', got {spec!r}")
    body = spec[len("hf-hub:"):]
    repo_id, _, rev = body.partition("@")
    return validate_repo_id(repo_id), validate_revision(rev or None)
