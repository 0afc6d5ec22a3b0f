"""ovfastinfer in a GStreamer pipeline against the same work done other ways, in one run (FPS = frames / median):

- baseline_identity: the pipeline with `identity` where inference would be (its ceiling);
- ovfast_infer: `ovfastinfer` (job pool driven from C, no GIL per frame);
- c_loop: bench/c_ceiling.c's ceiling_frames, the same model and jobs on the same frames, no GStreamer;
- openvino_probe / ovfast_probe: a Python pad probe calling compiled(frame) per frame (what users write
  today), with openvino and with ovfast.

Each model runs on frames of its own size from `videotestsrc`, black (nearly free) and a moving ball (a real
per-frame cost for the source, on the same cores); the model the C loop and the
probes run is the one ovfastinfer compiles (ovfast.gst.frame_model: the frame's preprocessing inside it).

    pytest bench/test_video_bench.py --benchmark-group-by=group
"""

import os
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import numpy as np  # noqa: E402
import openvino  # noqa: E402
import openvino.opset13 as ops  # noqa: E402
import pytest  # noqa: E402

import ovfast  # noqa: E402
import ovfast.gst  # noqa: E402
from ovfast.benchmark import builtin_model  # noqa: E402
from test_video_regions import classifier, detector  # noqa: E402  (tests/ is on the path)

FRAMES = 2000
JOBS = 2
CONFIG = {"PERFORMANCE_HINT": "THROUGHPUT"}


def tiny_model(side):
    """Per-channel means of a u8 NHWC frame: microseconds per inference, so per-frame overhead dominates."""
    x = ops.parameter([1, side, side, 3], openvino.Type.u8, name="image")
    y = ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2], np.int64), keep_dims=False)
    model = openvino.Model([y], [x], "tiny")
    model.outputs[0].tensor.set_names({"means"})
    return model


MODELS = {"builtin conv 64x64": (lambda: builtin_model(64), 64), "tiny 64x64": (lambda: tiny_model(64), 64)}


def caps(side):
    return f"video/x-raw,format=BGR,width={side},height={side},framerate=1000/1"


def source(side, pattern, n=FRAMES):
    return f"videotestsrc num-buffers={n} pattern={pattern} ! {caps(side)}"


_previous = []


def prepare(description, probe=None):
    """Untimed: the pipeline built and prerolled (caps negotiated, ovfastinfer's model compiled, one frame
    through), so that a round times the frames only. The last round's pipeline is torn down here too."""
    while _previous:
        _previous.pop().set_state(Gst.State.NULL)
    p = Gst.parse_launch(description)
    if probe is not None:
        p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    assert p.set_state(Gst.State.PAUSED) != Gst.StateChangeReturn.FAILURE
    assert p.get_state(60 * Gst.SECOND)[0] == Gst.StateChangeReturn.SUCCESS
    _previous.append(p)
    return (p,), {}


@pytest.fixture(scope="module", autouse=True)
def last_pipeline_down():
    """The last round's pipeline goes to NULL before the process ends (GStreamer warns about it otherwise)."""
    yield
    while _previous:
        _previous.pop().set_state(Gst.State.NULL)


def play(p):
    """Timed: from PLAYING to EOS (FRAMES - 1 frames after the prerolled one)."""
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()


def play_beside_python(p):
    """play() while another thread runs Python the whole time (an application doing its own work: serving
    requests, reading results): whoever wants the GIL waits for that thread to let go of it."""
    stop = threading.Event()

    def work():
        while not stop.is_set():
            sum(range(200))

    worker = threading.Thread(target=work)
    worker.start()
    try:
        play(p)
    finally:
        stop.set()
        worker.join()


def timed(benchmark, description, probe=None, rounds=5, frames=FRAMES, target=play):
    benchmark.pedantic(target, setup=lambda: prepare(description, probe), rounds=rounds, warmup_rounds=1)
    fps(benchmark, frames)


# black frames cost the source almost nothing (a buffer from its pool), so the gap to the C loop is
# ovfastinfer's own; a moving ball costs videotestsrc ~25 us a frame on the same two cores.
PATTERNS = ["black", "ball"]


