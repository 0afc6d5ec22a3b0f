"""ovfast's exceptions.

Every failure of an OpenVINO call is an OVError, which is a RuntimeError as in openvino, so code written
against openvino keeps catching it. Where a builtin fits, the class is that builtin too: a wrong input name
is a KeyError, a wrong shape a ValueError.
"""

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
