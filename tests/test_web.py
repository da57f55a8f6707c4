"""The web app of ``perceptron serve``: the page, the JSON API, its limits, its threads.

Requests go through Starlette's test client; the concurrency checks go
through a real uvicorn server on 127.0.0.1 (a free port, in a thread, bounded
in time and requests, stopped by the test). The browser test is in
``test_web_browser.py``; the load test with latencies is
``benchmarks/test_bench_web.py``.
"""

import http.client
import io
import json
import os
import re
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from PIL import Image, ImageDraw  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from perceptron import MLPDigitClassifier  # noqa: E402
from perceptron.cli import main  # noqa: E402
from perceptron.datasets import load_digits  # noqa: E402
from perceptron.preprocessing import preprocess_digit_image  # noqa: E402
from perceptron.web import create_app, quick_model  # noqa: E402
from perceptron.web import _serve  # noqa: E402
from perceptron.web._app import WORKER_THREADS  # noqa: E402
from perceptron.web._predictor import Predictor  # noqa: E402
from perceptron.web._quick_model import QUICK_MODEL_PATH, train_quick_model  # noqa: E402
from perceptron.web._serve import running  # noqa: E402


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def cnn():
    est, _ = train_quick_model(epochs=3, n_threads=1)
    return est


@pytest.fixture(scope="module")
def mlp():
    X, y = load_digits(return_X_y=True)
    return MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0,
                              n_threads=1, tol=1.0).fit(X, y)


@pytest.fixture(scope="module")
def client(cnn):
    return TestClient(create_app(cnn, description="a test CNN"))


def drawing(strokes=(((140, 40), (140, 240)),), size=(280, 280), width=22):
    """A black drawing on a white canvas, as the page sends it."""
    img = Image.new("L", size, 255)
    pen = ImageDraw.Draw(img)
    for line in strokes:
        pen.line(line, fill=0, width=width, joint="curve")
    return img


def encode(img, fmt="PNG"):
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


SEVEN = (((70, 60), (210, 60), (120, 240)),)


def expected(est, img):
    """What the model answers for ``img`` outside the web: the reference."""
    x = preprocess_digit_image(img, size=8, box=8).reshape(1, -1)
    return est.predict_proba(x)[0], x.reshape(8, 8)