@pytest.fixture(scope="module", params=[(m, p) for m in MODELS for p in PATTERNS], ids=lambda mp: f"{mp[0]} {mp[1]}")
def setup(request, tmp_path_factory, ceiling):
    """(name, side, model IR path, frame-model IR path, frames as bytes, C ceiling handle, pattern)."""
    model_name, pattern = request.param
    build, side = MODELS[model_name]
    folder = tmp_path_factory.mktemp("video")
    model = build()
    path = os.path.join(str(folder), "model.xml")
    openvino.save_model(model, path, compress_to_fp16=False)
    framed, _ = ovfast.gst.frame_model(model, "BGR", side, side, (side * 3,), (0,))
    framed_path = os.path.join(str(folder), "framed.xml")
    openvino.save_model(framed, framed_path, compress_to_fp16=False)
    # the frames videotestsrc makes, captured once for the C loop
    p = Gst.parse_launch(f"{source(side, pattern, 30)} ! appsink name=sink sync=false max-buffers=100")
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    frames = []
    while (sample := sink.emit("pull-sample")) is not None:
        buf = sample.get_buffer()
        frames.append(buf.extract_dup(0, buf.get_size()))
    p.set_state(Gst.State.NULL)
    blob = b"".join(frames)
    handle = ceiling.ceiling_new(framed_path.encode(), b"CPU", b"PERFORMANCE_HINT", b"THROUGHPUT", JOBS)
    assert handle
    yield f"{model_name}, {pattern}", side, path, framed_path, (blob, len(frames[0]), len(frames)), handle, pattern
    ceiling.ceiling_free(handle)


def c_loop(ceiling, setup):
    _, _, _, _, (blob, frame_bytes, n_frames), handle, _ = setup
    assert ceiling.ceiling_frames(handle, FRAMES - 1, blob, frame_bytes, n_frames) == 0


def fps(benchmark, frames=FRAMES):
    if benchmark.stats is not None:
        benchmark.extra_info["fps"] = (frames - 1) / benchmark.stats.stats.median


def test_baseline_identity(benchmark, setup):
    name, side = setup[0], setup[1]
    benchmark.group = f"video {name}"
    timed(benchmark, f"{source(side, setup[6])} ! identity ! fakesink sync=false")


def test_ovfast_infer(paired, benchmark, setup, ceiling):
    name, side, path = setup[0], setup[1], setup[2]
    benchmark.group = f"video {name}"
    config = ",".join(f"{k}={v}" for k, v in CONFIG.items())
    description = f"{source(side, setup[6])} ! ovfastinfer model={path} jobs={JOBS} config={config} ! fakesink sync=false"
    paired(play, lambda: c_loop(ceiling, setup), rounds=7, setup=lambda: prepare(description))
    fps(benchmark)


def test_c_loop(benchmark, setup, ceiling):
    benchmark.group = f"video {setup[0]}"
    benchmark.pedantic(c_loop, args=(ceiling, setup), rounds=7, warmup_rounds=1)
    fps(benchmark)


def probe_with(compiled, side):
    def probe(pad, info):
        buf = info.get_buffer()
        ok, mapping = buf.map(Gst.MapFlags.READ)
        try:
            frame = np.ndarray((1, side, side, 3), np.uint8, mapping.data)
            compiled(frame)
        finally:
            buf.unmap(mapping)
        return Gst.PadProbeReturn.OK
    return probe


