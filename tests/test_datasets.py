"""Tests for perceptron.datasets: IDX files, lookup, download, loaders.

No test touches the network: downloads go to a small HTTP server on
127.0.0.1 that the tests start, serving IDX files the tests build.
"""

import contextlib
import gzip
import hashlib
import http.server
import io
import os
import signal
import socket
import threading

import numpy as np
import pytest

from perceptron import datasets
from perceptron.datasets import (
    DownloadError,
    get_data_home,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from perceptron.datasets import _digits, _fetch, _sources

FILES = _sources.ALL_FILENAMES
N_TRAIN, N_TEST = 20, 10


# --------------------------------------------------------------------------
# helpers


def make_split(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_dataset(folder, *, gz=True, n_train=N_TRAIN, n_test=N_TEST):
    """Write the four MNIST-format files into ``folder``; return the arrays."""
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for prefix, n, seed in [("train", n_train, 1), ("t10k", n_test, 2)]:
        images, labels = make_split(n, seed)
        suffix = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
        arrays[prefix] = (images, labels)
    return arrays


def idx_bytes(array, gz=False):
    """IDX bytes of a uint8 array, built by hand (independent of write_idx)."""
    array = np.asarray(array, dtype=np.uint8)
    raw = (bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
           + array.tobytes())
    return gzip.compress(raw) if gz else raw


def served_files():
    """Contents and SHA-256 digests of four small gzipped IDX files."""
    contents = {}
    for prefix, n, seed in [("train", N_TRAIN, 1), ("t10k", N_TEST, 2)]:
        images, labels = make_split(n, seed)
        contents[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(images, gz=True)
        contents[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(labels, gz=True)
    digests = {name: hashlib.sha256(body).hexdigest() for name, body in contents.items()}
    return contents, digests


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --------------------------------------------------------------------------
# local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serve ``server.routes[path]``: a list of behaviours, one per request
    (the last one repeats): ("ok", body), ("drop", body) or ("status", code)."""

    def do_GET(self):
        self.server.hits.append(self.path)
        plan = self.server.routes.get(self.path, [("status", 404)])
        count = self.server.hits.count(self.path)
        kind, value = plan[min(count, len(plan)) - 1]
        if kind == "status":
            self.send_error(value)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(value)))
        self.end_headers()
        if kind == "ok":
            self.wfile.write(value)
        else:  # "drop": half the body, then hang up
            self.wfile.write(value[: len(value) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes, httpd.hits = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fast_fetch(monkeypatch):
    """Short timeouts, no backoff, one retry, no proxies, and a hard deadline."""
    monkeypatch.setattr(_fetch, "TIMEOUT", 5.0)
    monkeypatch.setattr(_fetch, "BACKOFF", 0.0)
    monkeypatch.setattr(_fetch, "RETRIES", 1)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    def timeout(signum, frame):
        raise TimeoutError("server test took longer than 30 s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def closed_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mnist_remote(monkeypatch, server, fast_fetch):
    """Point MNIST's mirrors and digests at the local server's files."""
    contents, digests = served_files()
    monkeypatch.setattr(_sources, "MNIST_SHA256", digests)
    monkeypatch.setattr(_sources, "MNIST_MIRRORS",
                        (server.url + "/one/", server.url + "/two/"))
    return server, contents


# --------------------------------------------------------------------------
# IDX format

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 2, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_idx_round_trip(tmp_path, dtype, shape, gz):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = rng.normal(scale=1e3, size=shape).astype(dtype)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert listing(tmp_path) == [path.name]  # no temporary file left


def test_idx_is_big_endian(tmp_path):
    path = tmp_path / "x.idx"
    write_idx(path, np.array([258, -2], dtype=np.int16))
    assert path.read_bytes() == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    raw = bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + np.array([1.5], dtype=">f4").tobytes()
    assert read_idx(io.BytesIO(raw)).tolist() == [1.5]


def test_read_idx_file_objects_and_content_sniffing(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    assert read_idx(io.BytesIO(idx_bytes(labels))).tolist() == labels.tolist()
    assert read_idx(io.BytesIO(idx_bytes(labels, gz=True))).tolist() == labels.tolist()
    # gzip is detected from the content, not the name
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(labels, gz=True))
    assert read_idx(str(path)).tolist() == labels.tolist()
    with open(path, "rb") as f:
        assert read_idx(f).tolist() == labels.tolist()


def test_write_idx_overwrites_atomically(tmp_path):
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros(3, np.uint8))
    write_idx(path, np.ones((2, 2), np.float64))
    assert read_idx(path).shape == (2, 2)
    assert listing(tmp_path) == ["a.gz"]


@pytest.mark.parametrize("array, match", [
    (np.zeros(3, np.int64), "cannot store dtype int64"),
    (np.zeros(3, bool), "cannot store dtype bool"),
    (np.float64(1.0), "1 to 255 dimensions"),
])
def test_write_idx_rejects_unstorable(tmp_path, array, match):
    with pytest.raises(ValueError, match=match):
        write_idx(tmp_path / "bad.idx", array)
    assert listing(tmp_path) == []


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize("content, match", [
    (GOOD[:-1], "truncated IDX file: shape \\(3, 4\\) of uint8 needs 12 data bytes, only 11"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD[:3], "only 3 bytes"),
    (b"", "only 0 bytes"),
    (GOOD + b"\x00\x00", "2 unexpected trailing bytes"),
    (b"\x01" + GOOD[1:], "magic number starts with bytes 01 00"),
    (b"PK\x03\x04" + GOOD[4:], "magic number starts with bytes 50 4b"),
    (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
    (GOOD[:3] + b"\x00", "0 dimensions"),
    # absurd headers: more dimensions than any array has, said before reading on
    (GOOD[:3] + b"\xff" + b"\x00" * 4 * 255, "255 dimensions; an array has at most 32"),
    (GOOD[:3] + b"\x21" + b"\x00\x00\x00\x01" * 33, "33 dimensions"),
    (gzip.compress(GOOD)[:-12], "corrupted gzip data"),
    (gzip.compress(GOOD)[:10] + b"\xff" * 20, "corrupted gzip data"),
    (gzip.compress(GOOD[:-1]), "truncated IDX file"),
])
def test_read_idx_rejects_bad_files(tmp_path, content, match):
    path = tmp_path / "broken-idx2-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_flipped_gzip_crc_is_caught(tmp_path):
    data = bytearray(gzip.compress(GOOD))
    data[-5] ^= 0xFF  # CRC-32 trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted gzip data"):
        read_idx(path)


# --------------------------------------------------------------------------
# data home


def test_get_data_home(tmp_path, monkeypatch):
    explicit = tmp_path / "a" / "b"
    assert get_data_home(explicit) == str(explicit) and explicit.is_dir()
    monkeypatch.setenv("PERCEPTRON_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert get_data_home(explicit) == str(explicit)  # argument wins
    monkeypatch.delenv("PERCEPTRON_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == str(tmp_path / "home" / "perceptron_data")
    assert (tmp_path / "home" / "perceptron_data").is_dir()
    monkeypatch.setenv("HOME", str(tmp_path / "home2"))
    assert get_data_home("~/x") == str(tmp_path / "home2" / "x")


def test_loaders_use_perceptron_data_env(tmp_path, monkeypatch):
    write_dataset(tmp_path / "env" / "mnist")
    monkeypatch.setenv("PERCEPTRON_DATA", str(tmp_path / "env"))
    assert load_mnist(download=False).data.shape == (N_TRAIN, 784)


# --------------------------------------------------------------------------
# local MNIST-format files


@pytest.mark.parametrize("layout", ["direct", "subfolder", "uncompressed"])
def test_load_mnist_from_data_home(tmp_path, layout):
    folder = tmp_path / "mnist" if layout == "subfolder" else tmp_path
    arrays = write_dataset(folder, gz=layout != "uncompressed")
    bunch = load_mnist(data_home=tmp_path, download=False)
    images, labels = arrays["train"]
    assert bunch.data.shape == (N_TRAIN, 784) and bunch.data.dtype == np.float32
    assert bunch.images.shape == (N_TRAIN, 28, 28)
    assert 0.0 <= bunch.data.min() and bunch.data.max() <= 1.0
    np.testing.assert_allclose(bunch.images * 255, images, atol=1e-4)
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target_names.tolist() == [str(i) for i in range(10)]
    assert "MNIST" in bunch.DESCR


def test_load_mnist_subsets_and_raw(tmp_path):
    arrays = write_dataset(tmp_path)
    X, y = load_mnist(subset="test", data_home=tmp_path, download=False, return_X_y=True,
                      normalize=False)
    assert X.dtype == np.uint8 and X.shape == (N_TEST, 784)
    np.testing.assert_array_equal(X, arrays["t10k"][0].reshape(N_TEST, -1))
    bunch = load_mnist(subset="all", data_home=tmp_path, download=False, normalize=False)
    assert bunch.images.shape == (N_TRAIN + N_TEST, 28, 28)
    np.testing.assert_array_equal(bunch.target[:N_TRAIN], arrays["train"][1])
    np.testing.assert_array_equal(bunch.target[N_TRAIN:], arrays["t10k"][1])
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(subset="validation", data_home=tmp_path, download=False)


def test_only_the_needed_files_are_required(tmp_path):
    write_dataset(tmp_path)
    os.remove(tmp_path / "train-images-idx3-ubyte.gz")
    assert load_mnist(subset="test", data_home=tmp_path, download=False).data.shape[0] == N_TEST
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(subset="train", data_home=tmp_path, download=False)


@pytest.mark.parametrize("name, array, match", [
    ("train-images-idx3-ubyte.gz", np.zeros((N_TRAIN, 27, 28), np.uint8), "shape \\(n, 28, 28\\)"),
    ("train-images-idx3-ubyte.gz", np.zeros((N_TRAIN, 28, 28), np.float32), "expected uint8"),
    ("train-labels-idx1-ubyte.gz", np.full(N_TRAIN, 10, np.uint8), "labels must be in 0..9"),
    ("train-labels-idx1-ubyte.gz", np.zeros(N_TRAIN - 1, np.uint8), "19 labels but"),
    ("train-labels-idx1-ubyte.gz", np.zeros((N_TRAIN, 1), np.uint8), "1-d uint8"),
])
def test_invalid_local_files_are_refused(tmp_path, name, array, match):
    write_dataset(tmp_path)
    write_idx(tmp_path / name, array)
    with pytest.raises(ValueError, match=match):
        load_mnist(data_home=tmp_path, download=False)


def test_corrupted_local_file_is_named(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="corrupted gzip") as info:
        load_mnist(data_home=tmp_path, download=False)
    assert str(path) in str(info.value)


def test_mnist_files_with_no_images(tmp_path):
    # a valid IDX header of 0 images: an error naming the file, not numpy's
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    with pytest.raises(ValueError, match="holds 0 images") as info:
        load_mnist(data_home=tmp_path, download=False)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(info.value)


def test_nothing_local_and_no_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_home=tmp_path / "empty", download=False)
    message = str(info.value)
    assert "download=False" in message
    assert str(tmp_path / "empty" / "mnist") in message
    assert all(name in message for name in FILES)
    assert not (tmp_path / "empty").exists()  # nothing created for a failed lookup
    # the command line words the same advice with its own options
    text = info.value.describe(forbidden="--no-download", allow="drop --no-download",
                               other_folder="give --data-home a folder")
    assert "--no-download" in text and "--data-home" in text and "data_home=" not in text
    assert all(name in text for name in FILES)


def test_fashion_mnist_uses_system_folder(tmp_path, monkeypatch):
    arrays = write_dataset(tmp_path / "debian")
    monkeypatch.setattr(_sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    bunch = load_fashion_mnist(subset="test", data_home=tmp_path / "home", download=False)
    np.testing.assert_array_equal(bunch.target, arrays["t10k"][1])
    assert bunch.target_names.tolist() == list(_sources.FASHION_MNIST_CLASSES)
    assert bunch.target_names[0] == "T-shirt/top" and bunch.target_names[9] == "Ankle boot"
    assert "Fashion-MNIST" in bunch.DESCR
    assert not (tmp_path / "home").exists()  # used in place, not copied
    # the data home comes first
    write_dataset(tmp_path / "home" / "fashion-mnist", n_test=3)
    assert load_fashion_mnist(subset="test", data_home=tmp_path / "home",
                              download=False).data.shape == (3, 784)


def test_fashion_mnist_without_system_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(_sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        load_fashion_mnist(data_home=tmp_path, download=False)


@pytest.mark.skipif(not os.path.isdir(_sources.DEBIAN_FASHION_MNIST_DIR),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_debian_fashion_mnist(tmp_path):
    X, y = load_fashion_mnist(subset="test", data_home=tmp_path, download=False,
                              return_X_y=True)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert 0.0 == X.min() and X.max() == 1.0
    assert np.bincount(y).tolist() == [1000] * 10


# --------------------------------------------------------------------------
# load_digits and load_dataset


def test_load_digits_split_is_fixed_and_stratified():
    full = load_digits()
    assert full.data.shape == (1797, 64) and full.data.dtype == np.float32
    assert full.images.shape == (1797, 8, 8)
    assert full.data.min() == 0.0 and full.data.max() == 1.0
    assert full.target.dtype == np.int64
    assert full.target_names.tolist() == list(range(10))
    train, test = load_digits(subset="train"), load_digits(subset="test")
    assert len(train.target) == 1437 and len(test.target) == 360
    np.testing.assert_array_equal(train.data, load_digits(subset="train").data)
    # the two parts are disjoint and make up the whole
    train_index, test_index = _digits.split_indices(full.target)
    assert sorted(np.concatenate([train_index, test_index]).tolist()) == list(range(1797))
    np.testing.assert_array_equal(train.data, full.data[train_index])
    np.testing.assert_array_equal(test.target, full.target[test_index])
    # stratified: every class keeps its share, to within one image
    expected = np.bincount(full.target) * 0.2
    assert np.all(np.abs(np.bincount(test.target) - expected) <= 1)


def test_load_digits_split_matches_train_test_split():
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    X, y = sk_load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                        stratify=y)
    Xt, yt = load_digits(subset="train", return_X_y=True, normalize=False)
    assert Xt.dtype == np.float64
    np.testing.assert_array_equal(Xt, X_train)
    np.testing.assert_array_equal(yt, y_train)
    Xs, ys = load_digits(subset="test", return_X_y=True)
    np.testing.assert_allclose(Xs, X_test / 16)
    np.testing.assert_array_equal(ys, y_test)
    with pytest.raises(ValueError, match="subset"):
        load_digits(subset="val")


def test_load_dataset_digits():
    X_train, X_test, y_train, y_test = load_dataset("digits")
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X_train.dtype == np.float32 and 0 <= X_train.min() and X_train.max() <= 1
    assert y_train.dtype == np.int64 and set(np.unique(y_test)) == set(range(10))
    X_raw = load_dataset("digits", normalize=False)[0]
    assert X_raw.dtype == np.float64 and X_raw.max() == 16


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "fashion_mnist", " Fashion-MNIST"])
def test_load_dataset_idx(tmp_path, monkeypatch, name):
    monkeypatch.setattr(_sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    write_dataset(tmp_path)
    X_train, X_test, y_train, y_test = load_dataset(name, data_home=tmp_path, download=False)
    assert X_train.shape == (N_TRAIN, 784) and X_test.shape == (N_TEST, 784)
    assert X_train.dtype == np.float32 and X_test.dtype == np.float32
    assert 0 <= X_train.min() and X_train.max() <= 1
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert y_train.min() >= 0 and y_train.max() <= 9
    X_raw = load_dataset(name, data_home=tmp_path, download=False, normalize=False)[0]
    assert X_raw.dtype == np.uint8


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match="valid names: digits, mnist, fashion-mnist"):
        load_dataset("cifar10")


def test_public_api():
    assert set(datasets.__all__) >= {"load_digits", "load_mnist", "load_fashion_mnist",
                                     "load_dataset", "get_data_home", "read_idx",
                                     "write_idx", "DownloadError"}
    assert issubclass(DownloadError, OSError)


# --------------------------------------------------------------------------
# downloads, against a local server


def test_download_falls_back_to_second_mirror(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/two/{name}"] = [("ok", body)]
    bunch = load_mnist(subset="all", data_home=tmp_path)
    assert bunch.data.shape == (N_TRAIN + N_TEST, 784)
    cache = tmp_path / "mnist"
    assert listing(cache) == sorted(FILES)
    for name, body in contents.items():
        assert (cache / name).read_bytes() == body
    assert sorted(server.hits) == sorted([f"/one/{n}" for n in FILES]
                                         + [f"/two/{n}" for n in FILES])
    # cached: the next load does not ask the server
    server.hits.clear()
    load_mnist(subset="test", data_home=tmp_path)
    assert server.hits == []


def test_download_only_missing_files(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/one/{name}"] = [("ok", body)]
    write_dataset(tmp_path / "mnist")
    os.remove(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz")
    load_mnist(subset="all", data_home=tmp_path)
    assert server.hits == ["/one/t10k-labels-idx1-ubyte.gz"]


def test_dropped_connection_is_retried(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/one/{name}"] = [("drop", body), ("ok", body)]
    bunch = load_mnist(subset="test", data_home=tmp_path)
    assert bunch.data.shape == (N_TEST, 784)
    assert server.hits.count("/one/t10k-images-idx3-ubyte.gz") == 2


def test_dropping_mirror_moves_to_next(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/one/{name}"] = [("drop", body)]
        server.routes[f"/two/{name}"] = [("ok", body)]
    load_mnist(subset="test", data_home=tmp_path)
    assert server.hits.count("/one/t10k-images-idx3-ubyte.gz") == 2  # 1 + RETRIES
    assert listing(tmp_path / "mnist") == ["t10k-images-idx3-ubyte.gz",
                                           "t10k-labels-idx1-ubyte.gz"]


def test_incomplete_everywhere_leaves_nothing(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/one/{name}"] = [("drop", body)]
    with pytest.raises(DownloadError, match="incomplete download: got \\d+ of \\d+ bytes"):
        load_mnist(subset="test", data_home=tmp_path)
    assert listing(tmp_path / "mnist") == []


def test_server_error_is_retried(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        server.routes[f"/one/{name}"] = [("status", 503), ("ok", body)]
    load_mnist(subset="test", data_home=tmp_path)
    assert server.hits.count("/one/t10k-labels-idx1-ubyte.gz") == 2


def test_checksum_mismatch_everywhere(tmp_path, mnist_remote):
    server, contents = mnist_remote
    for name, body in contents.items():
        tampered = body[:-1] + bytes([body[-1] ^ 1])
        server.routes[f"/one/{name}"] = [("ok", tampered)]
        server.routes[f"/two/{name}"] = [("ok", tampered)]
    with pytest.raises(DownloadError, match="SHA-256 mismatch") as info:
        load_mnist(data_home=tmp_path)
    assert str(tmp_path / "mnist") in str(info.value)
    assert listing(tmp_path / "mnist") == []  # not even a temporary file
    # a mismatch is not retried on the same mirror
    assert server.hits.count("/one/train-images-idx3-ubyte.gz") == 1


def test_offline_error_names_files_and_folder(tmp_path, monkeypatch, fast_fetch):
    port = closed_port()
    mirrors = (f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/")
    monkeypatch.setattr(_sources, "FASHION_MNIST_MIRRORS", mirrors)
    monkeypatch.setattr(_sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DownloadError) as info:
        load_fashion_mnist(data_home=tmp_path)
    message = str(info.value)
    assert "every mirror failed" in message and "cannot connect" in message
    assert all(name in message for name in FILES)
    assert all(mirror in message for mirror in mirrors)
    assert str(tmp_path / "fashion-mnist") in message
    assert isinstance(info.value, OSError)
    assert listing(tmp_path / "fashion-mnist") == []
    assert "pass data_home= a folder" in message
    assert "give --data-home a folder" in info.value.describe(
        other_folder="give --data-home a folder")


def test_fetch_refuses_files_without_digest(tmp_path):
    with pytest.raises(ValueError, match="no SHA-256 digest"):
        _fetch.fetch_files(["x.gz"], str(tmp_path), mirrors=["http://127.0.0.1:1/"],
                           sha256={})


def test_pinned_digests_are_complete():
    for table in (_sources.MNIST_SHA256, _sources.FASHION_MNIST_SHA256):
        assert set(table) == set(FILES)
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in table.values())
