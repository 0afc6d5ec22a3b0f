"""ovfasttrack, ovfastinfer's reclassify-interval, ovfastwatermark and ovfastfpscounter.

Regions come from the tests (VideoFrame.add_region on the frames pushed), so every box and every move is known;
the tracker's rules are those the guide states (docs/guides/video.md, "Tracking"). Classifications are those of
the model run by ovfastclassify itself on the frames that ran, checked against openvino in
test_video_regions.py; here what is checked is which regions run and what the others carry."""

import re

import gi
import numpy as np
import pytest

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

import ovfast.gst  # noqa: E402,F401  (registers the elements)
from ovfast.gst import VideoFrame  # noqa: E402
from test_gst_plugin import env, plugin_path, run, tool  # noqa: E402,F401  (fixtures)
from test_video import (assert_null_cycles_free_everything, bus_error, frames_while_gil_held,  # noqa: E402
                        refusing_downstream, save)
from test_video_regions import LABELS, classifier, detector  # noqa: E402

W, H = 64, 48


def push(description, boxes, fmt="BGR", pixels=None, width=W, height=H):
    """Pushes len(boxes) frames through `appsrc ! description ! appsink`, frame i with a region per
    (label, x, y, w, h) of boxes[i]. Returns, per frame out,
    [(label, (x, y, w, h), object id, classifications, raw tensors)], the frames' bytes, and the bus error."""
    caps = f"video/x-raw,format={fmt},width={width},height={height},framerate=30/1"
    p = Gst.parse_launch(f"appsrc name=src format=time caps={caps} ! {description} ! "
                         f"appsink name=sink sync=false max-buffers=100000")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    gst_caps = Gst.Caps.from_string(caps)
    p.set_state(Gst.State.PLAYING)
    size = width * height * {"BGR": 3, "RGB": 3, "BGRx": 4}.get(fmt, 1.5)
    for i, frame_boxes in enumerate(boxes):
        data = pixels[i] if pixels is not None else np.full(int(size), 128, np.uint8)
        buf = Gst.Buffer.new_wrapped(data.tobytes())
        buf.pts = i * Gst.SECOND // 30
        with VideoFrame(buf, caps=gst_caps) as f:
            for label, x, y, w, h in frame_boxes:
                f.add_region(x, y, w, h, label)
        assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    regions, datas, error = [], [], None
    while True:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            msg = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
            error = msg.parse_error()[0].message if msg else None
            assert error or sink.get_property("eos"), "no frame, error or EOS within 10 s"
            break
        with VideoFrame(sample.get_buffer(), caps=sample.get_caps()) as f:
            regions.append([(r.label(), tuple(r.rect()), r.object_id(), r.classifications(),
                             sum(t.element_type() is not None for t in r.tensors())) for r in f.regions()])
            datas.append(np.frombuffer(f.data().tobytes(), np.uint8).copy())
    p.set_state(Gst.State.NULL)
    return regions, datas, error


def ids_of(regions, label):
    """The object id of the region labelled `label` on each frame (None where it has none)."""
    return [next((oid for lab, _, oid, *_ in frame if lab == label), None) for frame in regions]


# --- ovfasttrack -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tracking", ["zero-term-imageless", "short-term-imageless"])
def test_objects_moving_across_frames_keep_their_ids(tracking):
    # a car moving right, a person moving down, and a second car standing still
    boxes = [[("car", 2 + 2 * i, 4, 16, 12), ("person", 40, 1 + i, 10, 20), ("car", 40, 30, 16, 12)]
             for i in range(20)]
    regions, _, error = push(f"ovfasttrack tracking-type={tracking}", boxes)
    assert error is None and len(regions) == 20
    assert [[(lab, rect) for lab, rect, *_ in f] for f in regions] == [[(b[0], b[1:]) for b in f] for f in boxes]
    moving, person, still = ([f[k][2] for f in regions] for k in range(3))
    assert moving == [moving[0]] * 20 and person == [person[0]] * 20 and still == [still[0]] * 20
    assert sorted({moving[0], person[0], still[0]}) == [1, 2, 3]          # ids 1, 2, ... per stream