@pytest.mark.parametrize("library", ["openvino", "ovfast"])
def test_probe(benchmark, setup, library):
    """A Python pad probe per frame: openvino's or ovfast's compiled(frame) (request name: <library>_probe)."""
    name, side, framed_path = setup[0], setup[1], setup[3]
    benchmark.group = f"video {name}"
    benchmark.name = f"test_{library}_probe"
    lib = openvino if library == "openvino" else ovfast
    compiled = lib.Core().compile_model(framed_path, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    timed(benchmark, f"{source(side, setup[6])} ! identity name=probe ! fakesink sync=false", probe_with(compiled, side))


# --- regions: detection ! classification per region, against the same in a Python probe with openvino -------
@pytest.fixture(scope="module")
def region_models(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("regions"))
    det, cls = os.path.join(folder, "det.xml"), os.path.join(folder, "cls.xml")
    openvino.save_model(detector(64, 64), det, compress_to_fp16=False)   # tests/test_video_regions.py's models
    openvino.save_model(classifier(), cls, compress_to_fp16=False)
    return det, cls


REGION_SRC = f"videotestsrc num-buffers={FRAMES} pattern=white ! {caps(64)}"   # all three boxes on every frame


def test_ovfast_regions(benchmark, region_models):
    """ovfastinfer detection ! ovfastinfer region=roi classification (3 regions a frame), the elements'
    default config (THROUGHPUT for their jobs)."""
    det, cls = region_models
    benchmark.group = "video regions: detection ! classification per region"
    timed(benchmark, f"{REGION_SRC} ! ovfastinfer model={det} output=detection threshold=0.2 jobs={JOBS} ! "
                     f"ovfastinfer model={cls} region=roi output=classification jobs={JOBS} ! fakesink sync=false")


@pytest.mark.parametrize("hint", ["LATENCY", "THROUGHPUT"])
def test_openvino_regions_probe(benchmark, region_models, hint):
    """The same in a Python pad probe with openvino: detector, boxes, numpy crops, classifier per crop (resized
    inside a PrePostProcessor model taking crops of any size). Both hints: LATENCY is openvino's default and
    what one synchronous call at a time wants; THROUGHPUT runs each call on one thread, which can be
    faster for models this small. ovfastinfer is compared with the faster of the two."""
    det, cls = region_models
    benchmark.group = "video regions: detection ! classification per region"
    core = openvino.Core()
    config = {"PERFORMANCE_HINT": hint}
    detector = core.compile_model(det, "CPU", config)
    crops, _ = ovfast.gst.frame_model(core.read_model(cls), "BGR", 16, 16, None, None, dynamic=True)
    classifier = core.compile_model(crops, "CPU", config)

    def probe(pad, info):
        buf = info.get_buffer()
        ok, mapping = buf.map(Gst.MapFlags.READ)
        try:
            frame = np.ndarray((64, 64, 3), np.uint8, mapping.data)
            boxes = detector(frame[None])[0][0, 0]
            for _, label, conf, x0, y0, x1, y1 in boxes:
                if conf < 0.2:
                    continue
                px, py = int(x0 * 64 + 0.5), int(y0 * 64 + 0.5)
                crop = np.ascontiguousarray(frame[py:int(y1 * 64 + 0.5), px:int(x1 * 64 + 0.5)])
                scores = classifier(crop[None])[0]
                int(np.argmax(scores))
        finally:
            buf.unmap(mapping)
        return Gst.PadProbeReturn.OK

    timed(benchmark, f"{REGION_SRC} ! identity name=probe ! fakesink sync=false", probe)


# --- region crops: each region through the cheaper crop, against each crop for every region ---------------
# The detector's three boxes cover ~20%, 100% and ~14% of the frame; a 64x64 classifier takes the sampled
# crop from 6 x 4,096 pixels (ovfast.gst._model.crop_plan). At 320x240 one region of three is that big, at
# 1280x720 all three.
CROP_FRAMES = {"320x240": (320, 240, 1000), "1280x720": (1280, 720, 300)}
ONE_CROP = {"sliced": [("sliced", 0)], "sampled": [("sampled", 0)]}


@pytest.fixture(scope="module", params=CROP_FRAMES)
def crop_pipeline(request, tmp_path_factory):
    width, height, frames = CROP_FRAMES[request.param]
    folder = str(tmp_path_factory.mktemp("crops"))
    det, cls = os.path.join(folder, "det.xml"), os.path.join(folder, "cls.xml")
    openvino.save_model(detector(height, width), det, compress_to_fp16=False)
    openvino.save_model(classifier(64), cls, compress_to_fp16=False)
    description = (f"videotestsrc num-buffers={frames} pattern=white ! video/x-raw,format=BGR,width={width},"
                   f"height={height},framerate=1000/1 ! ovfastinfer model={det} output=detection threshold=0.2 "
                   f"jobs={JOBS} ! ovfastinfer model={cls} region=roi output=classification jobs={JOBS} ! "
                   f"fakesink sync=false")
    return request.param, description, frames


def test_ovfast_region_crops_per_region(benchmark, crop_pipeline):
    name, description, frames = crop_pipeline
    benchmark.group = f"video region crops, {name}: detection ! 64x64 classifier per region"
    timed(benchmark, description, frames=frames)


@pytest.mark.parametrize("crop", ONE_CROP)
def test_baseline_one_crop_for_every_region(benchmark, crop_pipeline, crop, monkeypatch):
    name, description, frames = crop_pipeline
    benchmark.group = f"video region crops, {name}: detection ! 64x64 classifier per region"
    monkeypatch.setattr(ovfast.gst._model, "crop_plan", lambda model: ONE_CROP[crop])
    timed(benchmark, description, frames=frames)


# --- ovfastpython: a trivial Python function per frame ------------------------------------------------------
TRIVIAL = "def process_frame(frame):\n    return True\n"


@pytest.fixture(scope="module")
def tiny_and_trivial(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("python"))
    model, module = os.path.join(folder, "tiny.xml"), os.path.join(folder, "trivial.py")
    openvino.save_model(tiny_model(64), model, compress_to_fp16=False)
    with open(module, "w") as f:
        f.write(TRIVIAL)
    return model, module


# Three cases. idle: nothing else in the process wants the GIL, inference on every frame. idle, interval=4:
# inference on every 4th frame (DL Streamer's inference-interval; a tracker fills the frames between), so
# the Python step's own cost shows; more frames, as they go 4-5 times faster. busy: another thread runs
# Python all the time, as in an application serving requests while the pipeline runs; a per-frame GIL
# acquisition then waits for that thread to let go (up to sys.getswitchinterval(), 5 ms), so the probe
# runs at ~100 FPS: 300 frames keep its round near three seconds. no inference: the Python step's own cost,
# the source straight into it (the "alone" row is then the bare source).
APPS = {"idle": (FRAMES, play, 1), "idle, interval=4": (5 * FRAMES, play, 4), "busy": (300, play_beside_python, 1),
        "idle, no inference": (10 * FRAMES, play, None)}


def py_group(app):
    return f"video python, {app}: ovfastinfer (tiny 64x64) then a trivial Python function per frame"


def py_source(model, app):
    frames, _, interval = APPS[app]
    if interval is None:
        return source(64, "black", frames)
    return f"{source(64, 'black', frames)} ! ovfastinfer model={model} jobs={JOBS} interval={interval}"


@pytest.mark.parametrize("app", APPS)
def test_ovfast_infer_alone(benchmark, tiny_and_trivial, app):
    model, _ = tiny_and_trivial
    benchmark.group = py_group(app)
    frames, target, _ = APPS[app]
    timed(benchmark, f"{py_source(model, app)} ! fakesink sync=false", frames=frames, target=target)


@pytest.mark.parametrize("app", APPS)
def test_ovfast_infer_then_ovfastpython(benchmark, tiny_and_trivial, app):
    model, module = tiny_and_trivial
    benchmark.group = py_group(app)
    frames, target, _ = APPS[app]
    timed(benchmark, f"{py_source(model, app)} ! ovfastpython module={module} max-inflight=32 ! fakesink sync=false",
          frames=frames, target=target)


@pytest.mark.parametrize("app", APPS)
def test_baseline_gstgva_probe(benchmark, tiny_and_trivial, app):
    """A pad probe calling the same function per frame through gstgva-style ctypes access (what DL Streamer's
    gvapython does on the streaming thread): a frame object built from the buffer's address and the caps'
    GstVideoInfo, its metadata walked with ctypes calls into libgstreamer."""
    import ctypes

    from gi.repository import GstVideo

    model, module = tiny_and_trivial
    benchmark.group = py_group(app)
    frames, target, _ = APPS[app]
    libgst = ctypes.CDLL("libgstreamer-1.0.so.0")
    libgst.gst_buffer_iterate_meta.restype = ctypes.c_void_p
    libgst.gst_buffer_iterate_meta.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    namespace = {}
    exec(TRIVIAL, namespace)
    process_frame = namespace["process_frame"]

    class CtypesFrame:
        def __init__(self, buffer, caps):
            self.buffer = ctypes.c_void_p.from_address(id(buffer) + object.__basicsize__).value
            self.video_info = GstVideo.VideoInfo.new_from_caps(caps)
            state = ctypes.c_void_p()
            self.metas = []
            while meta := libgst.gst_buffer_iterate_meta(self.buffer, ctypes.byref(state)):
                self.metas.append(meta)

    def probe(pad, info):
        process_frame(CtypesFrame(info.get_buffer(), pad.get_current_caps()))
        return Gst.PadProbeReturn.OK

    timed(benchmark, f"{py_source(model, app)} ! identity name=probe ! fakesink sync=false", probe, frames=frames,
          target=target)


# --- 8 streams: one model-instance-id with batch-size=8 against 8 instances of their own ---------------------
STREAMS = 8
STREAM_FRAMES = FRAMES // STREAMS
_streams_fps = {}


@pytest.fixture(scope="module", params=list(MODELS))
def streams_model(request, tmp_path_factory):
    build, side = MODELS[request.param]
    path = os.path.join(str(tmp_path_factory.mktemp("streams")), "model.xml")
    openvino.save_model(build(), path, compress_to_fp16=False)
    return request.param, side, path


def streams(side, element):
    """STREAMS branches in one pipeline, each videotestsrc (black) -> element -> fakesink."""
    return " ".join(f"{source(side, 'black', STREAM_FRAMES)} ! {element} ! fakesink sync=false"
                    for _ in range(STREAMS))


@pytest.mark.parametrize("shared", [False, True], ids=["separate", "shared"])
def test_ovfast_infer_8_streams(benchmark, streams_model, shared):
    """8 streams: 8 ovfastinfer with a model and jobs each, or one instance (model-instance-id) running them
    in batches of up to 8 (extra_info: fps, and on the shared run the ratio to the separate one)."""
    name, side, path = streams_model
    benchmark.group = f"video 8 streams {name}"
    config = ",".join(f"{k}={v}" for k, v in CONFIG.items())
    element = f"ovfastinfer model={path} jobs={JOBS} config={config}"
    if shared:
        element += f" model-instance-id=streams batch-size={STREAMS}"
    # prepare() prerolls one frame per stream: the rounds time the rest
    timed(benchmark, streams(side, element), rounds=5, frames=STREAMS * (STREAM_FRAMES - 1) + 1)
    if benchmark.stats is not None:
        _streams_fps[(name, shared)] = benchmark.extra_info["fps"]
        if shared and (name, False) in _streams_fps:
            benchmark.extra_info["ratio"] = _streams_fps[(name, True)] / _streams_fps[(name, False)]