# ------------------------------------------------------------------ the page
def test_page_and_assets_are_served_from_the_package(client):
    for path, media in (("/", "text/html"), ("/app.js", "text/javascript"),
                        ("/app.css", "text/css")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        # nothing is fetched from elsewhere: the page works offline
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", response.text)
    page = client.get("/").text
    for element in ('id="pad"', 'id="clear"', 'id="upload"', 'id="bars"', 'id="seen"',
                    'id="maps"', 'src="/app.js"', 'href="/app.css"'):
        assert element in page


def test_no_request_names_a_file(client, tmp_path):
    for path in ("/static/app.js", "/../pyproject.toml", "/app.js/../index.html",
                 "/%2e%2e/%2e%2e/etc/passwd", "/api/../app.js.bak", "/index.html"):
        assert client.get(path).status_code == 404, path
    assert client.post("/app.js").status_code == 405
    # a file name in a form is only a label: nothing is written or read there
    target = tmp_path / "written.png"
    response = client.post("/api/predict", files={
        "image": (str(target), encode(drawing()), "image/png")})
    assert response.status_code == 200 and not target.exists()


# ------------------------------------------------------------------ the API
def test_model_description(client, cnn):
    info = client.get("/api/model").json()
    assert info["estimator"] == "ConvDigitClassifier"
    assert info["classes"] == list(range(10)) and info["names"] == [str(i) for i in range(10)]
    assert info["input"] == {"height": 8, "width": 8, "box": 8}
    assert info["feature_maps"] is True and info["description"] == "a test CNN"


@pytest.mark.parametrize("form", ["png-body", "jpeg-body", "multipart", "json-pixels"])
def test_predict_answers_as_the_model_does(client, cnn, form):
    img = drawing(SEVEN)
    if form == "png-body":
        response = client.post("/api/predict", content=encode(img),
                               headers={"content-type": "image/png"})
    elif form == "jpeg-body":
        img = img.convert("RGB")
        response = client.post("/api/predict", content=encode(img, "JPEG"),
                               headers={"content-type": "image/jpeg"})
        with Image.open(io.BytesIO(encode(img, "JPEG"))) as decoded:
            img = decoded.copy()
    elif form == "multipart":
        response = client.post("/api/predict",
                               files={"image": ("seven.png", encode(img), "image/png")})
    else:
        response = client.post("/api/predict", json={"pixels": np.asarray(img).tolist()})
    assert response.status_code == 200, response.text
    answer = response.json()
    proba, seen = expected(cnn, img)
    np.testing.assert_allclose(answer["probabilities"], proba, rtol=1e-6, atol=1e-7)
    assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    top = int(np.argmax(proba))
    assert answer["label"] == cnn.classes_[top] and answer["name"] == str(cnn.classes_[top])
    assert answer["probability"] == pytest.approx(proba[top])
    np.testing.assert_allclose(answer["image"], seen, atol=1e-4)
    maps = answer["feature_maps"]
    n_filters = cnn.feature_maps(seen.reshape(1, -1)).shape[-1]
    assert maps["total"] == n_filters and len(maps["maps"]) == min(n_filters, 32)
    assert np.asarray(maps["maps"]).shape[1:] == (8, 8)
    assert 0 <= np.min(maps["maps"]) and np.max(maps["maps"]) == 255
    assert len(maps["peaks"]) == len(maps["maps"])


def test_details_and_raw_pixels(client, cnn, mlp):
    img = drawing()
    answer = client.post("/api/predict?details=false", content=encode(img),
                         headers={"content-type": "image/png"}).json()
    assert set(answer) == {"label", "name", "probability", "classes", "names",
                           "probabilities"}
    # pixels already MNIST-like go to the model as they are
    _, seen = expected(cnn, img)
    raw = client.post("/api/predict", json={"pixels": seen.tolist(), "preprocess": False})
    np.testing.assert_allclose(raw.json()["probabilities"],
                               cnn.predict_proba(seen.reshape(1, -1))[0], rtol=1e-6)
    # a model without feature maps
    plain = TestClient(create_app(mlp)).post("/api/predict", content=encode(img),
                                              headers={"content-type": "image/png"})
    assert plain.status_code == 200 and plain.json()["feature_maps"] is None


def test_class_names(cnn, tmp_path):
    garments = TestClient(create_app(cnn, class_names="fashion-mnist"))
    info = garments.get("/api/model").json()
    assert info["names"][0] == "T-shirt/top" and info["names"][9] == "Ankle boot"
    answer = garments.post("/api/predict", content=encode(drawing()),
                           headers={"content-type": "image/png"}).json()
    assert answer["name"] == info["names"][info["classes"].index(answer["label"])]

    class Named:  # a model that knows its class names (class_names_)
        def __init__(self, est):
            self.est, self.class_names_ = est, [f"digit {c}" for c in est.classes_]

        def __getattr__(self, name):
            return getattr(self.est, name)

    assert Predictor(Named(cnn)).names[3] == "digit 3"
    with pytest.raises(ValueError, match="3 class names for a model of 10 classes"):
        create_app(cnn, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="class_names must be a list of names or one of"):
        create_app(cnn, class_names="cifar")
    # a model file works as well as a model
    path = cnn.save(tmp_path / "model.npz")
    assert TestClient(create_app(path)).get("/api/model").json()["classes"] == list(range(10))


def png_header_only(width, height):
    """A PNG whose header claims ``width x height`` pixels: a decompression bomb's size."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


BAD_REQUESTS = [
    ("not an image", dict(content=b"hello", headers={"content-type": "image/png"}), 400,
     "not an image file"),
    ("empty", dict(content=b"", headers={"content-type": "image/png"}), 400,
     "the upload is empty"),
    ("truncated", dict(content=encode(drawing())[:200],
                       headers={"content-type": "image/png"}), 400, "could not be decoded"),
    ("bomb", dict(content=png_header_only(20000, 20000),
                  headers={"content-type": "image/png"}), 400, "above the limit of 24.0 MP"),
    ("blank", dict(content=encode(Image.new("L", (50, 50), 255)),
                   headers={"content-type": "image/png"}), 400, "blank"),
    ("wrong type", dict(content=b"hello", headers={"content-type": "text/plain"}), 415,
     "send an image"),
    ("bad json", dict(content=b"{pixels", headers={"content-type": "application/json"}),
     400, "not valid JSON"),
    ("deep json", dict(content=b"[" * 100000 + b"]" * 100000,
                       headers={"content-type": "application/json"}), 400, "not valid JSON"),
    ("json without pixels", dict(json={"image": [1, 2]}), 400, '{"pixels"'),
    ("ragged pixels", dict(json={"pixels": [[1, 2], [3]]}), 400, "rows of equal length"),
    ("text pixels", dict(json={"pixels": [["a", "b"]]}), 400, "2D array of numbers"),
    ("4d pixels", dict(json={"pixels": [[[[1]]]]}), 400, "2D array of numbers"),
    ("nan pixels", dict(content=b'{"pixels": [[NaN, 1], [1, 1]]}',
                        headers={"content-type": "application/json"}), 400, "NaN"),
    ("raw pixels of the wrong size", dict(json={"pixels": [[0.5] * 5] * 5,
                                                "preprocess": False}), 400, "8 x 8 values"),
    ("raw pixels out of range", dict(json={"pixels": [[255] * 8] * 8, "preprocess": False}),
     400, "in \\[0, 1\\]"),
    ("bad preprocess flag", dict(json={"pixels": [[1]], "preprocess": "maybe"}), 400,
     "preprocess must be true or false"),
    ("form without file", dict(data={"image": "not a file"},
                               files={"other": ("x.png", b"", "image/png")}),
     400, "file field named 'image'"),
]


@pytest.mark.parametrize("name, request_kw, status, message", BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])
def test_bad_requests_get_a_one_line_reason(client, name, request_kw, status, message):
    response = client.post("/api/predict", **request_kw)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert re.search(message, error) and "\n" not in error
    # and the server goes on answering
    assert client.post("/api/predict", content=encode(drawing()),
                       headers={"content-type": "image/png"}).status_code == 200


def test_bad_query_flag(client):
    response = client.post("/api/predict?details=perhaps", content=encode(drawing()),
                           headers={"content-type": "image/png"})
    assert response.status_code == 400 and "details must be" in response.json()["error"]


def test_uploads_over_the_limit_get_413(cnn):
    limit = 100_000
    with TestClient(create_app(cnn, max_upload_bytes=limit)) as client:
        for request_kw in (dict(content=b"\0" * (limit + 1)),  # by its Content-Length
                           dict(content=iter([b"\0" * 30_000] * 5)),  # chunked, counted
                           dict(files={"image": ("big.png", b"\0" * 2 * limit, "image/png")})):
            headers = {} if "files" in request_kw else {"content-type": "image/png"}
            response = client.post("/api/predict", headers=headers, **request_kw)
            assert response.status_code == 413
            assert "over the limit of 100000 bytes" in response.json()["error"]
        assert client.post("/api/predict", content=encode(drawing()),
                           headers={"content-type": "image/png"}).status_code == 200


def test_a_body_is_refused_while_it_is_read(cnn):
    """Straight through ASGI: the app stops reading at the chunk that crosses the limit."""
    import anyio

    app = create_app(cnn, max_upload_bytes=100_000)
    received, sent = [], []

    async def receive():  # 50 chunks of 20 kB, without a Content-Length
        received.append(20_000)
        return {"type": "http.request", "body": b"\0" * 20_000, "more_body": len(received) < 50}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/predict",
             "raw_path": b"/api/predict", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"image/png")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    anyio.run(app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert sum(received) == 120_000  # 6 chunks of the 50: the sixth crossed the limit


def test_unknown_hosts_are_refused_when_asked(cnn):
    client = TestClient(create_app(cnn, allowed_hosts=["127.0.0.1", "localhost"]),
                        base_url="http://127.0.0.1")
    assert client.get("/api/model").status_code == 200
    assert client.get("/api/model", headers={"host": "rebound.example"}).status_code == 400


# ------------------------------------------------------------------ concurrency
class Gate:
    """A stand-in model that records how many threads are inside it at once."""

    def __init__(self, est, hold=None):
        self.est, self.hold = est, hold
        self.inside = self.most = 0
        self.entered = threading.Event()
        self._count = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.est, name)

    def predict_proba(self, X):
        with self._count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        self.entered.set()
        try:
            if self.hold is not None:
                assert self.hold.wait(30)
            time.sleep(0.002)
            return self.est.predict_proba(X)
        finally:
            with self._count:
                self.inside -= 1


def post_png(base, body, path="/api/predict"):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "image/png"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_concurrent_requests_get_their_own_answers(cnn):
    """8 clients x 6 requests on a real server, the model called by several worker
    threads at once: each answer is that image's."""
    gate = Gate(cnn)
    images = [drawing(SEVEN), drawing(), drawing((((60, 60), (220, 220)),)),
              drawing((((60, 220), (220, 60)), ((60, 60), (220, 60))), width=30)]
    bodies = [encode(img) for img in images]
    references = [expected(cnn, img)[0] for img in images]
    with running(create_app(gate)) as base:
        with ThreadPoolExecutor(8) as pool:
            jobs = [(i % len(bodies), pool.submit(post_png, base, bodies[i % len(bodies)]))
                    for i in range(48)]
            results = [(k, job.result(timeout=60)) for k, job in jobs]
    for k, (status, answer) in results:
        assert status == 200
        np.testing.assert_allclose(answer["probabilities"], references[k], rtol=1e-5,
                                   atol=1e-6)
    # the model answers several requests at once (no lock), at most one per worker
    assert gate.most <= WORKER_THREADS


def test_busy_server_says_so(cnn):
    hold = threading.Event()
    gate = Gate(cnn, hold=hold)
    with running(create_app(gate, max_pending=1)) as base:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post_png, base, encode(drawing()))
            assert gate.entered.wait(30)
            status, answer = post_png(base, encode(drawing()))
            hold.set()
            assert first.result(timeout=60)[0] == 200
    assert status == 503 and "busy" in answer["error"]


