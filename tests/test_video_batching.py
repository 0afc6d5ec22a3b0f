"""model-instance-id, batch-size and batch-timeout (DL Streamer's names; batch-timeout is ours): streams
sharing one compiled model, their frames run in batches across streams.

The oracle is the same streams through elements of their own (one frame at a time, the path tested in
test_video.py). Batched and lone runs are two compilations of one f32 graph (a batch of 1..N and a batch of
1), whose kernels may add in another order: tensors are compared within rtol 1e-5, atol 1e-6, as
test_video.py compares the element with a compilation of its own."""

import time

import numpy as np
import pytest

from test_gst_plugin import check_frames, env, plugin_path, run, saver, tool  # noqa: F401 (fixtures)
from test_gst_plugin import H as PLUGIN_H, SOURCE as PLUGIN_SOURCE, W as PLUGIN_W
from test_video import F32, Gst, VideoFrame, bus_error, conv_net, pipeline, save

import ovfast.gst
from ovfast.gst import _instances, _model

SIDE = 32
CAPS = f"video/x-raw,format=BGR,width={SIDE},height={SIDE},framerate=30/1"
FRAMES = [40, 47, 53, 60]           # each stream its own length: a batch goes on after a stream ends


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    model = conv_net(SIDE, SIDE)
    return model, save(model, tmp_path_factory.mktemp("net"))


def branches(path, extra, counts=FRAMES, caps=CAPS):
    """One pipeline of a branch per stream: videotestsrc (pattern i) -> ovfastinfer -> appsink s<i>."""
    return " ".join(f"videotestsrc num-buffers={n} pattern={i} ! {caps} ! ovfastinfer model={path} {F32} {extra} ! "
                    f"appsink name=s{i} sync=false max-buffers=100000" for i, n in enumerate(counts))


def collect(p, n, timeout=60, before_stop=None):
    """Plays p and pulls every appsink s0..s<n-1> (with a timeout, round robin) until each is at EOS; returns
    {i: [(pts, {tensor name: data})]} in arrival order. before_stop(p) runs while it still plays."""
    sinks = [p.get_by_name(f"s{i}") for i in range(n)]
    out = {i: [] for i in range(n)}
    assert p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
    deadline = time.monotonic() + timeout
    try:
        while not all(s.get_property("eos") for s in sinks):
            assert time.monotonic() < deadline, f"not at EOS within {timeout} s: {[len(v) for v in out.values()]}"
            error = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
            assert error is None, error.parse_error()[0].message
            for i, sink in enumerate(sinks):
                while (sample := sink.emit("try-pull-sample", 2 * Gst.MSECOND)) is not None:
                    with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
                        out[i].append((f.pts, {t.layer_name(): t.array().copy() for t in f.tensors()}))
        if before_stop is not None:
            before_stop(p)
    finally:
        p.set_state(Gst.State.NULL)
    return out


