"""The web app under load, and the cost of reading a photo (groups ``web: ...``).

``web: latency under load``: ``perceptron serve`` (the real command, in its
own process, on a free port of 127.0.0.1) answers drawings as the page sends
them (280 x 280 PNG canvases) from 16 concurrent clients, each on its own
keep-alive connection: 400 requests (2000 with ``--full``), bounded by a
deadline. The record holds the median and 95th-percentile latency, the
throughput and the errors, which must be none. The clients run in this
process, the server in another, so they do not share an interpreter lock.

``web: read a 12 MP photo``: :func:`perceptron.preprocessing.preprocess_digit_image`
of a 4000 x 3000 photo-like image (a digit under a lighting gradient), as
JPEG and PNG, in a fresh process: the time, the RSS before (Python, NumPy,
SciPy, scikit-learn and Pillow loaded) and its high-water mark.
"""

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import harness as H  # noqa: E402

CLIENTS = 16
DEADLINE = 600.0  # seconds: the load test stops there, whatever is left
ROOT = Path(__file__).resolve().parents[1]


def drawings():
    """PNG bodies like the page's canvas: dark strokes on 280 x 280 white."""
    from PIL import Image, ImageDraw

    strokes = [[(70, 60), (210, 60), (120, 240)], [(140, 40), (140, 240)],
               [(80, 80), (200, 80), (80, 220), (200, 220)], [(90, 70), (190, 200)]]
    bodies = []
    for line in strokes:
        img = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(img).line(line, fill=17, width=22, joint="curve")
        buf = io.BytesIO()
        img.save(buf, "PNG")
        bodies.append(buf.getvalue())
    return bodies


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model_path, port):
    """``perceptron serve MODEL --port PORT`` of this checkout; waits until it answers."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "perceptron", "serve", str(model_path),
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"perceptron serve exited: {server.stderr.read()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/model")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("perceptron serve did not answer within 120 s")


def stop_server(server):
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=20)


def load(port, n_requests, bodies):
    """``n_requests`` POSTs from :data:`CLIENTS` threads; latencies and errors."""
    latencies, errors, lock = [], [], threading.Lock()
    counter = iter(range(n_requests))
    deadline = time.monotonic() + DEADLINE

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in counter:  # a shared iterator: each request index taken once
            if time.monotonic() > deadline:
                with lock:
                    errors.append("deadline")
                continue
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/predict?details=false", body=bodies[i % len(bodies)],
                             headers={"Content-Type": "image/png"})
                response = conn.getresponse()
                answer = json.loads(response.read())
                ok = response.status == 200 and abs(sum(answer["probabilities"]) - 1) < 1e-4
            except (OSError, ValueError, KeyError) as exc:
                ok, answer = False, repr(exc)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(str(answer)[:200])
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE + 120)
    return latencies, errors, time.perf_counter() - start


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from perceptron.web._quick_model import train_quick_model

    est, _ = train_quick_model(epochs=3, n_threads=1)  # the quick model's network
    return est.save(tmp_path_factory.mktemp("web") / "model.npz")


@pytest.mark.benchmark()  # one run of the whole load, timed by pytest-benchmark itself
@pytest.mark.parametrize("workload", ["page drawings"])
def test_latency_under_load(benchmark, pytestconfig, model_path, workload):
    n_requests = 2000 if pytestconfig.getoption("--full") else 400
    bodies = drawings()
    benchmark.group = "web: latency under load"
    port = free_port()
    server = start_server(model_path, port)
    try:
        latencies, errors, wall = benchmark.pedantic(load, args=(port, n_requests, bodies),
                                                     rounds=1)
    finally:
        stop_server(server)
    p50, p95 = np.percentile(latencies, [50, 95])
    benchmark.extra_info.update(
        work="POST /api/predict?details=false of 280x280 PNG drawings, the quick digits CNN",
        clients=CLIENTS, requests=len(latencies), errors=len(errors),
        p50_seconds=float(p50), p95_seconds=float(p95), max_seconds=float(max(latencies)),
        requests_per_second=len(latencies) / wall,
        timed="the whole load: every client's requests")
    assert errors == [], errors[:5]
    assert len(latencies) == n_requests


def photo(path, fmt):
    """A 4000 x 3000 photo-like picture: a dark "7" on paper lit from one side."""
    from PIL import Image, ImageDraw, ImageFilter

    h, w = 3000, 4000
    light = (235 - 140 * np.arange(w) / w)[None, :] - 25 * (np.arange(h) / h)[:, None]
    ink = Image.new("L", (w, h), 0)
    ImageDraw.Draw(ink).line([(1400, 800), (2600, 800), (1800, 2300)], fill=255, width=120,
                             joint="curve")
    ink = np.asarray(ink.filter(ImageFilter.GaussianBlur(4)), dtype=np.float32) / 255
    noise = np.random.default_rng(0).normal(0, 3, (h, w)).astype(np.float32)
    grey = light.astype(np.float32) * (1 - 0.75 * ink) + noise
    rgb = np.clip(np.stack([grey, grey * 0.97, grey * 0.9], -1), 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def read_child(path):
    """In a fresh process: preprocess ``path``; its time and memory as JSON."""
    import PIL.Image  # noqa: F401  (loaded before the RSS baseline, as in any program)

    from perceptron.preprocessing import preprocess_digit_image

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = H._status_mib("VmRSS")
    start = time.perf_counter()
    preprocess_digit_image(path)
    seconds = time.perf_counter() - start
    print(json.dumps({"read_seconds": seconds, "rss_before_mib": before,
                      "peak_rss_mib": H._status_mib("VmHWM")}))


@pytest.mark.benchmark()
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_read_a_12mp_photo(benchmark, tmp_path, fmt):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("measuring peak RSS needs Linux's /proc/self/clear_refs")
    path = tmp_path / f"photo.{fmt.lower()}"
    photo(path, fmt)
    code = (f"import sys; sys.path[:0] = {[str(ROOT / 'benchmarks'), str(ROOT)]!r}; "
            f"import test_bench_web as B; B.read_child({str(path)!r})")

    def child():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=300)
        if out.returncode:
            raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.splitlines()[-1])

    benchmark.group = "web: read a 12 MP photo"
    result = benchmark.pedantic(child, rounds=1)
    benchmark.extra_info.update(format=fmt, megapixels=12.0, **result,
                                increase_mib=result["peak_rss_mib"] - result["rss_before_mib"],
                                timed="the whole child process: start, imports, the read")
