"""ovfast: openvino's Python runtime API on OpenVINO's C API, with less Python per call.

    import ovfast as ov        # in place of: import openvino as ov

Model building stays openvino's: ovfast re-exports Model, Type, Shape and friends from openvino and takes
openvino.Model objects everywhere a model goes.
"""

import sys as _sys
from typing import TYPE_CHECKING as _TYPE_CHECKING

from ovfast._unwinder import prefer_gcc_unwinder as _prefer_gcc_unwinder
from ovfast._version_check import check_openvino_version as _check

_prefer_gcc_unwinder()  # before anything loads GStreamer (see _unwinder.py)

_check()

from openvino import (  # noqa: E402  model building is openvino's
    Dimension,
    Layout,
    Model,
    Node,
    PartialShape,
    Shape,
    Strides,
    Type,
    convert_model,
    get_version,
    save_model,
    serialize,
)
import openvino.properties as properties  # noqa: E402
import openvino.preprocess as preprocess  # noqa: E402

from ovfast._runtime import (  # noqa: E402
    AsyncInferQueue,
    CompiledModel,
    ConstOutput,
    Core,
    InferRequest,
    OVDict,
    Tensor,
    VariableState,
    compile_model,
    openvino_c_version,
)
from ovfast import exceptions  # noqa: E402
from ovfast._records import ProfilingInfo, Version  # noqa: E402

__version__ = "0.1.0"


from ovfast import interop as _interop  # noqa: E402

if _TYPE_CHECKING:  # for type checkers: at run time these are ovfast.interop's modules over openvino's
    from openvino import (op, opset1, opset2, opset3, opset4, opset5, opset6, opset7, opset8,  # noqa: F401
                          opset9, opset10, opset11, opset12, opset13, opset14, opset15, opset16, opset17)

_interop.install(_sys.modules[__name__])  # ov.op, ov.opset1 ... : openvino's graph API, taking ovfast Tensors

from ovfast.switch import install  # noqa: E402  `import openvino` giving ovfast's runtime, for unedited code
from ovfast._batcher import DynamicBatcher  # noqa: E402  many callers' items, one batched inference


def get_include():
    """Folder of ovfast's .pxd files, for extensions that `cimport ovfast`."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


__all__ = [
    "AsyncInferQueue", "CompiledModel", "ConstOutput", "Core", "InferRequest", "OVDict", "Tensor", "VariableState",
    "compile_model",
    "Dimension", "Layout", "Model", "Node", "PartialShape", "Shape", "Strides", "Type", "convert_model",
    "get_version", "save_model", "serialize", "properties", "preprocess", "exceptions", "ProfilingInfo",
    "Version", "get_include", "openvino_c_version", "interop", "install", "DynamicBatcher",
] + _interop.GRAPH_MODULES
