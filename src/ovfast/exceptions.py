"""ovfast's exceptions.

Every failure of an OpenVINO call is an OVError, which is a RuntimeError as in openvino, so code written
against openvino keeps catching it. Where a builtin fits, the class is that builtin too: a wrong input name
is a KeyError, a wrong shape a ValueError.
"""

import re

__all__ = [
    "OVError",
    "ModelFileNotFound",
    "GeneralError",
    "NotImplementedOVError",
    "ParameterMismatch",
    "NotFound",
    "OutOfBounds",
    "RequestBusy",
    "ResultNotReady",
    "InferNotStarted",
    "InferCancelled",
    "InvalidParameter",
    "InputKeyError",
    "InputValueError",
    "InputTypeError",
    "PortIndexError",
    "InputValueTypeError",
    "UnsupportedDtype",
    "VersionMismatch",
]


class OVError(RuntimeError):
    """A call into OpenVINO failed. `status` is the C API's ov_status_e value."""

    status = -1

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


class GeneralError(OVError):
    status = -1


class NotImplementedOVError(OVError, NotImplementedError):
    status = -2


class ParameterMismatch(OVError, ValueError):
    status = -4


class NotFound(OVError, KeyError):
    status = -5

    def __str__(self):  # KeyError would show the message quoted
        return RuntimeError.__str__(self)


class OutOfBounds(OVError, IndexError):
    status = -6


class RequestBusy(OVError):
    status = -8


class ResultNotReady(OVError):
    status = -9


class InferNotStarted(OVError):
    status = -11


class InferCancelled(OVError):
    status = -13


class InvalidParameter(OVError, ValueError):
    status = -14


# The input errors are also RuntimeErrors: openvino raises RuntimeError for the same mistakes, and code
# written for openvino catches that.

class InputKeyError(KeyError, RuntimeError):
    """An input or output was named by a key the model does not have."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class PortIndexError(InputKeyError, IndexError):
    """An output index past the model's outputs (a KeyError on a result dict, as in openvino)."""


class InputValueError(ValueError, RuntimeError):
    """An input has the wrong shape or a value that cannot be used."""


class InputTypeError(TypeError, RuntimeError):
    """An input is of a kind ovfast cannot turn into a tensor of the port's type."""


class InputValueTypeError(InputValueError, InputTypeError):
    """A value of the wrong kind where ovfast said ValueError and openvino says TypeError (a negative
    dimension, one array for a model of several inputs): both, so code written for either catches it."""


class UnsupportedDtype(InputTypeError, ValueError):
    """A numpy dtype with no OpenVINO element type (object, str, complex, ...): a TypeError, and the
    RuntimeError (Tensor) or ValueError (inputs) openvino raises for the same array."""


class ModelFileNotFound(FileNotFoundError, OVError):
    """A model path with no file behind it: openvino raises RuntimeError, Python code expects
    FileNotFoundError; this is both."""


class VersionMismatch(ImportError):
    """The installed openvino is not the release ovfast was built against."""


_BY_STATUS = {
    -1: GeneralError,
    -2: NotImplementedOVError,
    -4: ParameterMismatch,
    -5: NotFound,
    -6: OutOfBounds,
    -8: RequestBusy,
    -9: ResultNotReady,
    -11: InferNotStarted,
    -13: InferCancelled,
    -14: InvalidParameter,
    -16: NotImplementedOVError,
}


def from_status(status, message):
    """The exception for a C API status code."""
    return _BY_STATUS.get(status, OVError)(message, status)


