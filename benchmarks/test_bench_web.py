"""The web app under load, and the cost of reading a photo (groups ``web: ...``).

``web: latency under load``: ``perceptron serve`` (the command, in its own process, on a free
port of 127.0.0.1) answers 280 x 280 PNG drawings like the page's from 16 concurrent clients on
keep-alive connections, 400 requests (``--full``: 2000) within a deadline: the median, 95th
percentile and longest latency, the throughput, and the errors, which must be none.
``web: read a 12 MP photo``: ``preprocess_digit_image`` of a 4000 x 3000 photo-like image (a
digit under a lighting gradient), as JPEG and PNG, in a fresh process: the time, the RSS
before (Python, NumPy, SciPy, scikit-learn and Pillow loaded) and its high-water mark::

    python -m pytest benchmarks/test_bench_web.py --full --benchmark-json=web.json
"""

import contextlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import harness as H  # noqa: E402

CLIENTS = 16
DEADLINE = 600.0  # seconds: the load test stops there, whatever is left
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """``perceptron serve`` of this checkout with the quick digits CNN; its port once it answers."""
    from perceptron.web import quick_model

    home = tmp_path_factory.mktemp("web")
    model = quick_model(home, epochs=3, n_threads=1, log=lambda line: None)[0].save(home / "m.npz")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "perceptron", "serve", str(model), "--port", str(port)],
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # 120 s
            if server.poll() is not None:
                raise RuntimeError(f"perceptron serve exited: {server.stderr.read()[-2000:]}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/model")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("perceptron serve did not answer within 120 s")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def drawings():
    """PNG bodies like the page's canvas: dark strokes on 280 x 280 white."""
    from PIL import Image, ImageDraw

    bodies = []
    for line in ([(70, 60), (210, 60), (120, 240)], [(140, 40), (140, 240)],
                 [(80, 80), (200, 80), (80, 220), (200, 220)], [(90, 70), (190, 200)]):
        img, buf = Image.new("L", (280, 280), 255), io.BytesIO()
        ImageDraw.Draw(img).line(line, fill=17, width=22, joint="curve")
        img.save(buf, "PNG")
        bodies.append(buf.getvalue())
    return bodies


def load(port, n_requests, bodies):
    """``n_requests`` POSTs from :data:`CLIENTS` threads, one connection each: per request,
    ``(seconds or None, error or None)``; and the wall time."""
    local, deadline = threading.local(), time.monotonic() + DEADLINE

    def request(i):
        if time.monotonic() > deadline:
            return None, "deadline"
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start, error = time.perf_counter(), None
        try:
            local.conn.request("POST", "/api/predict?details=false",
                               body=bodies[i % len(bodies)], headers={"Content-Type": "image/png"})
            response = local.conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 200 or abs(sum(answer["probabilities"]) - 1) > 1e-4:
                error = str(answer)[:200]
        except (OSError, ValueError, KeyError) as exc:
            error = repr(exc)
            local.conn.close()
            del local.conn
        return time.perf_counter() - start, error

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(request, range(n_requests))), time.perf_counter() - start


def test_latency_under_load(benchmark, settings, port):
    n_requests = 2000 if settings.full else 400
    results, wall = load(port, n_requests, drawings())
    latencies, errors = [t for t, _ in results if t is not None], [e for _, e in results if e]
    p50, p95 = np.percentile(latencies, [50, 95])
    H.report(benchmark, "web: latency under load", [wall], clients=CLIENTS,
             work="POST /api/predict?details=false of 280x280 PNG drawings, the quick digits CNN",
             requests=len(latencies), errors=len(errors), p50_seconds=float(p50),
             p95_seconds=float(p95), max_seconds=max(latencies),
             requests_per_second=len(latencies) / wall)
    assert errors == [] and len(latencies) == n_requests, errors[:5]


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


def read_photo(path):
    """In a fresh process, Pillow loaded: the read's time and peak RSS."""
    import PIL.Image  # noqa: F401  (loaded before the RSS baseline, as in any program)

    from perceptron.preprocessing import preprocess_digit_image

    return H.peak_rss(preprocess_digit_image, path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_read_a_12mp_photo(benchmark, tmp_path, fmt):
    if H.RSS_SKIP:
        pytest.skip(H.RSS_SKIP)
    photo(tmp_path / f"photo.{fmt.lower()}", fmt)
    rss = H.in_child(read_photo, str(tmp_path / f"photo.{fmt.lower()}"), timeout=300)
    H.report(benchmark, "web: read a 12 MP photo", [rss.pop("seconds")], format=fmt,
             megapixels=12.0, **rss)
