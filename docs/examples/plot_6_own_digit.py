"""
===================================
6. Recognising your own handwriting
===================================

A model is only as good as the match between its training images and what
you show it. The digits it learned from are white ink on black, centred, and
of a fixed size; a digit you draw is dark ink on white paper, anywhere on a
canvas of any size. :class:`~perceptron.preprocessing.DigitImagePreprocessor`
bridges the gap. Here we draw a digit with Pillow (a stand-in for a photo or
a scan of yours), prepare it, and let a trained MLP read it.
"""

# %%
# Draw a digit
# ------------
# A "7" with a crossbar, in dark blue ink on a white 200x260 canvas, placed
# off-centre. With your own image, skip this and pass the file name instead
# (see the end of this page).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw
from sklearn.exceptions import ConvergenceWarning

from perceptron import MLPDigitClassifier
from perceptron.datasets import load_dataset
from perceptron.preprocessing import DigitImagePreprocessor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short run on purpose

canvas = Image.new("RGB", (200, 260), "white")
pen = ImageDraw.Draw(canvas)
pen.line([(40, 50), (160, 50), (90, 220)], fill=(20, 30, 90), width=18, joint="curve")
pen.line([(70, 135), (140, 135)], fill=(20, 30, 90), width=18)
drawing = np.asarray(canvas)
print(drawing.shape, drawing.dtype)

# %%
# A model trained on the 8x8 digits
# ---------------------------------
X_train, X_test, y_train, y_test = load_dataset("digits")
clf = MLPDigitClassifier(max_iter=100, random_state=0).fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# What goes wrong without preprocessing
# -------------------------------------
# Simply shrinking the drawing to 8x8 gives a light image with dark ink: the
# opposite of every training image, where ink is high and the background is
# zero. The model has never seen anything like it, and its answer means
# nothing.
naive = np.asarray(canvas.convert("L").resize((8, 8))) / 255.0
print("naive prediction:", clf.predict(naive.reshape(1, -1))[0])

# %%
# Preprocess like the training data
# ---------------------------------
# The preprocessor converts to grey, inverts (the background is light),
# removes the background, crops to the ink, scales the digit so that its
# longest side is ``box`` pixels, pastes it in a ``size`` x ``size`` field
# and moves its centre of mass to the centre. The defaults (28 and 20) give
# MNIST's format; the 8x8 digits fill their whole frame, so for them we use
# ``size=8, box=8`` (the command line's ``perceptron predict`` does the same).
mnist_like = DigitImagePreprocessor().transform([drawing])
digits_like = DigitImagePreprocessor(size=8, box=8).transform([drawing])
print(mnist_like.shape, digits_like.shape)

# %%
# Before and after, next to a real "7" of the training set:
panels = [
    (drawing, "your drawing\n200x260 RGB"),
    (naive, "naively shrunk\n8x8"),
    (mnist_like.reshape(28, 28), "MNIST-like\n28x28"),
    (digits_like.reshape(8, 8), "digits-like\n8x8"),
    (X_train[y_train == 7][0].reshape(8, 8), "a training 7\n8x8"),
]


def show(panels, figsize):
    """Images side by side with their titles (grey ones with the ink dark)."""
    fig, axes = plt.subplots(1, len(panels), figsize=figsize)
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(image, cmap=None if image.ndim == 3 else "gray_r")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    plt.show()


show(panels, figsize=(11, 2.8))

# %%
# Predict
# -------
proba = clf.predict_proba(digits_like)[0]
print("prediction:", clf.predict(digits_like)[0])

fig, ax = plt.subplots(figsize=(5, 2.5))
ax.bar(clf.classes_, proba)
ax.set_xticks(clf.classes_)
ax.set_xlabel("digit")
ax.set_ylabel("probability")
ax.set_title("predict_proba of the preprocessed drawing")
fig.tight_layout()
plt.show()

# %%
# In a pipeline
# -------------
# Because the preprocessor is a scikit-learn transformer, it can sit in front
# of the trained classifier: the pipeline then takes raw images (arrays, PIL
# images or file names) and returns digits. The preprocessor learns nothing,
# so the classifier can be trained beforehand on the prepared data.
from sklearn.pipeline import make_pipeline  # noqa: E402

reader = make_pipeline(DigitImagePreprocessor(size=8, box=8), clf)
print("pipeline prediction:", reader.predict([drawing])[0])

# %%
# A photo under uneven light
# --------------------------
# A phone photo of a page is rarely evenly lit: here the same "7" on paper
# that darkens from left to right, as next to a window. With one background
# level for the whole image (``background="border"``: the median of the
# border), the dark side of the paper is darker than that level, so it is
# read as ink: the crop takes the whole right side and the digit is lost.
# The default, ``background="auto"``, sees that the four sides of the image
# are unequally lit, estimates the paper's level at each pixel (a grey
# opening with squares wider than a stroke: the paper without the strokes)
# and subtracts it first (:func:`scipy.ndimage.white_tophat`).
light = np.linspace(0.95, 0.3, drawing.shape[1])[None, :, None]
photo = (drawing * light).astype(np.uint8)
one_level = DigitImagePreprocessor(size=8, box=8, background="border").transform([photo])
local = DigitImagePreprocessor(size=8, box=8).transform([photo])
print("one level:", clf.predict(one_level)[0], " local background:", clf.predict(local)[0])

panels = [(photo, "photo, uneven light"), (one_level.reshape(8, 8), 'background="border"'),
          (local.reshape(8, 8), 'background="auto"')]
show(panels, figsize=(8, 2.9))

# %%
# With your own image file
# ------------------------
# Photograph or scan a digit written with a thick pen, crop it roughly, and
# pass the path (reading files needs Pillow: ``pip install
# "perceptron[image]"``)::
#
#     reader.predict(["my_digit.png"])
#
# or, with a model saved by ``perceptron train``::
#
#     perceptron predict perceptron-output/model.npz my_digit.png --show seen.png
#
# (``--show`` saves the images as the model sees them, after the
# preprocessing). To draw digits with the mouse instead, ``perceptron serve``
# starts a local web app: see :ref:`web_app`.
#
# A thin pen on a large page leaves very faint strokes after shrinking;
# thick strokes and a tight crop work best, as they do for the 8x8 digits.
