"""ovfast: openvino's Python runtime API on OpenVINO's C API, with less Python per call.

    import ovfast as ov        # in place of: import openvino as ov

Model building stays openvino's: ovfast re-exports Model, Type, Shape and friends from openvino and takes
openvino.Model objects everywhere a model goes.
"""

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


def get_include():
    """Folder of ovfast's .pxd files, for extensions that `cimport ovfast`."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


__all__ = [
    "AsyncInferQueue", "CompiledModel", "ConstOutput", "Core", "InferRequest", "OVDict", "Tensor", "VariableState",
    "compile_model",
    "Dimension", "Layout", "Model", "Node", "PartialShape", "Shape", "Strides", "Type", "convert_model",
    "get_version", "save_model", "serialize", "properties", "preprocess", "exceptions", "ProfilingInfo",
    "Version", "get_include", "openvino_c_version",
]
