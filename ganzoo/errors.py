"""Typed errors. Every error says what was expected and what was given."""
from __future__ import annotations


class GanzooError(Exception):
    """Base class of every error ganzoo raises on purpose."""


class UnknownModelError(GanzooError, LookupError):
    """A model name that is not in the registry."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class UnknownTagError(UnknownModelError):
    """A known architecture with a weight tag it does not have."""


class NoPretrainedWeightsError(GanzooError):
    """The tag exists but no weights are published for it."""


class HubError(GanzooError):
    """Something went wrong resolving or downloading weights."""


class InvalidRepoIdError(HubError, ValueError):
    """A repo id, revision or filename that is malformed or tries to leave its folder."""


class OfflineError(HubError):
    """Offline (HF_HUB_OFFLINE=1 or local_files_only=True) and the files are not cached."""


class IntegrityError(HubError):
    """A file whose sha256 does not match the one the registry or config.json pins."""


class CorruptWeightsError(HubError):
    """A weights file that cannot be parsed (truncated, bad header, not safetensors)."""


class PickleNotAllowedError(HubError):
    """A pickled checkpoint offered when the caller did not opt in with allow_pickle=True."""


class StateDictMismatchError(GanzooError):
    """Weights whose tensor names or shapes do not match the model.

    Attributes ``missing``, ``unexpected`` and ``mismatched`` (name, expected shape, given shape) list the details.
    """

    def __init__(self, message: str, missing=(), unexpected=(), mismatched=()):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


class UnknownCheckpointLayoutError(GanzooError, ValueError):
    """A third-party checkpoint whose key layout no converter recognises."""


class ImageReadError(GanzooError, ValueError):
    """An image file that cannot be read (missing, a folder, truncated, not an image, unsupported pixels)."""


class NotASuperResolutionModelError(GanzooError, ValueError):
    """A model given to a super-resolution task that is not an SR model (no ``config.scale``)."""
