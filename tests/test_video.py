"""ovfast.gst: ovfastinfer on whole frames, VideoFrame, `python -m ovfast pipeline`.

Needs GStreamer 1.22+ with plugins-base/-good and PyGObject (the README's packages); these tests never skip.
The oracle for every tensor is the model run from Python on the same frames."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

import numpy as np  # noqa: E402
import openvino  # noqa: E402
import openvino.opset13 as ops  # noqa: E402
import pytest  # noqa: E402
from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm  # noqa: E402

import ovfast  # noqa: E402
import ovfast.gst  # noqa: E402
from ovfast.gst import VideoFrame  # noqa: E402


def conv_net(h, w, layout="NHWC", channels=3, dtype=openvino.Type.u8):
    """A small conv net on one image input; two outputs (features and a per-channel mean)."""
    rng = np.random.default_rng(7)
    shape = [1, h, w, channels] if layout == "NHWC" else [1, channels, h, w]
    x = ops.parameter(shape, dtype, name="image")
    y = ops.convert(x, openvino.Type.f32) if dtype != openvino.Type.f32 else x
    if layout == "NHWC":
        y = ops.transpose(y, np.array([0, 3, 1, 2], np.int64))
    k = ops.constant(rng.standard_normal((4, channels, 3, 3)).astype(np.float32) / 30)
    y = ops.relu(ops.convolution(y, k, [2, 2], [1, 1], [1, 1], [1, 1]))
    feats = ops.reduce_mean(y, np.array([2, 3], np.int64), keep_dims=False)
    means = ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2] if layout == "NHWC" else [2, 3],
                                                                        np.int64), keep_dims=False)
    model = openvino.Model([feats, means], [x], "conv-net")
    model.outputs[0].tensor.set_names({"features"})
    model.outputs[1].tensor.set_names({"means"})
    return model


def save(model, folder, name="m"):
    path = os.path.join(str(folder), name + ".xml")
    openvino.save_model(model, path, compress_to_fp16=False)   # the weights as the oracle has them
    return path


def pipeline(description):
    return Gst.parse_launch(description)


def slow_to_post(element_prefix, seconds=0.05):
    """A bus sync handler (it runs on the thread that posts) that holds errors from elements named
    element_prefix* for `seconds` before they are queued: an error flow that escapes before its element's
    error is on the bus then lets upstream's error queue first."""
    def handler(bus, msg, *_):
        if msg.type == Gst.MessageType.ERROR and msg.src.get_name().startswith(element_prefix):
            time.sleep(seconds)
        return Gst.BusSyncReply.PASS
    return handler


def run_appsrc(description, frames, fmt, width, height, timeout=60, regions=False, sync_handler=None,
               all_errors=False):
    """Pushes numpy frames through `appsrc name=src ! <description> ! appsink name=sink`; returns
    [(pts, {tensor name: data copy}, frame data copy)] in arrival order (with regions=True:
    [(pts, [(label, rect, classifications, [(tensor name, data copy)])])]), and the bus error if any (with
    all_errors=True: a list of every error's text, see stop_collecting)."""
    p = pipeline(f"appsrc name=src format=time caps=video/x-raw,format={fmt},width={width},height={height},"
                 f"framerate=30/1 ! {description} ! appsink name=sink sync=false max-buffers=100000")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    if sync_handler is not None:
        p.get_bus().set_sync_handler(sync_handler)
    out = []
    p.set_state(Gst.State.PLAYING)
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts = i * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sample = sink.emit("try-pull-sample", 100 * Gst.MSECOND)
        if sample is None:
            if sink.get_property("eos"):
                break
            msg = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                return out, stop_collecting(p, msg, all_errors)
            continue
        with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
            if regions:
                out.append((f.pts, [(r.label(), r.rect(), r.classifications(),
                                     [(t.layer_name(), t.array().copy()) for t in r.tensors()
                                      if t.element_type() is not None]) for r in f.regions()]))
            else:
                out.append((f.pts, {t.layer_name(): t.array().copy() for t in f.tensors()}, f.data().copy()))
    return out, stop_collecting(p, p.get_bus().pop_filtered(Gst.MessageType.ERROR), all_errors)


