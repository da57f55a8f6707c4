"""Draw a digit in the browser and watch a model read it: ``perceptron serve``.

A small local web app: a canvas to draw on (mouse, pen or finger), the
prediction updating as you draw with every class's probability, the small
image the model actually reads after the preprocessing, a CNN's first-layer
feature maps, and an upload button for photos. Behind it, a JSON API
(``POST /api/predict``). See the user guide's page "The web app".

It runs on Starlette and uvicorn, the ``web`` extra::

    pip install "perceptron[web]"
    perceptron serve                # a quick digits CNN, trained once and cached
    perceptron serve model.npz      # your own model

The page is three files shipped in the package; nothing is fetched from the
network, so it works offline.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the web app needs Starlette and uvicorn, the 'web' extra of perceptron; "
        'install them with: pip install "perceptron[web]"') from exc

from ._app import MAX_UPLOAD_BYTES, create_app
from ._predictor import MAX_PIXELS
from ._quick_model import quick_model
from ._serve import serve

__all__ = ["MAX_PIXELS", "MAX_UPLOAD_BYTES", "create_app", "quick_model", "serve"]
