"""The Starlette application: one page, its two assets and a JSON API.

Routes
------
``GET /``, ``GET /app.js``, ``GET /app.css``
    The page, shipped in the package (``perceptron/web/static``) and read
    once when the app is made: no request names a file.
``GET /api/model``
    What the model is: its classes, their names, the image size it reads.
``POST /api/predict``
    One image (PNG, JPEG, ... as the body or as the ``image`` field of a
    multipart form) or a JSON array of pixels; the answer as JSON.

Safety
------
Bodies above ``max_upload_bytes`` are refused with 413 while they are read
(:class:`BodyLimit`: by their ``Content-Length`` before a byte is read, else
as the bytes arrive); an image that is not one, is truncated, or has too
many pixels gets 400 with a one-line reason; at most ``max_pending``
predictions wait at once (503 beyond). The work runs in worker threads,
which call the model at the same time (its predictions share no buffers:
see :mod:`perceptron.web._predictor`).
Any other failure is a 500 for that request only.
"""

import json
import logging
from importlib.resources import files

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._predictor import MAX_PIXELS, Predictor

#: request bodies above this many bytes get 413 (a 12 MP JPEG photo is 3-5 MB)
MAX_UPLOAD_BYTES = 8 * 2**20

#: predictions waiting or running at once; more get 503 (try again)
MAX_PENDING = 64

#: threads that read, preprocess and predict, each on its own request
WORKER_THREADS = 2

#: the page and its assets: route -> (file in static/, media type)
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}

#: sent with every response: nothing is loaded from elsewhere, nothing is sniffed
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
     b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

logger = logging.getLogger("perceptron.web")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413.

    A declared ``Content-Length`` over the limit is answered at once; a body
    without one (chunked) is counted as it arrives, and the read that goes
    over the limit raises ``HTTPException(413)`` inside the endpoint, so
    nothing beyond ``max_bytes`` is ever held.
    """

    def __init__(self, app, max_bytes):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self):
        return f"request body over the limit of {self.max_bytes} bytes"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit()
                                     or int(declared) > self.max_bytes):
            status = 413 if declared.isdigit() else 400
            message = self._too_large() if status == 413 else "bad Content-Length"
            await _error(status, message)(scope, receive, send)
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited_receive, send)


class SecurityHeaders:
    """ASGI middleware: add :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _flag(value, name):
    """A true/false query or JSON value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes")
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _pixels_job(predictor, body, details):
    """The work of a JSON request: parse, read the pixels, predict."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"the body is not valid JSON ({_one_line(exc)})") from None
    if not isinstance(payload, dict) or "pixels" not in payload:
        raise ValueError('JSON requests are {"pixels": [[...], ...]} '
                         '(optionally with "preprocess": false)')
    preprocess = _flag(payload.get("preprocess", True), "preprocess")
    image = predictor.image_from_pixels(payload["pixels"])
    return predictor.predict(image, preprocess=preprocess, details=details)


def _image_job(predictor, data, details):
    """The work of an image request: open, decode, preprocess, predict."""
    with predictor.image_from_bytes(data) as image:
        return predictor.predict(image, details=details)


def create_app(model, *, class_names=None, description=None,
               max_upload_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS,
               max_pending=MAX_PENDING, allowed_hosts=None):
    """The web app of one fitted model, as a Starlette (ASGI) application.

    Serve it with any ASGI server; ``perceptron serve`` runs it with uvicorn
    (:func:`perceptron.web.serve`).

    Parameters
    ----------
    model : fitted classifier or str or path-like
        A fitted estimator of square images, or a model file written by
        ``save`` (read with :func:`perceptron.load`).
    class_names : sequence of str, str or None, default=None
        Names shown for ``model.classes_``; ``"fashion-mnist"`` for the
        garments; None takes the model's own ``class_names_`` if it has
        them, else the labels.
    description : str or None, default=None
        A line about the model shown on the page (where it comes from).
    max_upload_bytes : int, default=MAX_UPLOAD_BYTES
        Larger request bodies get 413 (8 MiB).
    max_pixels : int, default=MAX_PIXELS
        Images with more pixels get 400 before they are decoded (24 MP).
    max_pending : int, default=MAX_PENDING
        Predictions waiting or running at once; more get 503.
    allowed_hosts : list of str or None, default=None
        The ``Host`` headers accepted (against DNS rebinding); None accepts
        any.

    Returns
    -------
    app : starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> from perceptron import PerceptronClassifier
    >>> from perceptron.datasets import load_digits
    >>> from perceptron.web import create_app
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PerceptronClassifier(random_state=0).fit(X, y)
    >>> client = TestClient(create_app(clf))
    >>> client.get("/api/model").json()["input"]
    {'height': 8, 'width': 8, 'box': 8}
    >>> answer = client.post("/api/predict", json={"pixels": X[0].reshape(8, 8).tolist(),
    ...                                             "preprocess": False}).json()
    >>> answer["label"] == clf.predict(X[:1])[0], round(sum(answer["probabilities"]), 6)
    (np.True_, 1.0)
    """
    if not hasattr(model, "predict_proba"):
        from .. import load

        model = load(model)
    predictor = Predictor(model, class_names=class_names, max_pixels=max_pixels)
    info = dict(predictor.describe(), description=description or "")
    assets = {route: (files(__package__).joinpath("static", name).read_bytes(), media)
              for route, (name, media) in ASSETS.items()}
    limiter = anyio.CapacityLimiter(WORKER_THREADS)
    pending = 0

    async def asset(request):
        content, media = assets[request.url.path]
        return Response(content, media_type=media, headers={"cache-control": "no-cache"})

    async def api_model(request):
        return JSONResponse(info)

    async def api_predict(request: Request):
        nonlocal pending
        if pending >= max_pending:
            return _error(503, "busy: too many predictions waiting; try again")
        pending += 1
        try:
            return await _predict(request)
        finally:
            pending -= 1

    async def _predict(request):
        try:
            details = _flag(request.query_params.get("details", "true"), "details")
        except ValueError as exc:
            return _error(400, _one_line(exc))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            job = (_pixels_job, await request.body())
        elif kind == "multipart/form-data":
            async with request.form(max_files=1, max_fields=4) as form:
                upload = form.get("image", form.get("file"))
                if upload is None or isinstance(upload, str):
                    return _error(400, "the form needs a file field named 'image'")
                job = (_image_job, await upload.read())
        elif kind.startswith("image/") or kind == "application/octet-stream":
            job = (_image_job, await request.body())
        else:
            return _error(415, "send an image (Content-Type image/png, image/jpeg, ... or "
                               "a multipart form with a file field 'image') or JSON "
                               '{"pixels": [[...]]} with Content-Type application/json')
        work, body = job
        try:
            answer = await anyio.to_thread.run_sync(work, predictor, body, details,
                                                    limiter=limiter)
        except ValueError as exc:
            return _error(400, _one_line(exc))
        return JSONResponse(answer)

    async def http_error(request, exc):
        return _error(exc.status_code, exc.detail)

    async def server_error(request, exc):
        logger.exception("error answering %s %s", request.method, request.url.path)
        return _error(500, f"internal error: {_one_line(exc)}")

    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    middleware.append(Middleware(BodyLimit, max_bytes=max_upload_bytes))
    routes = [Route(path, asset, methods=["GET"]) for path in ASSETS]
    routes += [Route("/api/model", api_model, methods=["GET"]),
               Route("/api/predict", api_predict, methods=["POST"])]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={HTTPException: http_error, 500: server_error})
    app.state.predictor = predictor
    return app
