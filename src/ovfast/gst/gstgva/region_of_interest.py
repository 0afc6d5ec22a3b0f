"""gstgva.region_of_interest: RegionOfInterest and its Rect."""

from ovfast.gst import RegionOfInterest
from ovfast.gst._video import Rect

__all__ = ["RegionOfInterest", "Rect"]
