"""``perceptron serve``: the app of a model file (or of the quick model) on uvicorn."""

import contextlib
import ipaddress
import socket
import threading
import time

import uvicorn

from ._app import create_app
from ._quick_model import quick_model

#: Host headers always accepted from the local machine
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port(host, port):
    """Raise an OSError naming ``host:port`` when nothing can listen there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}") from None


def serve(model=None, *, host="127.0.0.1", port=8000, data_home=None, class_names=None,
          log=print):
    """Serve the web app of ``model`` until interrupted (Ctrl+C).

    Parameters
    ----------
    model : fitted classifier, str, path-like or None, default=None
        A fitted estimator (used as it is) or a model file (read, and run on
        one thread: one image per request); None uses the quick digits CNN
        (:func:`perceptron.web.quick_model`: trained on first use, in
        seconds, then kept in the data home), and says so.
    host : str, default="127.0.0.1"
        The address to listen on. The default is reachable from this
        machine only; another address (``0.0.0.0``) opens the app to the
        network, which is said when it starts.
    port : int, default=8000
    data_home : str or None, default=None
        Where the quick model is kept (:func:`perceptron.datasets.get_data_home`).
    class_names : sequence of str, str or None, default=None
        See :func:`perceptron.web.create_app`.
    log : callable, default=print

    Examples
    --------
    What ``perceptron serve run1/model.npz --port 8080`` runs:

    >>> from perceptron.web import serve
    >>> serve("run1/model.npz", port=8080)  # doctest: +SKIP
    Serving MLPDigitClassifier (read from run1/model.npz) at http://127.0.0.1:8080/ ...
    """
    check_port(host, port)  # before a quick model is trained for nothing
    owned = True  # a model read here: ours to set up for serving
    if model is None:
        model, description = quick_model(data_home, log=log)
    elif not hasattr(model, "predict_proba"):
        from .. import load

        path = model
        model, description = load(path), f"read from {path}"
    else:
        owned, description = False, ""
    if owned and "n_threads" in model.get_params():
        # one image per request: more kernel threads would only wait on each other
        model.set_params(n_threads=1)
    allowed = None
    if _is_loopback(host):
        allowed = sorted(set(LOCAL_HOSTS) | {host})
    else:
        log(f"note: listening on {host}: other machines on your network can reach "
            "this app")
    app = create_app(model, class_names=class_names, description=description,
                     allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    log(f"Serving {type(model).__name__} ({description or 'given model'}) at "
        f"http://{shown}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=5)


@contextlib.contextmanager
def running(app, *, host="127.0.0.1", port=0, timeout=30.0):
    """Run ``app`` on uvicorn in a background thread for the ``with`` block.

    For tests, benchmarks and screenshots: ``port=0`` takes a free port,
    the block gets the base URL (``http://127.0.0.1:PORT``), and the server
    is stopped and joined when the block ends. Starting and stopping each
    wait at most ``timeout`` seconds (a RuntimeError if the server has not
    started by then).
    """
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_keep_alive=5, lifespan="off"))
    thread = threading.Thread(target=server.run, name="perceptron-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout)
            raise RuntimeError(f"the web app did not start on {host}:{port}")
        time.sleep(0.02)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
