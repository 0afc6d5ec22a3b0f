"""ovfast's GStreamer elements and the VideoFrame API.

    import gi; gi.require_version("Gst", "1.0"); from gi.repository import Gst
    Gst.init(None)
    import ovfast.gst            # registers ovfastinfer, ovfastpython and ovfast's metas in this process

VideoFrame, RegionOfInterest and Tensor are DL Streamer's gstgva API (ovfast.gst.gstgva lays them out as gstgva
does), with a few additions of ovfast's.

Programs without Python (gst-launch-1.0, C) load the same elements as a GStreamer plugin: put the folder
that `python -m ovfast gst-plugin-path` prints on GST_PLUGIN_PATH.

Needs GStreamer 1.22+ with its video library and PyGObject (pip install "ovfast[video]"); see the README.
"""

try:
    import gi
except ImportError as exc:
    raise ImportError("ovfast.gst needs PyGObject: pip install 'ovfast[video]' (after GStreamer's packages, "
                      "see the README)") from exc

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst  # noqa: E402

import ovfast as _ovfast  # noqa: E402

# ovfast's GStreamer plugin (plugin.c) sets this while it imports the package, then registers the elements
# with itself: elements registered here for the process alone would take the place of the plugin's in the
# registry. GStreamer is initialised then, or initialising where it scans plugins in-process (Gst.init would
# wait on itself).
_loaded_by_plugin = getattr(_ovfast, "_gst_plugin_loading", False)

if not _loaded_by_plugin and not Gst.is_initialized():
    Gst.init(None)

from ovfast._unwinder import align_openvino_unwinder  # noqa: E402

align_openvino_unwinder()  # openvino imported before GStreamer would otherwise abort in a plugin

try:
    from ovfast.gst._video import FrameCounter, RegionOfInterest, Tensor, VideoFrame, register  # noqa: E402
except ImportError as exc:  # built without GStreamer's development files
    raise ImportError("ovfast was built without its GStreamer extension (ovfast.gst._video): install GStreamer's "
                      "development packages (see the README) and reinstall ovfast") from exc
from ovfast.gst._model import frame_model, parse_config  # noqa: E402

if not _loaded_by_plugin:
    register()

__all__ = ["VideoFrame", "RegionOfInterest", "Tensor", "FrameCounter", "frame_model", "parse_config"]
