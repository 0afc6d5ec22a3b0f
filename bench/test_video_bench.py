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


def play(p):
    """Timed: from PLAYING to EOS (FRAMES - 1 frames after the prerolled one)."""
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()


def timed(benchmark, description, probe=None, rounds=5):
    benchmark.pedantic(play, setup=lambda: prepare(description, probe), rounds=rounds, warmup_rounds=1)
    fps(benchmark)


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


def fps(benchmark):
    if benchmark.stats is not None:
        benchmark.extra_info["fps"] = (FRAMES - 1) / benchmark.stats.stats.median


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