def test_zero_term_keeps_a_missing_object_for_120_frames():
    """zero-term-imageless: an object missing from 120 frames gets its id back; from 121, a new one."""
    def a(i):
        return [("a", 4, 4, 12, 12)] if i < 5 or i >= 125 else []

    def b(i):
        return [("b", 40, 20, 12, 12)] if i < 5 or i >= 126 else []
    boxes = [a(i) + b(i) for i in range(130)]
    regions, _, error = push("ovfasttrack tracking-type=zero-term-imageless", boxes)
    assert error is None
    ids_a, ids_b = ids_of(regions, "a"), ids_of(regions, "b")
    assert ids_a[:5] == [1] * 5 and ids_b[:5] == [2] * 5
    assert ids_a[125:] == [1] * 5                     # back after 120 frames: the same object
    assert ids_b[126:] == [3] * 4                     # back after 121: a new one
    assert all(f == [] for f in regions[5:125])       # zero-term makes no regions of its own


def test_short_term_predicts_boxes_on_frames_the_detector_skipped():
    """short-term-imageless: a frame without regions is one the detector skipped; the tracked object gets a
    region with its id where its motion puts it (2 px a frame here, measured between detections)."""
    def truth(i):
        return ("car", 2 + 2 * i, 10, 24, 12)
    boxes = [[truth(i)] if i % 3 == 0 else [] for i in range(12)]
    regions, _, error = push("ovfasttrack", boxes)          # short-term-imageless is the default
    assert error is None and all(len(f) == 1 for f in regions)
    assert ids_of(regions, "car") == [1] * 12
    assert [f[0][1] for f in regions[:3]] == [truth(0)[1:]] * 3      # no motion known yet: where it was
    assert [f[0][1] for f in regions[3:]] == [truth(i)[1:] for i in range(3, 12)]


def test_short_term_lost_objects_come_back_within_20_frames_and_false_alarms_are_dropped():
    """On frames with detections: a tracked object missing from 3 is lost (no region of its own), forgotten
    after 20 more (24 in all); one seen on a single frame and then missing is a false alarm."""
    def frame(i):
        out = [("anchor", 50, 30, 10, 10)]                 # keeps every frame one with detections
        if i < 5 or i >= 5 + 23:
            out.append(("a", 4, 4, 12, 12))                # missing from 23 frames
        if i < 5 or i >= 5 + 24:
            out.append(("b", 24, 4, 12, 12))               # missing from 24
        if i in (0, 2):
            out.append(("c", 4, 30, 12, 12))               # on frame 0, missing on 1, again on 2
        return out
    regions, _, error = push("ovfasttrack tracking-type=short-term-imageless", [frame(i) for i in range(32)])
    assert error is None
    assert [len(f) for f in regions] == [len(frame(i)) for i in range(32)]     # none made for lost objects
    ids_a, ids_b, ids_c = ids_of(regions, "a"), ids_of(regions, "b"), ids_of(regions, "c")
    assert ids_of(regions, "anchor") == [1] * 32
    assert ids_a[:5] == [2] * 5 and ids_a[28:] == [2] * 4
    assert ids_b[:5] == [3] * 5 and ids_b[29:] == [6] * 3
    assert (ids_c[0], ids_c[2]) == (4, 5)


def test_a_new_frame_size_starts_the_objects_over():
    """New caps with another frame size: the known objects are dropped (ids go on)."""
    p = Gst.parse_launch("appsrc name=src format=time ! ovfasttrack tracking-type=zero-term-imageless ! "
                         "appsink name=sink sync=false max-buffers=100")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    for i, (w, h) in enumerate([(64, 48), (64, 48), (32, 24), (32, 24)]):
        caps = Gst.Caps.from_string(f"video/x-raw,format=BGR,width={w},height={h},framerate=30/1")
        src.set_property("caps", caps)
        buf = Gst.Buffer.new_wrapped(bytes(w * h * 3))
        buf.pts = i * Gst.SECOND // 30
        with VideoFrame(buf, caps=caps) as f:
            f.add_region(2, 2, 12, 12, "car")
        assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    ids = []
    while (sample := sink.emit("try-pull-sample", 10 * Gst.SECOND)) is not None:
        with VideoFrame(sample.get_buffer(), caps=sample.get_caps()) as f:
            ids.append([r.object_id() for r in f.regions()])
    p.set_state(Gst.State.NULL)
    assert ids == [[1], [1], [2], [2]]


@pytest.mark.parametrize("element", ["ovfasttrack", "ovfastwatermark", "ovfastfpscounter", "ovfastmetaconvert",
                                     "ovfastmetapublish file-path=/dev/null"])