# ------------------------------------------------------------------ serving
def test_quick_model_is_trained_once_then_reused(tmp_path):
    said = []
    est, description = quick_model(tmp_path, epochs=1, n_threads=1, log=said.append)
    path = tmp_path / QUICK_MODEL_PATH
    assert path.exists() and str(path) in description
    assert said and "training a quick CNN" in said[0]
    said.clear()
    again, description = quick_model(tmp_path, log=said.append)
    assert said == [] and "cached at" in description
    np.testing.assert_array_equal(again.filters_[0], est.filters_[0])
    path.write_bytes(b"damaged")
    quick_model(tmp_path, epochs=1, n_threads=1, log=said.append)
    assert "cannot be read" in said[0] and "training" in said[1]


def test_serve_binds_localhost_and_says_which_model(cnn, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_serve.uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr(_serve, "check_port", lambda host, port: None)
    path = cnn.save(tmp_path / "model.npz")
    said = []
    _serve.serve(path, log=said.append)
    app, kw = calls[-1]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8000
    assert app.state.predictor.estimator.n_threads == 1
    assert f"read from {path}" in said[-1] and "http://127.0.0.1:8000/" in said[-1]
    said.clear()
    _serve.serve(path, host="0.0.0.0", port=8123, log=said.append)
    assert "other machines on your network" in said[0]
    assert calls[-1][1]["port"] == 8123
    # the quick model when none is given, in the data home
    monkeypatch.setenv("PERCEPTRON_DATA", str(tmp_path / "home"))
    monkeypatch.setattr("perceptron.web._quick_model.train_quick_model",
                        lambda **kw: (cnn, 0.9))
    said.clear()
    _serve.serve(log=said.append)
    assert "training a quick CNN" in said[0] and "quick digits CNN" in said[-1]
    assert (tmp_path / "home" / QUICK_MODEL_PATH).exists()


def test_serve_command(cnn, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(_serve.uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(_serve, "check_port", lambda host, port: None)
    path = cnn.save(tmp_path / "model.npz")
    assert main(["serve", str(path), "--port", "8765", "--host", "localhost"]) == 0
    assert calls == [dict(host="localhost", port=8765, log_level="warning",
                          timeout_keep_alive=5)]
    assert "http://localhost:8765/" in capsys.readouterr().out
    assert main(["serve", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err
    assert "no model file" in err and len(err.strip().splitlines()) == 1
    assert main(["serve", str(path), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["model.npz"]  # nothing written beside the model


def test_a_taken_port_is_named():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            _serve.check_port("127.0.0.1", port)
