"""Tracking and overlay after a detector, in one run (FPS = frames / median):

- ovfast: `ovfastdetect ! ovfasttrack ! ovfastwatermark` (C on the streaming threads, no GIL per frame);
- python_probe: `ovfastdetect ! identity` with a Python pad probe that does the same work the way users write
  it without DL Streamer: greedy IoU matching of the regions to the objects of the previous frame, the id set
  through gstgva's API, and the boxes drawn with numpy into the mapped frame.

    pytest bench/test_video_track_bench.py --benchmark-group-by=group
"""

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import pytest  # noqa: E402

from ovfast.gst import VideoFrame  # noqa: E402
from ovfast.gst.gstgva.util import GST_PAD_PROBE_INFO_BUFFER  # noqa: E402
from test_video import save  # noqa: E402  (tests/ is on the path)
from test_video_bench import fps, last_pipeline_down, play, prepare  # noqa: E402,F401  (a fixture)
from test_video_regions import LABELS, detector  # noqa: E402

FRAMES = 1000
W, H = 320, 240
SOURCE = (f"videotestsrc num-buffers={FRAMES} pattern=black ! "
          f"video/x-raw,format=BGR,width={W},height={H},framerate=1000/1")


@pytest.fixture(scope="module")
def det(tmp_path_factory):
    return save(detector(H, W), tmp_path_factory.mktemp("track_bench"), "det")


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def python_tracker():
    objects, next_id = {}, [1]      # id -> (label, rect)
    caps = Gst.Caps.from_string(f"video/x-raw,format=BGR,width={W},height={H}")

    def probe(pad, info):
        with GST_PAD_PROBE_INFO_BUFFER(info) as buf, VideoFrame(buf, caps=caps) as frame:
            regions = frame.regions()
            rects = [tuple(r.rect()) for r in regions]
            pairs = sorted(((iou(rect, o[1]), i, oid) for i, rect in enumerate(rects)
                            for oid, o in objects.items() if o[0] == regions[i].label()), reverse=True)
            taken, ids = set(), {}
            for score, i, oid in pairs:
                if score >= 0.3 and i not in ids and oid not in taken:
                    ids[i] = oid
                    taken.add(oid)
            for i, r in enumerate(regions):
                if i not in ids:
                    ids[i], next_id[0] = next_id[0], next_id[0] + 1
                objects[ids[i]] = (r.label(), rects[i])
                r.set_object_id(ids[i])
            with frame.data(Gst.MapFlags.WRITE) as mat:
                for x, y, w, h in rects:
                    colour = (0, 255, 0)
                    mat[y:y + 2, x:x + w] = colour
                    mat[y + h - 2:y + h, x:x + w] = colour
                    mat[y:y + h, x:x + 2] = colour
                    mat[y:y + h, x + w - 2:x + w] = colour
        return Gst.PadProbeReturn.OK
    return probe


def test_ovfast_track_and_watermark(benchmark, det):
    benchmark.group = "detect, track, overlay"
    description = (f"{SOURCE} ! ovfastdetect model={det} labels={LABELS} threshold=0 ! ovfasttrack ! "
                   f"ovfastwatermark ! fakesink sync=false")
    benchmark.pedantic(play, setup=lambda: prepare(description), rounds=5, warmup_rounds=1)
    fps(benchmark, FRAMES)


def test_python_probe_track_and_draw(benchmark, det):
    benchmark.group = "detect, track, overlay"
    description = (f"{SOURCE} ! ovfastdetect model={det} labels={LABELS} threshold=0 ! identity name=probe ! "
                   f"fakesink sync=false")
    benchmark.pedantic(play, setup=lambda: prepare(description, python_tracker()), rounds=5, warmup_rounds=1)
    fps(benchmark, FRAMES)


def test_detect_alone(benchmark, det):
    benchmark.group = "detect, track, overlay"
    description = f"{SOURCE} ! ovfastdetect model={det} labels={LABELS} threshold=0 ! fakesink sync=false"
    benchmark.pedantic(play, setup=lambda: prepare(description), rounds=5, warmup_rounds=1)
    fps(benchmark, FRAMES)