def test_a_frame_refused_downstream_is_the_elements_error_first(element):
    """The elements that work in place: downstream refusing the third frame (not-negotiated) is their error
    on the bus, before the source's, and no frame is sent after it."""
    name = element.split()[0]
    error, frames = refusing_downstream(f"videotestsrc num-buffers=50 ! video/x-raw,format=BGR,width=32,height=32 ! "
                                        f"{element}", name)
    assert error == f"{name}: downstream refused a frame (not-negotiated)", error
    assert frames == 3


def test_track_bad_properties_are_errors_on_the_bus():
    src = "videotestsrc num-buffers=3 ! video/x-raw,width=32,height=32"
    text = bus_error(f"{src} ! ovfasttrack tracking-type=zero-term ! fakesink")
    assert "tracking-type='zero-term' is not one of short-term-imageless, zero-term-imageless" in text
    assert "config='max_num_objects=2'" in bus_error(f"{src} ! ovfasttrack config=max_num_objects=2 ! fakesink")


# --- reclassify-interval -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("track")
    return save(detector(H, W), folder, "det"), save(classifier(), folder, "cls")


def noise(n, seed=3):
    return [np.random.default_rng(seed + i).integers(0, 256, H * W * 3, np.uint8) for i in range(n)]


@pytest.mark.parametrize("interval, runs_on", [(1, range(10)), (3, [0, 3, 6, 9]), (4, [0, 4, 8]), (0, [0])])
def test_reclassify_interval_runs_tracked_objects_every_k_frames(models, interval, runs_on):
    _, cls = models
    boxes = [[("car", 4, 4, 20, 16), ("dog", 30, 20, 24, 20)] for _ in range(10)]
    regions, _, error = push(f"ovfasttrack ! ovfastclassify model={cls} reclassify-interval={interval}", boxes,
                             pixels=noise(10))
    assert error is None and len(regions) == 10
    for k in range(2):
        ran = [i for i, f in enumerate(regions) if f[k][4]]       # frames whose region carries the raw output
        assert ran == list(runs_on)
        last = None
        for i, f in enumerate(regions):
            classes = f[k][3]
            assert len(classes) == 1
            if i in runs_on:
                last = classes
            assert classes == last        # the frames between runs carry the last run's result, as it was


def test_reclassify_interval_runs_regions_without_an_object_id_every_time(models):
    _, cls = models
    boxes = [[("car", 4, 4, 20, 16)] for _ in range(6)]
    regions, _, error = push(f"ovfastclassify model={cls} reclassify-interval=5", boxes, pixels=noise(6))
    assert error is None and [f[0][4] for f in regions] == [1] * 6


# --- ovfastwatermark ---------------------------------------------------------------------------------------------
BOXES = [("car", 4, 6, 26, 20), ("person", 36, 10, 20, 30)]


