"""gstgva.tensor: Tensor."""

from ovfast.gst import Tensor

__all__ = ["Tensor"]
