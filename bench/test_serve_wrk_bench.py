"""test_serve_bench.py's 32-client cells with wrk as the load: a C load generator that leaves the servers
more of the two cores than serve_load.py's aiohttp clients, which take about one of them (a stand-in for
clients on machines of their own, as in production).

    apt-get install wrk      # Debian's package
    pytest bench/test_serve_wrk_bench.py --benchmark-group-by=group

Each round is wrk (one thread, 32 keep-alive connections) sending one of the cell's requests for SECONDS;
every answer must be a 200 with the size of the answer checked before. wrk runs for a duration, not a count,
so a round's time says nothing: the summary's table gives wrk's requests/s, p50 and p99 (medians of the
rounds). The servers
are test_serve_bench.py's, and before its rounds each answers a few hundred requests through serve_load.py,
which checks every one against openvino. The baseline app's round runs just before each other round (the
summary's "paired" ratio). Target (issue 26): ovfast serve at 3x the baseline app with a p99 no worse.
"""

import json
import re
import shutil
import statistics
import subprocess

import pytest

from serve_load import encode, run_load
from test_serve_bench import MODELS, Servers, wire_of

CONNECTIONS = 32
SECONDS = 4
ROUNDS = 5

# wrk's script: one request body from a file; an answer that is not a 200 of the expected size counts as
# wrong
SCRIPT = """
local f = assert(io.open(%(body)s, "rb")); local body = f:read("*all"); f:close()
wrk.method = "POST"; wrk.body = body
%(headers)s
wrong = 0
threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function() return wrk.format(nil, %(path)s) end
response = function(status, headers, body)
  if status ~= 200 or #body ~= %(size)d then wrong = wrong + 1 end
end
done = function(summary, latency, requests)
  local wrongs = 0
  for _, thread in ipairs(threads) do wrongs = wrongs + thread:get("wrong") end
  io.write(string.format("ovfast-wrk answered=%%d seconds=%%.6f wrong=%%d p50_us=%%d p99_us=%%d\\n",
                         summary.requests, summary.duration / 1e6, wrongs, latency:percentile(50),
                         latency:percentile(99)))
end
"""


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    if shutil.which("wrk") is None:
        pytest.fail("this bench needs wrk on PATH (Debian: apt-get install wrk)")
    s = Servers(str(tmp_path_factory.mktemp("serve_wrk")))
    yield s
    s.close()


@pytest.fixture(scope="module", params=[(m, f) for m in MODELS for f in ("binary", "json")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def cell(request):
    return request.param


def wrk_round(url, script):
    """One wrk run: (requests/s, p50 s, p99 s). Fails on a wrong answer or a socket error."""
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "30s", "-s", script, url],
                         capture_output=True, text=True, timeout=SECONDS + 60)
    assert out.returncode == 0, out.stderr
    m = re.search(r"ovfast-wrk answered=(\d+) seconds=([\d.]+) wrong=(\d+) p50_us=(\d+) p99_us=(\d+)", out.stdout)
    assert m, out.stdout
    assert m.group(3) == "0" and "Non-2xx" not in out.stdout and "Socket errors" not in out.stdout, out.stdout
    return int(m.group(1)) / float(m.group(2)), int(m.group(4)) / 1e6, int(m.group(5)) / 1e6


def measure(benchmark, servers, server, cell, tmp_path):
    model, fmt = cell
    benchmark.group = f"{model} {fmt}, {CONNECTIONS} connections (wrk)"

    def rounds_of(server, results):
        url = servers.get(server, model)
        chosen = wire_of(server, model, fmt)
        cases = encode(chosen, *servers.oracle)
        load = run_load(url, chosen, cases, CONNECTIONS, requests=256,
                        check_every=0 if server == "ceiling_no_inference" else 1)   # it answers zeros
        assert not load.first_failure, f"{server}: {load.first_failure}"
        body, headers, _ = cases[0]
        body_path = tmp_path / f"{server}.body"
        body_path.write_bytes(body)
        script = tmp_path / f"{server}.lua"
        script.write_text(SCRIPT % {          # the same request each time: every answer has the checked one's size
            "body": json.dumps(str(body_path)), "path": json.dumps(chosen.path),
            "size": len(_answer(url + chosen.path, body, headers)),
            "headers": "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())})
        return lambda: results.append(wrk_round(url, str(script)))

    ours, base = [], []
    one_round = rounds_of(server, ours)
    baseline_round = rounds_of("baseline_app", base) if server != "baseline_app" else None
    benchmark.pedantic(one_round, setup=baseline_round, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        fixed_duration=True, clients=CONNECTIONS, requests_per_s=statistics.median(r for r, _, _ in ours),
        p50_ms=statistics.median(p50 for _, p50, _ in ours) * 1e3,
        p99_ms=statistics.median(p99 for _, _, p99 in ours) * 1e3)
    if base:   # a round of the baseline app just before each: the median of the round-by-round ratios
        benchmark.extra_info["paired_c_ratio"] = statistics.median(o[0] / b[0] for o, b in zip(ours, base))
        benchmark.extra_info["paired_against"] = "the baseline app"


def _answer(url, body, headers):
    import urllib.request
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST"),
                                timeout=30) as r:
        assert r.status == 200
        return r.read()


def test_ovfast_serve(benchmark, servers, cell, tmp_path):
    measure(benchmark, servers, "ovfast_serve", cell, tmp_path)


def test_baseline_app(benchmark, servers, cell, tmp_path):
    measure(benchmark, servers, "baseline_app", cell, tmp_path)


def test_ceiling_no_inference(benchmark, servers, cell, tmp_path):
    measure(benchmark, servers, "ceiling_no_inference", cell, tmp_path)