def planes(data, fmt, w=W, h=H):
    """Each pixel's bytes (h, w, n) for packed formats; (luma (h, w), chroma (h/2, w/2, 2)) for 4:2:0."""
    if fmt in ("BGR", "RGB", "BGRx"):
        return data.reshape(h, w, -1)
    y = data[:h * w].reshape(h, w)
    if fmt == "NV12":
        return y, data[h * w:].reshape(h // 2, w // 2, 2)
    q = h * w // 4
    return y, np.stack([data[h * w:h * w + q].reshape(h // 2, w // 2), data[h * w + q:].reshape(h // 2, w // 2)], -1)


def box_masks(w=W, h=H):
    inside, border = np.zeros((h, w), bool), np.zeros((h, w), bool)
    for _, x, y, bw, bh in BOXES:
        inside[y:y + bh, x:x + bw] = True
        border[y:y + bh, x:x + bw] = True
        border[y + 2:y + bh - 2, x + 2:x + bw - 2] = False
    return inside, border


@pytest.mark.parametrize("fmt", ["BGR", "RGB", "BGRx", "NV12", "I420"])
def test_watermark_changes_pixels_in_the_boxes_and_only_there(fmt):
    regions, datas, error = push("ovfasttrack ! ovfastwatermark", [BOXES] * 2, fmt=fmt)
    assert error is None and len(datas) == 2
    size = {"BGR": 3, "RGB": 3, "BGRx": 4}.get(fmt)
    before = np.full(datas[0].shape, 128, np.uint8)
    inside, border = box_masks()
    for data in datas:
        if size:
            changed = (planes(data, fmt) != planes(before, fmt)).any(-1)
            assert changed[border].all()                            # the whole outline
            assert not changed[~inside].any()                       # nothing outside the boxes
            assert changed[inside & ~border].any()                  # the label and id inside
            if fmt == "BGRx":
                assert (planes(data, fmt)[..., 3] == 128).all()     # padding bytes untouched
        else:
            y, uv = planes(data, fmt)
            y0, uv0 = planes(before, fmt)
            changed = y != y0
            assert changed[border].all() and not changed[~inside].any() and changed[inside & ~border].any()
            # a chroma sample changes only where its 2x2 pixels are all in a box
            whole = inside.reshape(H // 2, 2, W // 2, 2).all((1, 3))
            chroma = (uv != uv0).any(-1)
            assert not chroma[~whole].any() and chroma.any()
    # colours by object id: the two boxes differ
    if size:
        px = planes(datas[0], fmt)
        assert tuple(px[6, 4]) != tuple(px[10, 36])


def test_watermark_refuses_formats_it_cannot_draw_on():
    description = ("videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=32,height=32 ! ovfastwatermark ! "
                   "fakesink")
    with pytest.raises(GLib.Error, match=r"ovfastwatermark\d+ can.t handle caps video/x-raw, format=\(string\)GRAY8"):
        Gst.parse_launch_full(description, None, Gst.ParseFlags.FATAL_ERRORS)    # nothing half-built is kept


# --- streaming threads without the GIL ---------------------------------------------------------------------------
def test_track_reclassify_watermark_fpscounter_never_need_the_gil(models):
    det, cls = models
    description = (f"videotestsrc ! video/x-raw,format=BGR,width={W},height={H} ! ovfastdetect model={det} "
                   f"labels={LABELS} threshold=0 ! ovfasttrack ! ovfastclassify model={cls} reclassify-interval=3 ! "
                   f"ovfastwatermark ! ovfastfpscounter interval=1000 ! fakesink name=sink sync=false")
    before, after = frames_while_gil_held(description, ["sink"])["sink"]
    assert after - before >= 20


def test_null_mid_stream_twenty_times_frees_everything(models):
    det, cls = models
    assert_null_cycles_free_everything(
        f"videotestsrc ! video/x-raw,format=BGR,width={W},height={H} ! ovfastdetect model={det} labels={LABELS} "
        f"threshold=0 ! ovfasttrack ! ovfastclassify model={cls} reclassify-interval=3 ! ovfastwatermark ! "
        f"ovfastfpscounter interval=1000 ! fakesink name=sink sync=false", 30)


# --- ovfastfpscounter, in gst-launch-1.0 through the plugin ------------------------------------------------------
LINE = re.compile(r"FpsCounter\((last|average|overall) ([\d.]+)sec\): total=([\d.]+) fps, number-streams=(\d+), "
                  r"per-stream=([\d.]+) fps(?: \(([\d., ]+)\))?$")


def test_fpscounter_reports_each_stream_and_the_total_every_interval(env):
    stream = ("videotestsrc num-buffers=45 ! video/x-raw,width=32,height=32,framerate=30/1 ! ovfasttrack ! "
              "ovfastwatermark ! ovfastfpscounter interval=0.5 ! fakesink sync=true")
    out = run([tool("gst-launch-1.0"), "-q", *stream.split(), *stream.split()], env, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [LINE.match(line) for line in out.stdout.splitlines() if line.startswith("FpsCounter")]
    assert lines and all(lines), out.stdout
    kinds = [m.group(1) for m in lines]
    assert kinds[-1] == "overall" and kinds.count("overall") == 1
    assert kinds[:-1] == ["last", "average"] * (len(kinds) // 2)
    assert len(kinds) // 2 >= 2                                    # 1.5 s of frames, a report every 0.5 s
    for m in lines[:-1]:
        assert float(m.group(2)) >= 0.5
        total, n, per = float(m.group(3)), int(m.group(4)), float(m.group(5))
        assert per == pytest.approx(total / n, abs=0.01)
        if m.group(1) == "last" and n == 2:
            each = [float(v) for v in m.group(6).split(", ")]
            assert len(each) == 2 and sum(each) == pytest.approx(total, abs=0.02)
    seconds, total = float(lines[-1].group(2)), float(lines[-1].group(3))
    assert seconds * total == pytest.approx(90, abs=1)              # every frame of both streams counted
    assert int(lines[-1].group(4)) == 2                            # the streams that ran


def test_fpscounter_interval_out_of_range_is_refused():
    p = Gst.parse_launch("videotestsrc num-buffers=1 ! ovfastfpscounter name=f interval=0 ! fakesink")
    assert p.get_by_name("f").props.interval == 1.0               # GStreamer keeps the default, with a warning
