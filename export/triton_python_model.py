"""The ``model.py`` that :func:`ganzoo.export.triton.to_triton_repo` writes for ``format="python-onnxruntime"``.

Triton's python backend loads this file (copied verbatim to ``<repo>/<model>/<version>/model.py``) in its stub
interpreter; it runs the validated ONNX file stored beside it (``model.onnx``) with ONNX Runtime on the CPU. It is
a fixed ganzoo-written file, not user code, and imports only numpy, onnxruntime and Triton's
``triton_python_backend_utils``, so the server's Python needs no ganzoo.

One ``execute`` call gets every request the dynamic batcher grouped: requests whose inputs have the same per-item
shapes are concatenated along the batch dim, run once, and the outputs split back in request order (a model with
dynamic H/W may get requests of different sizes in one call; each size runs as its own group). A group that fails
answers each of its requests with a TritonError; the other groups are unaffected.

Tensors cross the stub boundary by DLPack, not ``Tensor.as_numpy()`` / ``Tensor(name, array)``: the stub shipped
with Triton 2.51 (``nvidia-pytriton`` 0.7.0) was compiled against numpy 1's C layout and, under numpy 2, reads
input arrays as zeros and writes empty outputs. DLPack works with numpy 1 and 2.

Optional ``parameters`` in config.pbtxt: ``intra_op_num_threads`` / ``inter_op_num_threads`` (ONNX Runtime's
thread pools; "0" = ONNX Runtime's default).
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np

try:
    import triton_python_backend_utils as pb_utils  # provided by Triton's python backend
except ImportError:  # imported outside Triton (documentation, ganzoo's tests): nothing here runs then
    pb_utils = None

MODEL_FILE = "model.onnx"
_USED_CAPSULE_MESSAGE = "PyCapsule_GetPointer called with incorrect name"


def _quiet_used_capsules(hook: Any) -> Any:
    """An ``sys.unraisablehook`` that drops exactly one known harmless message and passes everything else on.

    ``pb_utils.Tensor.from_dlpack`` takes ownership of numpy's DLPack capsule by renaming it ``used_dlpack``
    (the standard name is ``used_dltensor``), so numpy's capsule destructor later reports "PyCapsule_GetPointer
    called with incorrect name" as unraisable (without the object), once per output tensor; the tensor itself
    is released by the stub.
    """

    def quiet(info: Any) -> None:
        obj = info.object  # numpy reports it without the object (PyErr_WriteUnraisable(NULL))
        if (isinstance(info.exc_value, ValueError) and str(info.exc_value) == _USED_CAPSULE_MESSAGE
                and (obj is None or type(obj).__name__ == "PyCapsule")):
            return
        hook(info)

    return quiet


def _int_parameter(params: dict[str, Any], key: str) -> int:
    raw = params.get(key, {}).get("string_value", "0") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"config.pbtxt parameter {key!r} must be an int, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"config.pbtxt parameter {key!r} must be >= 0, got {value}")
    return value


class TritonPythonModel:
    """ONNX Runtime (CPU) behind Triton's python backend; see the module docstring."""

    def initialize(self, args: dict[str, str]) -> None:
        import onnxruntime as ort

        sys.unraisablehook = _quiet_used_capsules(sys.unraisablehook)
        config = json.loads(args["model_config"])
        path = os.path.join(args["model_repository"], args["model_version"], MODEL_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{config.get('name')}: no {MODEL_FILE} beside model.py (looked for {path})")
        params = config.get("parameters", {})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _int_parameter(params, "intra_op_num_threads")
        opts.inter_op_num_threads = _int_parameter(params, "inter_op_num_threads")
        self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o["name"] for o in config["output"]]
        graph_outputs = [o.name for o in self.session.get_outputs()]
        if sorted(self.output_names) != sorted(graph_outputs):
            raise ValueError(f"{config.get('name')}: config.pbtxt outputs {self.output_names} differ from the "
                             f"ONNX graph's {graph_outputs}")
        self.batched = int(config.get("max_batch_size", 0)) > 0
        # a per-item scalar is declared dims [1] reshape [] in config.pbtxt: the backend sees (B,), the graph too
        pb_utils.Logger.log_info(f"ganzoo: {config.get('name')} loaded {path} (onnxruntime {ort.__version__}, "
                                 f"numpy {np.__version__}, batching {'on' if self.batched else 'off'})")

    def _inputs(self, request: Any) -> list[np.ndarray]:
        out = []
        for name in self.input_names:
            t = pb_utils.get_input_tensor_by_name(request, name)
            if t is None:
                raise ValueError(f"request has no input {name!r}")
            out.append(np.from_dlpack(t))
        return out

    def _run_group(self, arrays: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Run the requests of one shape group once; returns each request's outputs."""
        if len(arrays) == 1 or not self.batched:
            return [self.session.run(self.output_names, dict(zip(self.input_names, a))) for a in arrays]
        feeds = {n: np.concatenate([a[i] for a in arrays], axis=0) for i, n in enumerate(self.input_names)}
        outs = self.session.run(self.output_names, feeds)
        sizes = np.cumsum([a[0].shape[0] for a in arrays])[:-1]
        per_output = [np.split(o, sizes, axis=0) for o in outs]
        return [[p[k] for p in per_output] for k in range(len(arrays))]

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        inputs: list[list[np.ndarray] | None] = [None] * len(requests)
        for k, req in enumerate(requests):
            try:
                inputs[k] = self._inputs(req)
            except Exception as e:  # noqa: BLE001 - answered as this request's error
                responses[k] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f"ganzoo: {e}"))
                continue
            key = tuple((a.dtype.str, a.shape[1:]) for a in inputs[k])
            groups.setdefault(key, []).append(k)
        for members in groups.values():
            try:
                results = self._run_group([inputs[k] for k in members])
            except Exception as e:  # noqa: BLE001 - every request of the group gets the error
                for k in members:
                    responses[k] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f"ganzoo: {e}"))
                continue
            for k, outs in zip(members, results):
                responses[k] = pb_utils.InferenceResponse([
                    pb_utils.Tensor.from_dlpack(n, np.ascontiguousarray(o).__dlpack__())
                    for n, o in zip(self.output_names, outs)])
        return responses

    def finalize(self) -> None:
        self.session = None
