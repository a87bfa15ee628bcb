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


class InvalidConfigError(GanzooError, ValueError):
    """A model config field of the wrong type or out of range, an unknown field, or a config whose networks would
    be too large to build (see :class:`ModelTooLargeError`). Raised before anything is allocated."""


class ModelTooLargeError(InvalidConfigError):
    """A config whose generator + discriminator would hold more parameters than the bound allows
    (``ganzoo.models.base.MAX_PARAMETERS``; raise it for one block with ``ganzoo.models.base.max_parameters(n)``)."""


class InputDtypeError(GanzooError, TypeError):
    """A floating model input whose dtype differs from the model's parameters (cast it with ``x.to(dtype)``)."""


class NonFiniteInputError(GanzooError, ValueError):
    """A model input holding NaN or +-Inf values."""


class CorruptConfigError(HubError, ValueError):
    """A config.json that is not valid UTF-8 JSON or lacks the fields ganzoo needs (model_name, weights...)."""


class UnsafePathError(HubError, ValueError):
    """A file in a model folder (or a file given by path) that is a symlink resolving outside its folder."""


class InvalidModelSpecError(GanzooError, ValueError):
    """A model name, path or hub spec that is empty or holds a control character (a trailing newline, a NUL)."""


class SaveDirectoryError(GanzooError, FileExistsError):
    """``save_pretrained`` refusing a folder: it holds files ganzoo did not write (listed in ``foreign``) and
    ``overwrite=True`` was not given, or the folder cannot be replaced as a whole (the working directory, a mount
    point)."""

    def __init__(self, message: str, foreign: tuple[str, ...] = ()):
        super().__init__(message)
        self.foreign = tuple(foreign)

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0]) if self.args else ""


class UnsupportedDtypeError(GanzooError, ValueError):
    """A storage dtype ``save_pretrained`` does not write (integer, bool, complex, float8)."""


class InvalidOutputPathError(GanzooError, ValueError):
    """An output file path that cannot be written: empty, a folder, under a file, unwritable, control characters
    or bytes the file system cannot encode, or a suffix of no known format."""


class DeviceUnavailableError(GanzooError, ValueError):
    """A device string torch does not know ("bogus"), or a device this build or machine lacks ("cuda" on a CPU
    build)."""
