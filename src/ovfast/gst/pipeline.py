"""`python -m ovfast pipeline "<gst-launch description>"`: runs a pipeline the way gst-launch-1.0 does, with
ovfast's elements registered. Ctrl-C sends EOS so every element finishes its frames, then stops; at the end
it prints how many frames each sink took and at what rate."""

import signal
import sys
import time

from gi.repository import GLib, Gst

import ovfast.gst

EOS_GRACE_S = 5.0


def _sink_pads(pipeline):
    """The sink pads of the pipeline's sinks (elements with no source pads)."""
    pads = []
    it = pipeline.iterate_sinks()
    while True:
        res, element = it.next()
        if res != Gst.IteratorResult.OK:
            break
        for pad in element.sinkpads:
            pads.append((element.get_name(), pad))
    return pads


def _report(msg, err):
    """Prints the first error on the bus (the one that stopped the pipeline) with its debug text."""
    if msg is None:
        return
    error, debug = msg.parse_error()
    print(f"ovfast pipeline: error from {msg.src.get_name()}: {error.message}", file=err)
    if debug:
        print(f"  {debug.strip()}", file=err)


def run(description, out=sys.stdout, err=sys.stderr):
    """Runs the pipeline to EOS, an error or Ctrl-C. Returns the exit code (0, 1 on an error, 130 if
    interrupted)."""
    try:
        pipeline = Gst.parse_launch(description)
    except GLib.Error as exc:
        print(f"ovfast pipeline: error: {exc.message}", file=err)
        return 2
    counters = [(name, ovfast.gst.FrameCounter(pad)) for name, pad in _sink_pads(pipeline)]
    bus = pipeline.get_bus()
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *a: interrupted.append(time.monotonic()))
    code = 0
    start = time.monotonic()
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            code = 1            # why is on the bus
            _report(bus.pop_filtered(Gst.MessageType.ERROR), err)
        eos_sent = None
        while code == 0:
            if interrupted and eos_sent is None:
                print("ovfast pipeline: interrupted, finishing the frames in flight (Ctrl-C again to stop now)",
                      file=err)
                pipeline.send_event(Gst.Event.new_eos())
                eos_sent = time.monotonic()
            if eos_sent is not None and (len(interrupted) > 1 or time.monotonic() - eos_sent > EOS_GRACE_S):
                code = 130
                break
            msg = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ERROR:
                _report(msg, err)
                code = 1
            else:
                break   # EOS, also after Ctrl-C: every frame in flight made it out
    finally:
        elapsed = time.monotonic() - start
        pipeline.set_state(Gst.State.NULL)
        signal.signal(signal.SIGINT, previous)
    for name, counter in counters:
        counter.remove()
        fps = counter.count / elapsed if elapsed > 0 else 0.0
        print(f"{name}: {counter.count} frames in {elapsed:.2f} s, {fps:.1f} FPS", file=out)
    return code


def main(args):
    return run(" ".join(args.description))
