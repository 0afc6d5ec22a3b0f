"""`python -m ovfast run`: a program, or a module, on ovfast's runtime without editing it (ovfast.switch).

    python -m ovfast run script.py [args]          # as `python script.py [args]`
    python -m ovfast run benchmark_app [args]      # a console script on PATH, by its name
    python -m ovfast run -m package.module [args]  # as `python -m package.module [args]`
    python -m ovfast run --check script.py [args]  # both ways, in two processes: same output? how fast?
"""

import importlib.util
import os
import runpy
import shutil
import subprocess
import sys
import time

from ovfast import switch


class RunError(Exception):
    """A program that cannot be started: one line, exit code 2."""


USAGE = """usage: ovfast run [--check] script.py [args ...]
       ovfast run [--check] command [args ...]     (a Python console script on PATH, e.g. benchmark_app)
       ovfast run [--check] -m module [args ...]

Runs a Python program (or module) so that its `import openvino`, and its libraries', give ovfast's
runtime; subprocesses it starts inherit it; OVFAST_DISABLE=1 runs it on openvino. As with python, what
follows the script or -m module is the program's own arguments.

  --check   run it on openvino and on ovfast, one process each, and compare what they print and their
            exit codes, with the time each took (exit code 0 when they agree, 1 when not)"""


def add_parser(sub):
    """Lists `run` in `ovfast --help`; its arguments are read by main(), as python reads its own."""
    return sub.add_parser("run", add_help=False, help="run a program or module with `import openvino` giving "
                                                      "ovfast's runtime (ovfast run --help)")


def main(argv):
    """`ovfast run` with its arguments (everything after "run")."""
    try:
        check, command = _parse(list(argv))
        if check:
            return check_command(command)
        return run(command)
    except RunError as e:
        print(f"ovfast run: error: {e}", file=sys.stderr)
        return 2


def _parse(argv):
    """(--check given, ["-m", module, *args] or [script, *args]); a typo fails before anything runs."""
    check = False
    while argv and argv[0] in ("--check", "-h", "--help"):
        if argv[0] != "--check":
            print(USAGE)
            raise SystemExit(0)
        check = True
        argv.pop(0)
    if argv and argv[0] == "-m":
        if len(argv) < 2:
            raise RunError("-m needs a module name (ovfast run -m package.module [args])")
        try:
            found = importlib.util.find_spec(argv[1]) is not None
        except (ImportError, ValueError):   # a parent package that is missing, or an empty name
            found = False
        if not found:
            raise RunError(f"no module named '{argv[1]}' (on {sys.executable})")
        return check, argv
    if not argv:
        raise RunError("name a script (ovfast run script.py [args]) or a module (ovfast run -m module [args])")
    if argv[0].startswith("-"):
        raise RunError(f"unknown option '{argv[0]}' (ovfast run --help)")
    if not os.path.isfile(argv[0]):
        argv[0] = _console_script(argv[0])
    return check, argv


def _console_script(name):
    """A command on PATH that is a Python script (a console script such as benchmark_app), by its path."""
    path = shutil.which(name) if os.sep not in name else None
    if path is None:
        raise RunError(f"no such script: '{name}' (neither a file nor a command on PATH)")
    with open(path, "rb") as f:
        first = f.readline(200)
    if not (first.startswith(b"#!") and b"python" in first):
        raise RunError(f"'{name}' is {path}, which is not a Python script: ovfast run runs Python programs")
    return path


def run(command):
    """Runs the command in this process with the switch on (its children inherit OVFAST_RUN=1)."""
    if not switch.install():
        print("ovfast run: OVFAST_DISABLE=1, so this runs on openvino", file=sys.stderr)
    else:
        os.environ["OVFAST_RUN"] = "1"
    if command[0] == "-m":
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(command)
        sys.path[0] = os.path.dirname(os.path.abspath(command[0]))
        runpy.run_path(command[0], run_name="__main__")
    return 0


def check_command(command):
    """Runs the command on openvino, then on ovfast; 0 when both print the same and exit alike."""
    plain_env = {k: v for k, v in os.environ.items() if k != "OVFAST_RUN"}
    results = {}
    for name, argv, env in (("openvino", [sys.executable, *command], plain_env),
                            ("ovfast", [sys.executable, "-m", "ovfast", "run", *command], dict(os.environ))):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, errors="replace")
        results[name] = (done, time.perf_counter() - start)
    (ov, ov_s), (fast, fast_s) = results["openvino"], results["ovfast"]
    print(f"ovfast run --check: openvino exited {ov.returncode} after {ov_s:.2f} s; ovfast exited "
          f"{fast.returncode} after {fast_s:.2f} s ({ov_s / fast_s:.2f}x, whole processes)")
    for name, (done, _) in results.items():
        if done.returncode != 0:
            print(f"--- {name}'s stderr (last lines):\n" + "\n".join(done.stderr.splitlines()[-15:]))
    same = ov.stdout == fast.stdout and ov.returncode == fast.returncode
    if ov.returncode != fast.returncode:
        print(f"exit codes differ: openvino {ov.returncode}, ovfast {fast.returncode}")
    if ov.stdout == fast.stdout:
        print(f"same output: {len(ov.stdout.splitlines())} lines")
    else:
        a, b = ov.stdout.splitlines(), fast.stdout.splitlines()
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print(f"output differs at line {at + 1} (openvino printed {len(a)} lines, ovfast {len(b)}):")
        print(f"  openvino: {a[at] if at < len(a) else '(nothing more)'}")
        print(f"  ovfast:   {b[at] if at < len(b) else '(nothing more)'}")
    return 0 if same else 1