# What openvino says for the mistakes ovfast finds itself. An ovfast message starts with these words, so
# code that matches on openvino's text keeps working, and goes on with what ovfast knows more.
OPENVINO_SAYS = {
    "unknown name": "Check '::getPort(port, name, {{_impl->get_inputs(), _impl->get_outputs()}})' failed: "
                    "Port for tensor name {name} was not found.",
    "unknown input": "Input for tensor name '{name}' is not found.",
    "unknown output": "Output for tensor name '{name}' is not found.",
    "input index": "Check 'i < _impl->inputs().size()' failed: Cannot get input for index: {index} inputs size "
                   "is {n}",
    "output index": "Check 'i < _impl->outputs().size()' failed: Cannot get output for index: {index} outputs "
                    "size is {n}",
    "input port index": "Check 'inputs.size() > idx' failed: Input port for index {index} was not found! The "
                        "model has only {n} inputs.",
    "only input": "Check 'inputs.size() == 1' failed: get_input_tensor() must be called on a function with "
                  "exactly one parameter.",
    "only output": "Check 'outputs.size() == 1' failed: get_output_tensor() must be called on a function with "
                   "exactly one parameter.",
    "one input": "Check 'inputs.size() == 1' failed: CompiledModel::input() must be called on a compiled model "
                 "with exactly one parameter.",
    "one output": "Check 'outputs.size() == 1' failed: CompiledModel::output() must be called on a compiled model "
                  "with exactly one result.",
    "input key type": "Incompatible key type for input: {key}",
    "inputs type": "Incompatible inputs of type: {type}",
    "input type under key": "Incompatible inputs of type: {type} under {key} key!",
    "string tensor": "Tensor's type must be a string!",
    "export stream": "CompiledModel.export_model(model_stream) incompatible function argument: `model_stream` must "
                     "be an io.BytesIO object but {value}` provided",
    "import stream": "CompiledModel.import_model(model_stream) incompatible function argument: `model_stream` must "
                     "be an io.BytesIO object or bytes but {value}` provided",
    "result key type": "Unknown key type: {type}",
    "result key": "{key!r}",
    "ovdict assignment": "'OVDict' object does not support item assignment",
    "model path": "Path: '{path}' does not exist. Please provide valid model's path either as a string, bytes or "
                  "pathlib.Path. Examples:\n(1) '/home/user/models/model.onnx'\n(2) "
                  "Path('/home/user/models/model/model.onnx')\n",
    "no file": "Check 'util::directory_exists(path) || util::file_exists(path)' failed: FrontEnd API failed with "
               "GeneralFailure: {frontend}: Could not open the file: \"{path}\"",
    "model type": "Provided python object type {type} isn't supported as 'model' argument.",
    "strides": "Check 'm_element_type.bitwidth() >= 8' failed: Could not get strides for types with bitwidths "
               "less then 8 bit. Tensor type: {type}",
    "not c contiguous": "SHARED MEMORY MODE FOR THIS TENSOR IS NOT APPLICABLE! Passed numpy array must be C "
                        "contiguous.",
    "shared strings": "SHARED MEMORY MODE FOR THIS TENSOR IS NOT APPLICABLE! String types can be only copied.",
    "readonly": "array is not writeable",
    "dtype": "Check 'ov_type_it != dtype_map.end()' failed: Unsupported data type: {dtype}",
    "tensor argument": "Input argument must be a PIL.Image.Image/numpy.array/list[int, float, str] object",
    "allocate": "Check 'byte_size' failed: Cannot allocate memory for type: {type} and shape: {shape}",
    "copy types": "Check 'dst->get_element_type() == get_element_type()' failed: Tensor element types are not "
                  "equal. (src: {src} != dst: {dst})",
    "string kind": "Unknown string kind passed to fill the Tensor's data!",
    "port exceeds": "Shape of the port exceeds shape of the array.",
    "dynamic shape": "to_shape was called on a dynamic shape.",
    # warnings
    "port smaller": "Shape of the port is smaller than shape of the array. Passed data will be cropped.",
    "port type": "Type of the array and the port are different. Data is going to be casted.",
}


def says(cls, mistake, detail="", **words):
    """cls(openvino's words for the mistake, then ovfast's detail)."""
    text = OPENVINO_SAYS[mistake].format(**words)
    return cls(f"{text} {detail}" if detail else text)


_LOCATION = re.compile(r"Exception from [^\n]*:\d+:\n|(?<=failed) at [^\n]*:\d+:\n")


def openvino_words(text):
    """OpenVINO's C++ message without its source locations: "Check '...' failed: what went wrong"."""
    text = _LOCATION.sub(lambda m: ": " if m.group(0).startswith(" at") else "", text)
    return " ".join(text.split())