def stop_collecting(p, first, all_errors):
    """Stops p; its first error's text (None without one), or with all_errors every error's, in order: those
    posted until the bus has been quiet for half a second (stopping drops what is posted after)."""
    if not all_errors:
        p.set_state(Gst.State.NULL)
        return first.parse_error()[0].message if first else None
    errors = [first] if first else []
    while (msg := p.get_bus().timed_pop_filtered(Gst.SECOND // 2, Gst.MessageType.ERROR)) is not None:
        errors.append(msg)
    p.set_state(Gst.State.NULL)
    return [m.parse_error()[0].message for m in errors]


def frames_out(p):
    """Plays p and yields a VideoFrame (released after each step) per sample its appsink `sink` takes, then
    stops the pipeline."""
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    try:
        while (sample := sink.emit("pull-sample")) is not None:
            with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
                yield f
    finally:
        p.set_state(Gst.State.NULL)


def appsrc_frames(description, frames, fmt, width, height):
    """Pushes numpy frames (pts 0, 1, ...) through `appsrc name=src ! <description> ! appsink name=sink` and
    yields a VideoFrame per frame out, as frames_out."""
    p = pipeline(f"appsrc name=src format=time caps=video/x-raw,format={fmt},width={width},height={height},"
                 f"framerate=30/1 ! {description} ! appsink name=sink sync=false")
    src = p.get_by_name("src")
    p.set_state(Gst.State.PLAYING)
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts = i
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    yield from frames_out(p)


def playing(description, frames):
    """The pipeline playing, once `frames` frames reached its sink named `sink`; and that sink's counter."""
    p = pipeline(description)
    counter = ovfast.gst.FrameCounter(p.get_by_name("sink").get_static_pad("sink"))
    p.set_state(Gst.State.PLAYING)
    deadline = time.monotonic() + 30
    while counter.count < frames and time.monotonic() < deadline:
        time.sleep(0.005)
    assert counter.count >= frames, f"{counter.count} frames in 30 s: {description}"
    return p, counter


def bus_error(description, timeout=30):
    """Runs a pipeline until EOS or an error; returns the error's text (None at EOS). Fails on a hang."""
    p = pipeline(description)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(timeout * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None, f"no EOS or error within {timeout} s: {description}"
    return msg.parse_error()[0].message if msg.type == Gst.MessageType.ERROR else None


# f32 on both sides: the CPU plugin's default may be bf16, where two compilations of one graph round apart
F32 = "config=INFERENCE_PRECISION_HINT=f32"
F32_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="module")
def net32(tmp_path_factory):
    model = conv_net(32, 32)
    return model, save(model, tmp_path_factory.mktemp("net32"))


# --- results ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_tensors_equal_compiled_frame_by_frame_in_order(net32, jobs):
    model, path = net32
    rng = np.random.default_rng(jobs)
    frames = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(60)]
    got, error = run_appsrc(f"ovfastinfer model={path} jobs={jobs} {F32}", frames, "BGR", 32, 32)
    assert error is None
    assert len(got) == len(frames)
    compiled = ovfast.compile_model(model, "CPU", F32_CONFIG)
    for i, (pts, tensors, data) in enumerate(got):
        assert pts == i * Gst.SECOND // 30          # in input order
        np.testing.assert_array_equal(data, frames[i])
        want = compiled(frames[i][None])
        assert set(tensors) == {"features", "means"}
        np.testing.assert_allclose(tensors["features"], want["features"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tensors["means"], want["means"], rtol=1e-6)
        assert tensors["features"].shape == (1, 4) and tensors["features"].dtype == np.float32


def ppp_oracle(model, fmt, width, height):
    """openvino's own PrePostProcessor for frames of fmt/size onto an NCHW f32 model (written here, not ovfast's)."""
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC")) \
        .set_color_format(ColorFormat.RGB if fmt == "RGB" else ColorFormat.BGR).set_spatial_static_shape(height, width)
    ppp.input().model().set_layout(openvino.Layout("NCHW"))
    pre = ppp.input().preprocess().convert_element_type(openvino.Type.f32)
    if fmt == "RGB":
        pre.convert_color(ColorFormat.BGR)
    pre.resize(ResizeAlgorithm.RESIZE_LINEAR)
    return openvino.Core().compile_model(ppp.build(), "CPU", F32_CONFIG)


def test_larger_frames_are_resized_and_converted_inside_openvino(tmp_path):
    model = conv_net(16, 16, layout="NCHW", dtype=openvino.Type.f32)
    path = save(model, tmp_path)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(12)]
    got, error = run_appsrc(f"ovfastinfer model={path} jobs=2 {F32}", frames, "RGB", 64, 48)
    assert error is None and len(got) == len(frames)
    oracle = ppp_oracle(model, "RGB", 64, 48)
    for (pts, tensors, _), frame in zip(got, frames):
        want = oracle(frame[None])
        np.testing.assert_allclose(tensors["features"], want[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(tensors["means"], want[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt,width", [("RGB", 30), ("BGR", 13), ("BGRx", 30), ("GRAY8", 30)])
def test_padded_rows_are_read_in_place(tmp_path, fmt, width):
    """RGB of width 30 has 92-byte rows for 90 bytes of pixels: the model reads around the padding."""
    channels = 1 if fmt == "GRAY8" else 3
    model = conv_net(10, width, channels=channels)
    path = save(model, tmp_path)
    rng = np.random.default_rng(width)
    pixel = {"RGB": 3, "BGR": 3, "BGRx": 4, "GRAY8": 1}[fmt]
    stride = (width * pixel + 3) // 4 * 4
    pictures = [rng.integers(0, 256, (10, width, pixel), dtype=np.uint8) for _ in range(8)]
    frames = []
    for pic in pictures:                                   # lay each picture out with GStreamer's stride
        raw = np.zeros((10, stride), np.uint8)
        raw[:, :width * pixel] = pic.reshape(10, -1)
        frames.append(raw)
    got, error = run_appsrc(f"ovfastinfer model={path} {F32}", frames, fmt, width, 10)
    assert error is None and len(got) == len(frames)
    compiled = ovfast.compile_model(model, "CPU", F32_CONFIG)
    for (pts, tensors, data), pic in zip(got, pictures):
        np.testing.assert_array_equal(data, pic)               # (rows, width, bytes per pixel), GRAY8 too
        if fmt == "GRAY8":
            image = pic
        else:
            image = pic[:, :, :3]
            if fmt == "RGB":
                image = image[:, :, ::-1]                      # the model takes BGR
        want = compiled(np.ascontiguousarray(image)[None])
        np.testing.assert_allclose(tensors["features"], want["features"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tensors["means"], want["means"], rtol=1e-6)


def test_nv12_frames_through_the_models_color_conversion(tmp_path):
    model = conv_net(16, 16, layout="NCHW", dtype=openvino.Type.f32)
    path = save(model, tmp_path)
    p = pipeline(f"videotestsrc num-buffers=20 pattern=ball ! video/x-raw,format=NV12,width=32,height=24 ! "
                 f"ovfastinfer model={path} {F32} ! appsink name=sink sync=false max-buffers=1000")
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC")) \
        .set_color_format(ColorFormat.NV12_SINGLE_PLANE).set_spatial_static_shape(24, 32)
    ppp.input().model().set_layout(openvino.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(openvino.Type.f32).convert_color(ColorFormat.BGR) \
        .resize(ResizeAlgorithm.RESIZE_LINEAR)
    oracle = openvino.Core().compile_model(ppp.build(), "CPU", F32_CONFIG)
    n = 0
    for f in frames_out(p):
        assert f.format == "NV12"
        want = oracle(f.data().reshape(1, 36, 32, 1))
        np.testing.assert_allclose(f.tensors()[0].array(), want[0], rtol=1e-4, atol=1e-5)
        n += 1
    assert n == 20


def test_videotestsrc_pipeline_and_interval(net32):
    _, path = net32
    p = pipeline(f"videotestsrc num-buffers=300 ! video/x-raw,format=BGRx,width=64,height=48 ! "
                 f"ovfastinfer model={path} interval=3 jobs=3 ! appsink name=sink sync=false max-buffers=1000")
    seen = [(f.pts, len(f.tensors())) for f in frames_out(p)]
    assert len(seen) == 300
    assert [pts for pts, _ in seen] == sorted(pts for pts, _ in seen)
    assert [n for _, n in seen] == [2 if i % 3 == 0 else 0 for i in range(300)]


def frames_while_gil_held(description, counted, probe_on=None, seconds=0.5):
    """Plays the pipeline, then holds the GIL in a Python loop for `seconds`, or for as long as this machine
    takes for 60 frames if that is longer. Returns {name: (buffers at its sink pad when the hold began, when
    it ended)} for the elements named in `counted`. probe_on: an element whose src pad gets a Python pad
    probe (it needs the GIL per buffer)."""
    # No forced thread switch during the hold. Set before anything starts: a thread already waiting for the
    # GIL keeps the interval it began waiting with, and would take the GIL from the hold after 5 ms. The
    # threads here all give the GIL back by themselves (after a probe call, a batch, a sleep).
    old = sys.getswitchinterval()
    sys.setswitchinterval(60)
    p = pipeline(description)
    try:
        if probe_on:
            p.get_by_name(probe_on).get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER,
                                                                    lambda pad, info: Gst.PadProbeReturn.OK)
        counters = {name: ovfast.gst.FrameCounter(p.get_by_name(name).get_static_pad("sink")) for name in counted}
        first = counters[counted[0]]
        p.set_state(Gst.State.PLAYING)
        deadline = time.monotonic() + 30
        while first.count < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.count >= 20, "the pipeline did not start"
        # size the hold by this machine's rate: long enough for 60 frames at least (the callers expect 20)
        t, start = time.monotonic(), first.count
        while first.count < start + 20 and time.monotonic() < deadline:
            time.sleep(0.001)
        seconds = max(seconds, 3 * (time.monotonic() - t))
        before = {name: c.count for name, c in counters.items()}
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        after = {name: c.count for name, c in counters.items()}
    finally:
        sys.setswitchinterval(old)
        p.set_state(Gst.State.NULL)
    for c in counters.values():
        c.remove()
    return {name: (before[name], after[name]) for name in counted}


def test_streaming_thread_never_needs_the_gil(net32):
    """The main thread holds the GIL; frames still flow through ovfastinfer. The same check with a Python pad
    probe in the pipeline sees the flow stop: it can fail."""
    _, path = net32
    description = (f"videotestsrc ! video/x-raw,format=BGR,width=32,height=32 ! ovfastinfer model={path} jobs=2 ! "
                   f"identity name=probe ! fakesink name=sink sync=false")
    before, after = frames_while_gil_held(description, ["sink"])["sink"]
    assert after - before >= 20
    before, after = frames_while_gil_held(description, ["sink"], probe_on="probe")["sink"]
    assert after - before <= 2


# --- VideoFrame -------------------------------------------------------------------------------------------------
def test_videoframe_regions_lifetime_and_bad_arguments():
    caps = Gst.Caps.from_string("video/x-raw,format=RGB,width=4,height=2")
    info = GstVideo.VideoInfo.new_from_caps(caps)
    data = np.arange(info.size, dtype=np.uint8)
    buf = Gst.Buffer.new_wrapped(data.tobytes())
    buf.pts = 123
    GstVideo.buffer_add_video_region_of_interest_meta(buf, "face", 1, 0, 2, 2)
    GstVideo.buffer_add_video_region_of_interest_meta(buf, "car", 0, 1, 4, 1)
    f = VideoFrame(buf, caps)
    assert (f.width, f.height, f.format, f.pts) == (4, 2, "RGB", 123)
    assert f.writable                                      # nothing but this Gst.Buffer holds it
    view = f.data()
    assert f.writable                                      # the view keeps the memory, not the buffer
    assert view.shape == (2, 4, 3) and view.strides == (12, 3, 1)
    np.testing.assert_array_equal(view, data[:24].reshape(2, 4, 3))
    assert view.flags.writeable
    view[0, 0, 0] = 99
    np.testing.assert_array_equal(VideoFrame(buf, caps).data()[0, 0], [99, 1, 2])
    view[0, 0, 0] = 0
    assert [(r.label(), r.rect()) for r in f.regions()] == [("face", (1, 0, 2, 2)), ("car", (0, 1, 4, 1))]
    assert f.tensors() == []
    f.release()
    for use in (lambda: f.data(), lambda: f.tensors(), lambda: f.regions(), lambda: f.width, lambda: f.pts):
        with pytest.raises(RuntimeError, match="released"):
            use()
    del buf
    np.testing.assert_array_equal(view, data[:24].reshape(2, 4, 3))   # the view holds its own reference
    with pytest.raises(TypeError, match="Gst.Buffer"):
        VideoFrame(data)
    with pytest.raises(ValueError, match="not video caps"):
        VideoFrame(Gst.Buffer.new_wrapped(b"12"), "audio/x-raw,format=S16LE")
    with pytest.raises(ValueError, match="no caps"):
        VideoFrame(Gst.Buffer.new_wrapped(b"12")).data()
    with pytest.raises(ValueError, match="need 24"):
        VideoFrame(Gst.Buffer.new_wrapped(b"12"), caps).data()


def test_videoframe_in_a_pad_probe_reads_tensors_zero_copy(net32):
    _, path = net32
    p = pipeline(f"videotestsrc num-buffers=10 ! video/x-raw,format=BGR,width=32,height=32 ! "
                 f"ovfastinfer model={path} ! identity name=probe ! fakesink")
    seen = []

    def probe(pad, info):
        with VideoFrame(info.get_buffer(), pad.get_current_caps()) as f:
            t = f.tensors()[0]
            a, b = t.data(), t.data()
            seen.append((t.name(), t.layer_name(), t.dims(), t.element_type(), a.ctypes.data == b.ctypes.data,
                         a.flags.writeable, a.shape))
        return Gst.PadProbeReturn.OK

    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    assert bus_error_of(p) is None
    assert seen == [("inference_layer_name:features", "features", [1, 4], openvino.Type.f32, True, False, (4,))] * 10


def bus_error_of(p, timeout=30):
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(timeout * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None, "no EOS or error"
    return msg.parse_error()[0].message if msg.type == Gst.MessageType.ERROR else None


def refusing_downstream(head, element_prefix):
    """Plays `head ! appsink` with the sink refusing the third frame (not-negotiated) and the errors of
    elements named element_prefix* held back a little (slow_to_post). Returns the bus's first error and how
    many frames reached the sink."""
    p = pipeline(f"{head} ! appsink name=sink emit-signals=true sync=false")
    seen = []

    def refuse(sink):
        sink.emit("pull-sample")
        seen.append(1)
        return Gst.FlowReturn.NOT_NEGOTIATED if len(seen) >= 3 else Gst.FlowReturn.OK

    p.get_by_name("sink").connect("new-sample", refuse)
    p.get_bus().set_sync_handler(slow_to_post(element_prefix))
    return bus_error_of(p), len(seen)


# --- bad input: an error on the bus that says what to do; no crash, no hang ----------------------------------
SRC = "videotestsrc num-buffers=5 ! video/x-raw,format=BGR,width=32,height=32"


def test_missing_and_unreadable_models(tmp_path):
    assert "no such file" in bus_error(f"{SRC} ! ovfastinfer model={tmp_path}/none.xml ! fakesink")
    assert "no model" in bus_error(f"{SRC} ! ovfastinfer ! fakesink")
    junk = tmp_path / "junk.xml"
    junk.write_text("<not a model")
    assert "could not be read as a model" in bus_error(f"{SRC} ! ovfastinfer model={junk} ! fakesink")


def test_model_that_cannot_take_the_caps(tmp_path, net32):
    _, path = net32
    text = bus_error(f"videotestsrc num-buffers=5 ! video/x-raw,format=GRAY8,width=32,height=32 ! "
                     f"ovfastinfer model={path} ! fakesink")
    assert "takes 3 channels" in text and "GRAY8" in text and "videoconvert" in text
    two = openvino.Model([ops.add(a := ops.parameter([1, 8, 8, 3], np.uint8), b := ops.parameter([1, 8, 8, 3], np.uint8))],
                         [a, b])
    assert "has 2 inputs" in bus_error(f"{SRC} ! ovfastinfer model={save(two, tmp_path, 'two')} ! fakesink")
    flat = openvino.Model([ops.relu(c := ops.parameter([8], np.float32))], [c])
    assert "4-d input" in bus_error(f"{SRC} ! ovfastinfer model={save(flat, tmp_path, 'flat')} ! fakesink")


def test_a_frame_layout_the_model_cannot_take(net32):
    _, path = net32
    text = bus_error(f"videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=30,height=20 ! "
                     f"ovfastinfer model={path} ! fakesink")
    assert "rows must not be padded" in text and "I420" in text


def test_invalid_property_values(net32):
    _, path = net32
    assert "output='boxes' is not one of tensor" in bus_error(f"{SRC} ! ovfastinfer model={path} output=boxes ! fakesink")
    assert "expected KEY=VALUE" in bus_error(f"{SRC} ! ovfastinfer model={path} config=THROUGHPUT ! fakesink")
    assert "could not be compiled" in bus_error(f"{SRC} ! ovfastinfer model={path} config=PERFORMANCE_HINT=FAST ! fakesink")
    assert "device='NPU7' is not available" in bus_error(f"{SRC} ! ovfastinfer model={path} device=NPU7 ! fakesink")
    for bad in ("interval=0", "jobs=-1", "jobs=5000"):   # out of the property's range: refused (a warning)
        p = Gst.parse_launch(f"{SRC} ! ovfastinfer name=inf model={path} {bad} ! fakesink")
        assert (p.get_by_name("inf").props.interval, p.get_by_name("inf").props.jobs) == (1, 0)
    with pytest.raises(GLib.Error, match="jobs"):
        Gst.parse_launch(f"{SRC} ! ovfastinfer model={path} jobs=many ! fakesink")


def test_eos_with_frames_in_flight_delivers_every_frame(net32):
    model, path = net32
    frames = [np.full((32, 32, 3), i, np.uint8) for i in range(64)]
    got, error = run_appsrc(f"ovfastinfer model={path} jobs=4", frames, "BGR", 32, 32)
    assert error is None
    assert [int(data[0, 0, 0]) for _, _, data in got] == list(range(64))
    assert all(len(t) == 2 for _, t, _ in got)


def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def assert_null_cycles_free_everything(description, frames, cycles=20):
    """Plays the pipeline until `frames` frames reached its sink named `sink`, then NULL, `cycles` times:
    after the first cycles (caches, the plugin, allocator pools) a cycle adds nothing lasting."""
    sizes = []
    for _ in range(cycles):
        p, counter = playing(description, frames)
        assert p.set_state(Gst.State.NULL) == Gst.StateChangeReturn.SUCCESS
        counter.remove()
        del p, counter
        sizes.append(rss_kb())
    growth = sizes[-1] - sizes[4]
    assert growth < 8 * 1024, f"RSS grew {growth} KiB over {cycles - 5} start/stop cycles: {sizes}"


def test_null_mid_stream_twenty_times_frees_everything(net32):
    _, path = net32
    assert_null_cycles_free_everything(f"videotestsrc ! video/x-raw,format=BGR,width=32,height=32 ! "
                                       f"ovfastinfer model={path} jobs=4 ! fakesink name=sink sync=false", 30)


# --- the command line -----------------------------------------------------------------------------------------
def test_cli_runs_a_pipeline_and_stops_cleanly_on_ctrl_c(net32, tmp_path):
    _, path = net32
    here = str(tmp_path)      # not the source checkout: `python -m ovfast` must find the installed package
    done = subprocess.run([sys.executable, "-m", "ovfast", "pipeline", "videotestsrc", "num-buffers=120", "!",
                           "video/x-raw,format=BGR,width=32,height=32", "!", f"ovfastinfer", f"model={path}", "!",
                           "fakesink"], capture_output=True, text=True, timeout=120, cwd=here)
    assert done.returncode == 0, done.stderr
    assert "fakesink0: 120 frames in" in done.stdout and "FPS" in done.stdout
    proc = subprocess.Popen([sys.executable, "-m", "ovfast", "pipeline", f"videotestsrc ! video/x-raw,format=BGR,"
                             f"width=32,height=32 ! ovfastinfer model={path} ! fakesink sync=true"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=here)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in err
    frames = int(out.split("fakesink0: ")[1].split(" frames")[0])
    assert frames > 0
    bad = subprocess.run([sys.executable, "-m", "ovfast", "pipeline", f"{SRC} ! ovfastinfer model=/no/such.xml ! "
                          f"fakesink"], capture_output=True, text=True, timeout=120, cwd=here)
    assert bad.returncode == 1 and "no such file" in bad.stderr
    parse = subprocess.run([sys.executable, "-m", "ovfast", "pipeline", "videotestsrc ! nosuchelement"],
                           capture_output=True, text=True, timeout=120, cwd=here)
    assert parse.returncode == 2 and "nosuchelement" in parse.stderr


def test_openvino_imported_before_gstreamer_keeps_exceptions_working(tmp_path):
    """Debian's GStreamer brings libunwind into the global scope; without ovfast's alignment, openvino
    imported first then aborts at the first exception a plugin throws and catches (available_devices)."""
    script = textwrap.dedent("""
        import openvino
        import gi; gi.require_version("Gst", "1.0"); from gi.repository import Gst; Gst.init(None)
        import ovfast.gst, ovfast
        print(ovfast.Core().available_devices, openvino.Core().available_devices)
        try:
            openvino.Core().compile_model(openvino.Core().read_model(b"<bad", b""), "CPU")
        except Exception as exc:
            print("caught", type(exc).__name__)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CPU" in done.stdout and "caught" in done.stdout


def meta_reader(tmp_path):
    """tests/cext/meta_reader.c built with ovfast.get_include() and GStreamer's flags only, loaded."""
    import ctypes

    lib_path = str(tmp_path / "libmetareader.so")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gstreamer-video-1.0"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib_path,
                    os.path.join(os.path.dirname(__file__), "cext", "meta_reader.c"), "-I", ovfast.get_include(),
                    *flags], check=True)
    lib = ctypes.CDLL(lib_path)
    lib.read_tensors.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.POINTER(ctypes.c_double), ctypes.c_int]
    lib.read_messages.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.read_region_fields.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    return lib


def buffer_address(buf):
    """The GstBuffer* behind a Gst.Buffer (PyGObject's boxed pointer), for the C reader."""
    import ctypes

    return ctypes.c_void_p.from_address(id(buf) + object.__basicsize__).value


def test_tensors_read_from_c_with_the_installed_header(net32, tmp_path):
    """tests/cext/meta_reader.c: a C reader built with ovfast.get_include() and GStreamer's flags only."""
    import ctypes

    _, path = net32
    lib = meta_reader(tmp_path)
    p = pipeline(f"videotestsrc num-buffers=6 ! video/x-raw,format=BGR,width=32,height=32 ! "
                 f"ovfastinfer model={path} ! appsink name=sink sync=false max-buffers=100")
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    n = 0
    while (sample := sink.emit("pull-sample")) is not None:
        buf = sample.get_buffer()
        text, sums = ctypes.create_string_buffer(512), (ctypes.c_double * 4)()
        assert lib.read_tensors(buffer_address(buf), text, 512, sums, 4) == 2
        assert text.value.decode() == "features:f32:1x4;means:f32:1x3;"
        python_sums = [float(t.data().astype(np.float64).sum()) for t in VideoFrame(buf, sample.get_caps()).tensors()]
        assert [round(sums[i], 3) for i in range(2)] == [round(v, 3) for v in python_sums]
        n += 1
    p.set_state(Gst.State.NULL)
    assert n == 6


def test_flushing_seek_and_caps_change_mid_stream(net32):
    """A flushing seek drops the frames in flight and the stream goes on; new caps recompile the model."""
    model, path = net32
    p = pipeline(f"videotestsrc num-buffers=400 ! video/x-raw,format=BGR,width=32,height=32,framerate=30/1 ! "
                 f"ovfastinfer model={path} jobs=4 ! fakesink name=sink sync=false")
    seen = []

    def probe(pad, info):
        seen.append(round(info.get_buffer().pts * 30 / Gst.SECOND))
        return Gst.PadProbeReturn.OK

    p.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    p.set_state(Gst.State.PLAYING)
    deadline = time.monotonic() + 30
    while len(seen) < 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert p.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH, 2 * Gst.SECOND)
    msg = p.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg.type == Gst.MessageType.EOS
    # Frames 0..k-1 before the seek, then from the seek's frame (2 s: 59 or 60, as videotestsrc rounds) on, in
    # order: none dropped after it, none of the flushed ones late; num-buffers counts the flushed frames too, so
    # at most 400 in all. Contiguous from 0 throughout when the stream ended before the seek (a fast machine)
    # or the seek landed on the frame after the last one out.
    tail = len(seen) - 1
    while tail > 0 and seen[tail - 1] == seen[tail] - 1:
        tail -= 1
    assert seen[:tail] == list(range(tail)) and len(seen) <= 400
    assert seen[0] == 0 if tail == 0 else (tail >= 50 and seen[tail] in (59, 60))
    # caps change: 32x32 frames, then 48x48 frames, through one element (resize inside OpenVINO for the second)
    rng = np.random.default_rng(11)
    p = pipeline(f"appsrc name=src format=time ! ovfastinfer model={path} {F32} ! "
                 f"appsink name=sink sync=false max-buffers=1000")
    src = p.get_by_name("src")
    p.set_state(Gst.State.PLAYING)
    sent = []
    for side in (32, 48):
        src.set_property("caps", Gst.Caps.from_string(f"video/x-raw,format=BGR,width={side},height={side},framerate=30/1"))
        for _ in range(5):
            frame = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            sent.append(frame)
            buf = Gst.Buffer.new_wrapped(frame.tobytes())
            buf.pts = len(sent) * Gst.SECOND // 30
            src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    got = [(f.width, {t.layer_name(): t.array().copy() for t in f.tensors()}) for f in frames_out(p)]
    assert [w for w, _ in got] == [32] * 5 + [48] * 5
    direct = ovfast.compile_model(model, "CPU", F32_CONFIG)
    resized = ovfast.compile_model(ovfast.gst.frame_model(model, "BGR", 48, 48, (144,), (0,))[0], "CPU", F32_CONFIG)
    for (w, tensors), frame in zip(got, sent):
        want = (direct if w == 32 else resized)(frame[None])
        np.testing.assert_allclose(tensors["features"], want["features"], rtol=1e-5, atol=1e-6)


def test_a_failed_inference_is_an_error_on_the_bus_after_the_frames_before_it(tmp_path):
    """A model that fails on some inputs (a Reshape to a size the first byte of the frame gives): the frames
    before the failing one come out, then the error with OpenVINO's words, and the pipeline stops."""
    x = ops.parameter([1, 4, 4, 3], openvino.Type.u8, name="image")
    flat = ops.reshape(ops.convert(x, openvino.Type.i64), np.array([48], np.int64), False)
    k = ops.slice(flat, np.array([0], np.int64), np.array([1], np.int64), np.array([1], np.int64))
    rows = ops.reshape(flat, ops.concat([k, ops.constant(np.array([-1], np.int64))], 0), False)
    total = ops.reshape(ops.reduce_sum(rows, np.array([0, 1], np.int64), keep_dims=False),
                        np.array([1], np.int64), False)            # a static [1] whatever the rows were
    path = save(openvino.Model([total], [x], "fragile"), tmp_path, "fragile")
    frames = [np.full((4, 4, 3), v, np.uint8) for v in (4, 6, 5, 5, 5, 4)]      # 48 % 5 != 0: the third fails
    # the first error on the bus is ovfastinfer's, not the vaguer one upstream posts when chain() returns
    # error; the frames failing after it add none
    got, errors = run_appsrc(f"ovfastinfer model={path} jobs=2", frames, "BGR", 4, 4,
                             sync_handler=slow_to_post("ovfastinfer"), all_errors=True)
    assert errors and errors[0].startswith("ovfastinfer: an inference failed:"), errors
    assert "Reshape" in errors[0] or "reshape" in errors[0]
    assert sum(e.startswith("ovfastinfer") for e in errors) == 1, errors
    assert [int(next(iter(t.values()))[0]) for _, t, _ in got] == [192, 288]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_frame_refused_downstream_is_ovfastinfers_error_first(net32, jobs):
    """Downstream refuses the third frame (not-negotiated): the bus's first error names ovfastinfer and the
    flow, before the source's "Internal data stream error" that the same refusal causes upstream."""
    error, frames = refusing_downstream(f"videotestsrc num-buffers=100 ! video/x-raw,format=BGR,width=32,height=32 ! "
                                        f"ovfastinfer model={net32[1]} jobs={jobs}", "ovfastinfer")
    assert error == "ovfastinfer: downstream refused a frame (not-negotiated)", error
    assert frames == 3
