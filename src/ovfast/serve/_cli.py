"""`python -m ovfast serve MODEL ...`: create_app under uvicorn. Prints `listening on http://HOST:PORT` once
ready; SIGTERM or SIGINT stops taking connections, answers the requests already taken, closes the
batchers and exits 0."""

import argparse
import contextlib
import gc
import os
import signal
import socket
import sys

DESCRIPTION = ("Serves models over the KServe v2 REST protocol (JSON and binary tensors; tritonclient.http "
               "works unchanged), each request's rows batched with others' by a DynamicBatcher; Prometheus "
               "metrics at /metrics.")


def add_arguments(p):
    p.add_argument("model", nargs="+", help="a model file (.xml, .onnx, ...) or a model repository folder "
                                             "(REPO/<name>/<version>/model.xml); several may be given")
    p.add_argument("--name", help="the name to serve a single MODEL under (default: its file's stem, or for a "
                                  "repository its folders' names)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one)")
    p.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    p.add_argument("--max-batch-size", type=int, default=16, help="rows in a batch at most (default 16)")
    p.add_argument("--max-delay-us", type=int, default=500,
                   help="how long a row waits for others to fill its batch (default 500)")
    p.add_argument("--max-body-bytes", type=int, default=64 << 20,
                   help="largest request body taken, in bytes (default 64 MiB)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="an OpenVINO property for compile_model, e.g. PERFORMANCE_HINT=THROUGHPUT (repeatable); "
                        "on CPU, unless INFERENCE_NUM_THREADS, NUM_STREAMS or PERFORMANCE_HINT is given, "
                        "INFERENCE_NUM_THREADS is the CPUs less one (the event loop keeps one), unpinned")


def _config(pairs):
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--config takes KEY=VALUE, got {pair!r}")
        config[key] = value
    return config


# the properties that size OpenVINO's CPU threads: where one is given, the user sized them
_THREAD_KEYS = ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "PERFORMANCE_HINT")


def _sized(config, device):
    """config, with OpenVINO's CPU threads one fewer than this process's CPUs (at least 1) and not pinned,
    where it sizes none of them. Under load the event loop keeps a core busy; OpenVINO's default, every
    core, has its idle workers spin on that core between a small model's short runs, and a pinned worker
    cannot move off it."""
    if device.upper() != "CPU" or any(k in config for k in _THREAD_KEYS):
        return config
    return {"ENABLE_CPU_PINNING": "NO", **config,
            "INFERENCE_NUM_THREADS": str(max(1, len(os.sched_getaffinity(0)) - 1))}


def _serve(args):
    import uvicorn

    from ovfast.serve import create_app

    if args.name is not None and len(args.model) > 1:
        raise ValueError(f"--name names one model; {len(args.model)} were given")
    models = {args.name: args.model[0]} if args.name is not None else list(args.model)
    app = create_app(models, device=args.device, config=_sized(_config(args.config), args.device),
                     max_batch_size=args.max_batch_size, max_delay_us=args.max_delay_us,
                     max_body_bytes=args.max_body_bytes)
    try:
        sock = socket.create_server((args.host, args.port), reuse_port=False)
    except OSError as e:
        app.state.ovfast.close()
        raise OSError(f"cannot listen on {args.host}:{args.port}: {os.strerror(e.errno) if e.errno else e}") from None
    host, port = sock.getsockname()[:2]

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            # what exists now (models, modules, the app) lives as long as the server: kept out of the
            # collector's full passes, which otherwise stop the event loop for tens of ms under load
            gc.collect()
            gc.freeze()
            if self.started and not self.should_exit:
                print(f"listening on http://{host}:{port}", flush=True)

        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn's own re-raises the signal after its graceful stop: the exit code would be the signal's
            previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    from ovfast.serve._http import Protocol

    # one write() per answer (_http.py); no "server" header, which uvicorn checks and writes per answer
    config = uvicorn.Config(app, http=Protocol, lifespan="on", log_level="warning", access_log=False,
                            server_header=False, timeout_graceful_shutdown=None)
    try:
        Server(config).run(sockets=[sock])
    finally:
        app.state.ovfast.close()
    return 0


def main(argv):
    from ovfast.benchmark import UsageError, _Parser

    parser = _Parser(prog="ovfast serve", description=DESCRIPTION)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
        return _serve(args)
    except UsageError as e:
        print(f"ovfast serve: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"ovfast serve: error: {e}; install the server's packages: pip install 'ovfast[serve]'",
              file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError, TypeError) as e:
        print(f"ovfast serve: error: {str(e).removeprefix('ovfast serve: ')}", file=sys.stderr)
        return 1