def assert_same_streams(got, want):
    for i in want:
        assert len(got[i]) == len(want[i]) == FRAMES[i]
        for k, ((pts, tensors), (want_pts, want_tensors)) in enumerate(zip(got[i], want[i])):
            assert pts == want_pts == k * Gst.SECOND // 30       # in order within the stream
            assert set(tensors) == set(want_tensors) == {"features", "means"}
            for name in tensors:
                assert tensors[name].shape == want_tensors[name].shape
                np.testing.assert_allclose(tensors[name], want_tensors[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("timeout", [0, 20])
def test_four_streams_on_one_instance_match_four_instances_and_compile_once(net, timeout):
    _, path = net
    compiled = _model.sessions_compiled
    want = collect(pipeline(branches(path, "")), 4)
    assert _model.sessions_compiled - compiled == 4

    figures = {}

    def stats(p):
        figures.update(_instances._instances["four"].session.batcher.stats())

    compiled = _model.sessions_compiled
    got = collect(pipeline(branches(path, f"model-instance-id=four batch-size=4 batch-timeout={timeout}")), 4,
                  before_stop=stats)
    assert _model.sessions_compiled - compiled == 1
    assert_same_streams(got, want)
    assert figures["items"] == sum(FRAMES)
    if timeout:     # a batch waits up to 20 ms for 4 frames: the streams fill it
        assert figures["mean_batch_size"] > 2, figures
    assert _instances._instances == {}     # the last element closed the instance and its batcher


def test_an_instance_without_batches_shares_one_pool(net):
    _, path = net
    want = collect(pipeline(branches(path, "")), 4)
    compiled = _model.sessions_compiled
    got = collect(pipeline(branches(path, "model-instance-id=pool")), 4)
    assert _model.sessions_compiled - compiled == 1
    assert_same_streams(got, want)


def test_an_element_without_a_model_takes_the_instances(net):
    _, path = net
    description = (f"videotestsrc num-buffers=30 pattern=ball ! {CAPS} ! ovfastinfer model-instance-id=taker ! "
                   f"appsink name=s0 sync=false max-buffers=100000 "
                   f"videotestsrc num-buffers=30 pattern=snow ! {CAPS} ! ovfastinfer model={path} {F32} "
                   f"model-instance-id=taker batch-size=2 ! appsink name=s1 sync=false max-buffers=100000")
    got = collect(pipeline(description), 2)
    want = collect(pipeline(f"videotestsrc num-buffers=30 pattern=ball ! {CAPS} ! ovfastinfer model={path} {F32} ! "
                            f"appsink name=s0 sync=false max-buffers=100000"), 1)
    assert len(got[0]) == len(got[1]) == 30
    for (pts, tensors), (want_pts, want_tensors) in zip(got[0], want[0]):
        assert pts == want_pts
        np.testing.assert_allclose(tensors["features"], want_tensors["features"], rtol=1e-5, atol=1e-6)


def test_a_stream_set_to_null_leaves_the_others_running(net):
    _, path = net
    n = 200
    pipelines, counters = [], []
    compiled = _model.sessions_compiled
    for i in range(4):   # live sources at 400 frames/s: the streams are still running when one stops
        p = pipeline(f"videotestsrc is-live=true num-buffers={n} pattern={i} ! video/x-raw,format=BGR,width={SIDE},"
                     f"height={SIDE},framerate=400/1 ! ovfastinfer model={path} {F32} model-instance-id=stop "
                     f"batch-size=4 batch-timeout=5 ! fakesink name=sink sync=false")
        counters.append(ovfast.gst.FrameCounter(p.get_by_name("sink").get_static_pad("sink")))
        pipelines.append(p)
    try:
        for p in pipelines:
            assert p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
        deadline = time.monotonic() + 30
        while counters[0].count < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert pipelines[0].set_state(Gst.State.NULL) == Gst.StateChangeReturn.SUCCESS
        assert counters[1].count < n     # still running
        for p in pipelines[1:]:
            msg = p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()
        assert [c.count for c in counters[1:]] == [n] * 3
        # back to PLAYING: it joins the instance the others still hold, and runs to its end
        first = counters[0].count
        assert pipelines[0].set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
        msg = pipelines[0].get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()
        assert counters[0].count - first == n      # from the start again
        assert _model.sessions_compiled - compiled == 1
    finally:
        for p in pipelines:
            p.set_state(Gst.State.NULL)
    assert _instances._instances == {}


# --- refused -------------------------------------------------------------------------------------------------
def test_other_caps_on_a_shared_instance_are_refused(net):
    _, path = net
    other = f"video/x-raw,format=BGR,width={SIDE * 2},height={SIDE},framerate=30/1"
    error = bus_error(f"videotestsrc num-buffers=200 ! {CAPS} ! ovfastinfer model={path} model-instance-id=caps ! "
                      f"fakesink videotestsrc num-buffers=200 ! {other} ! ovfastinfer model={path} "
                      f"model-instance-id=caps ! fakesink")
    assert error is not None and "model-instance-id='caps' is compiled for BGR" in error
    assert "take the same caps" in error and f"BGR {SIDE * 2}x{SIDE}" in error
    assert _instances._instances == {}


@pytest.mark.parametrize("theirs, expected", [   # either element may open first: both values are named
    ("device=AUTO", ["whose device is", "sets device=", "'CPU'", "'AUTO'"]),
    ("batch-size=2", ["whose batch-size is", "sets batch-size=", "4", "2"]),
    ("labels-file=cat,dog", ["whose labels (labels-file) is", "sets labels=", "'cat,dog'", "None"]),
    ("model=OTHER", ["whose model is", "sets model=", "m.xml", "other.xml"]),
])
def test_other_settings_on_a_shared_instance_are_refused(net, tmp_path, theirs, expected):
    model, path = net
    theirs = theirs.replace("OTHER", save(model, tmp_path, "other"))
    base = f"ovfastinfer model={path} device=CPU batch-size=4 model-instance-id=mixed"
    error = bus_error(f"videotestsrc num-buffers=5 ! {CAPS} ! {base} ! fakesink "
                      f"videotestsrc num-buffers=5 ! {CAPS} ! {base} {theirs} ! fakesink")
    assert error is not None and "model-instance-id='mixed' is shared with an element" in error
    assert all(fragment in error for fragment in expected), error
    assert _instances._instances == {}


def test_batches_of_regions_are_refused(net):
    _, path = net
    error = bus_error(f"videotestsrc num-buffers=5 ! {CAPS} ! ovfastclassify model={path} batch-size=2 ! fakesink")
    assert error is not None and "batch-size=2 runs whole frames in batches, but region=roi" in error


def test_an_instance_with_no_model_is_refused():
    error = bus_error(f"videotestsrc num-buffers=5 ! {CAPS} ! ovfastinfer model-instance-id=nobody ! fakesink")
    assert error is not None and "no model: no element with model-instance-id='nobody' has one" in error
    assert _instances._instances == {}


@pytest.mark.parametrize("name", ["ovfastinfer", "ovfastdetect", "ovfastclassify"])
def test_the_properties_are_dl_streamers(name):
    element = Gst.ElementFactory.make(name)
    instance, batch, timeout = (element.find_property(p) for p in ("model-instance-id", "batch-size",
                                                                   "batch-timeout"))
    assert instance.value_type == Gst.ElementFactory.make("ovfastinfer").find_property("model").value_type
    assert instance.default_value is None
    # gva_base_inference.cpp: g_param_spec_uint("batch-size", ..., 0, 1024, 0, ...)
    assert (batch.value_type.name, batch.minimum, batch.maximum, batch.default_value) == ("guint", 0, 1024, 0)
    assert (timeout.value_type.name, timeout.default_value) == ("guint", 0)


def test_gst_launch_shares_an_instance_across_branches(env, net, tmp_path):  # noqa: F811
    model = conv_net(PLUGIN_H, PLUGIN_W)
    path = save(model, tmp_path)
    module, frames = saver(tmp_path)
    other = PLUGIN_SOURCE.replace("pattern=ball", "pattern=snow")
    line = (f"{PLUGIN_SOURCE} ! ovfastinfer model={path} model-instance-id=cams batch-size=2 batch-timeout=10 "
            f"config=INFERENCE_PRECISION_HINT=f32 ! ovfastpython module={module} ! fakesink "
            f"{other} ! ovfastinfer model-instance-id=cams ! fakesink")
    out = run([tool("gst-launch-1.0"), "-q", *line.split()], env)
    assert out.returncode == 0, out.stderr[-4000:]
    check_frames(model, frames)


def test_regions_share_an_instance_one_at_a_time(tmp_path):
    """region=roi (ovfastclassify) with a model-instance-id: one classifier compiled for both streams, its
    regions run one at a time (batch-size above 1 is refused there)."""
    from test_video_regions import classifier, detector

    det, cls = save(detector(64, 64), tmp_path, "det"), save(classifier(), tmp_path, "cls")
    branch = (f"videotestsrc num-buffers=30 pattern=white ! video/x-raw,format=BGR,width=64,height=64 ! "
              f"ovfastdetect model={det} ! ovfastclassify model={cls} model-instance-id=classes ! fakesink")
    compiled = _model.sessions_compiled
    assert bus_error(f"{branch} {branch}") is None       # EOS
    assert _model.sessions_compiled - compiled == 3       # a detector per stream, one classifier
    assert _instances._instances == {}
