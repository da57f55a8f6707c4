r"""
===========================================================
7. Under the hood: from backpropagation to ``prange`` loops
===========================================================

Every estimator in this package runs on a dozen short Cython functions in
``perceptron/_kernels/``. This tutorial follows one dense layer from the
equations of backpropagation to the code that computes them, checks the
kernels against NumPy and against finite differences, then does the same
for the convolution and for Winograd's faster algorithm for 3x3
convolutions, and ends with how to read the benchmarks.

The kernels are internal (their names start with an underscore and may
change); we call them directly here only to see them work.
"""

# %%
# The math of one dense layer
# ---------------------------
# A batch of :math:`n` samples is a matrix :math:`X` (one sample per row).
# A dense layer with weights :math:`W` and biases :math:`b` computes
#
# .. math::
#
#     Z = X W + b, \qquad A = f(Z)
#
# with :math:`f` applied element by element. Training needs the gradient of
# the loss :math:`L` with respect to :math:`W` and :math:`b`. Suppose the
# layer above has already computed :math:`G = \partial L / \partial A`
# (same shape as :math:`A`). The chain rule then gives, in four lines,
#
# .. math::
#
#     \frac{\partial L}{\partial Z} &= G \odot f'(Z)
#         \qquad\text{(element-wise product)} \\
#     \frac{\partial L}{\partial W} &= X^\top \frac{\partial L}{\partial Z} \\
#     \frac{\partial L}{\partial b} &= \textstyle\sum_{\text{rows}}
#         \frac{\partial L}{\partial Z} \\
#     \frac{\partial L}{\partial X} &= \frac{\partial L}{\partial Z}\, W^\top
#
# and :math:`\partial L / \partial X` is the :math:`G` of the layer below.
# Backpropagation is nothing more than applying these lines layer by layer,
# from the output down. At the top, softmax and cross-entropy combine into
# the simplest gradient of all, :math:`\partial L / \partial Z = (P - Y) / n`
# (predicted probabilities minus one-hot labels, averaged over the batch),
# computed together with the loss in one fused kernel.
#
# Two details make the kernels lean. Every activation's derivative can be
# written with its *output* :math:`A`, e.g. :math:`\text{relu}'(Z) = [A > 0]`
# and :math:`\sigma'(Z) = A(1 - A)`, so :math:`Z` never needs to be kept. And
# the products :math:`XW`, :math:`X^\top G` and :math:`G W^\top` are matrix
# multiplications (GEMMs), which BLAS does better than any loop we could
# write; everything else is a cheap element-wise pass.
#
# From equations to code
# ----------------------
# The :class:`~perceptron.layers.Dense` layer hands each pass to one kernel
# call:
#
# .. literalinclude:: /../perceptron/layers/_dense.py
#    :pyobject: Dense.forward
#    :caption: perceptron/layers/_dense.py
#
# .. literalinclude:: /../perceptron/layers/_dense.py
#    :pyobject: Dense.backward
#
# The GEMMs go to BLAS through ``scipy.linalg.cython_blas``. BLAS is written
# for column-major (Fortran) matrices while NumPy arrays are row-major; the
# trick is that a row-major :math:`C = AB` has the same bytes as the
# column-major :math:`C^\top = B^\top A^\top`, so we ask BLAS for the latter
# and nothing is copied or transposed:
#
# .. literalinclude:: /../perceptron/_kernels/_gemm.pxd
#    :language: cython
#    :start-at: cdef inline void gemm(
#    :end-before: cdef inline int gemm_blocks
#    :caption: perceptron/_kernels/_gemm.pxd
#
# The forward kernel cuts the batch into blocks of rows and gives them to
# the OpenMP threads (``prange``, with the GIL released). A thread computes
# its rows of :math:`XW` with one single-threaded BLAS call, then adds the
# bias and applies :math:`f` to *those rows*, while they are still in its
# core's cache: one parallel region and one pass over memory per layer.
#
# .. literalinclude:: /../perceptron/_kernels/_dense.pyx
#    :language: cython
#    :start-at: def dense_forward
#    :end-before: def dense_backward
#    :caption: perceptron/_kernels/_dense.pyx
#
# The backward kernel has two phases. The first works on rows of :math:`G`:
# multiply by :math:`f'`, then compute the same rows of
# :math:`\partial L / \partial X`, which need nothing else. But every row
# of :math:`\partial L / \partial W = X^\top G` needs *all* rows of
# :math:`G`, so the second phase starts only when every thread has finished
# the first: that is the ``barrier()`` between the two loops. It must be
# written out. Cython turns each ``prange`` inside a ``parallel()`` block into
# an OpenMP loop that does *not* wait for the other threads at its end, and
# without the barrier a fast thread would read rows of :math:`G` that a slow
# one has not finished -- a race that gives slightly different weights from
# run to run, the kind of bug only a test of bit-identical results catches.
# In the second phase each thread computes a block of rows of
# :math:`\partial L / \partial W` and a block of columns of the bias
# gradient. That split matters: a parallel sum over the *rows* would add
# each column in pieces whose order depends on the number of threads, and
# floating-point addition is not associative. Split by columns, each sum is
# done by one thread in row order, and the bias gradient has the same bits
# with 1 or 16 threads.
#
# .. literalinclude:: /../perceptron/_kernels/_dense.pyx
#    :language: cython
#    :start-at: def dense_backward
#    :end-before: def l2_penalty
#
# A product too small to share (under 262,144 multiply-adds, like the last
# layer's) runs on one thread: waking the others would cost more than it
# saves (``gemm_blocks`` in ``_gemm.pxd``; ``threads_for`` in ``_openmp.pxd``
# does the same for element-wise loops).

# %%
# A whole training step in one call
# ---------------------------------
# Layer by layer, the threads meet at the end of every kernel and at the
# barriers inside them: nine times per step for a 784-100-100-10 network
# (gather, two layers forward, two back, optimizer), and each time the
# faster thread waits. The small last layer and the loss are not worth sharing, so one
# thread does them while the other waits too. For a plain stack of dense
# layers (the perceptron and the MLP) the training loop therefore calls one
# kernel per mini-batch, ``dense_stack_step`` in ``_stack.pyx``, which does
# the whole step -- gather, forward, loss, backward, optimizer update -- in
# one parallel region with three barriers. Each part is shared where its data
# lives:
#
# * the first layer (784 x 100, most of the arithmetic) by **input
#   features**: the pixel columns are cut into blocks, and for each block of
#   its own a thread gathers those columns of the batch and multiplies them
#   by the same rows of :math:`W_1` into a partial product of the block's own;
# * everything above it by **rows of the batch** (data parallelism): the
#   batch is cut into chunks, and for each chunk of its own a thread adds up
#   the partial products of the chunk's rows (in block order) and takes them
#   through the other layers, the loss and back, summing the chunk's weight
#   gradients into a gradient vector of the chunk's own;
# * the end of the backward pass and the update by **blocks of the
#   parameter vector**: a thread computes the gradient of the rows of
#   :math:`W_1` it multiplied, adds the chunks' gradients of its block of
#   the other parameters in chunk order, checks that its blocks of the
#   gradient are finite, and -- once every thread has said so -- applies
#   Adam (or SGD, RMSprop) to exactly those parameters.
#
# So a thread reads and updates only its own rows of :math:`W_1` and its own
# share of Adam's moments, step after step, and they stay in its core's
# cache, and the threads meet only three times per step (:doc:`/benchmarks`
# has the measured speed-up from one thread to two). The blocks and chunks
# are cut from the shapes alone, never from the number of threads, and each
# sum across them is added in the same order: the threads only decide who
# computes which part, so a step gives the same bits on any number of
# threads.
#
# .. literalinclude:: /../perceptron/_kernels/_stack.pyx
#    :language: cython
#    :start-at: with nogil, parallel(num_threads=team):
#    :end-before: for b in range(n_blocks + parts):
#    :caption: perceptron/_kernels/_stack.pyx
#
# The layer-by-layer kernels above stay the reference: the tests check that
# both paths give the same gradients and updates, and every other network
# (the CNN) trains with them.

# %%
# Checking the kernels
# --------------------
# Now let us run the kernels on a small batch and compare them with the same
# equations written in NumPy. The tests' module ``_testing`` has one-step
# kernels, one per line of the equations, on the same row helpers as the
# fused kernels (``matmul`` writes into a preallocated output; the
# element-wise ones work in place); running them one after the other must
# give what the fused kernels give in one call.
import matplotlib.pyplot as plt
import numpy as np

from perceptron._kernels import _conv, _dense, _testing

rng = np.random.default_rng(0)
n, d_in, d_out = 32, 20, 8
X = rng.normal(size=(n, d_in))
W = rng.normal(size=(d_in, d_out)) / np.sqrt(d_in)
b = rng.normal(size=d_out)
RELU = 1  # the kernels' activation code (see perceptron.layers.ACTIVATIONS)

A = np.empty((n, d_out))
_dense.dense_forward(X, W, b, A, RELU)           # A = relu(X @ W + b), one call
print("forward matches NumPy:", np.allclose(A, np.maximum(X @ W + b, 0)))

A_steps = np.empty((n, d_out))
_testing.matmul(X, W, A_steps)                     # A = X @ W
_testing.bias_activation_forward(A_steps, b, RELU)  # A = relu(A + b), in place
print("one step at a time, the same:", np.allclose(A, A_steps))

G = rng.normal(size=(n, d_out))                  # pretend dL/dA from above
dZ = G.copy()                                    # becomes dL/dZ, in place
dW, db, dX = np.empty_like(W), np.empty_like(b), np.empty_like(X)
_dense.dense_backward(X, A, dZ, W, dW, db, dX, RELU)
print("backward matches NumPy:",
      np.allclose(dW, X.T @ (G * (A > 0))), np.allclose(db, (G * (A > 0)).sum(0)),
      np.allclose(dX, (G * (A > 0)) @ W.T))

# %%
# Matching NumPy only proves that the kernels compute the equations above;
# are the *equations* right? A finite-difference check answers that without
# any calculus: take the scalar loss :math:`L = \sum G \odot A` (whose
# gradient with respect to :math:`A` is exactly :math:`G`), nudge one weight
# by :math:`\pm\varepsilon`, and compare the change of :math:`L` with the
# analytic gradient.


def loss(W_):
    return float(np.sum(G * np.maximum(X @ W_ + b, 0)))


eps = 1e-6
numeric = np.zeros_like(W)
for i in range(d_in):
    for j in range(d_out):
        step = np.zeros_like(W)
        step[i, j] = eps
        numeric[i, j] = (loss(W + step) - loss(W - step)) / (2 * eps)
print(f"largest |analytic - numeric|: {np.abs(dW - numeric).max():.2e}")

# %%
# The convolution
# ---------------
# A convolution becomes the same dense-layer algebra after one
# rearrangement, *im2col*: for every output pixel, copy the
# :math:`k_h \times k_w \times C` patch of the input it looks at into one row
# of a matrix. The convolution of the whole batch is then a single GEMM,
# ``cols @ W``, followed by the bias + activation pass. Images are stored
# NHWC (channels last), so each row of a patch is one contiguous block of
# memory, and the GEMM's output *is* the NHWC output image. The backward
# pass uses the four lines above with ``cols`` in place of :math:`X`, plus
# *col2im*, which adds each row of :math:`\partial L / \partial\,\text{cols}`
# back onto the pixels it was copied from.
#
# Here is im2col on a tiny 4x4 image with a 3x3 kernel and "same" padding:
# 16 output pixels, so 16 rows of 9 values, zeros where the patch hangs over
# the border.
image = np.arange(1.0, 17.0).reshape(1, 4, 4, 1)     # (n, H, W, C)
cols = np.empty((16, 9))
_conv.im2col(image, cols, 3, 3, 1, 1, 1, 4, 4)       # kh, kw, stride, pad top/left, Ho, Wo
print(image[0, :, :, 0])
print(cols[:5])                                     # the patches of the first 5 pixels

fig, axes = plt.subplots(1, 2, figsize=(7, 3), gridspec_kw={"width_ratios": [1, 2.2]})
axes[0].imshow(image[0, :, :, 0], cmap="viridis")
axes[0].set_title("4x4 image")
axes[1].imshow(cols, cmap="viridis")
axes[1].set_title("im2col: one row per output pixel")
axes[1].set_xlabel("3x3 patch, flattened")
axes[1].set_ylabel("output pixel")
fig.tight_layout()
plt.show()

# %%
# In the layer, these steps run fused in ``conv_forward``: the batch is cut
# into blocks of a few samples, and each thread takes the next block and
# does im2col, the GEMM and the bias + activation while the block is still
# in its core's cache. Done step by step over the whole batch, the ``cols``
# matrix (tens of megabytes for a real network) would stream through memory
# three times, which costs more than the arithmetic:
#
# .. literalinclude:: /../perceptron/_kernels/_conv.pyx
#    :language: cython
#    :start-at: def conv_forward
#    :end-before: def conv_backward
#    :caption: perceptron/_kernels/_conv.pyx
#
# Let us check the whole convolution against a direct, loop-by-loop
# definition on a random batch:
x = rng.normal(size=(2, 6, 6, 3))                   # 2 images, 6x6, 3 channels
kh = kw = 3
F = 4
Wc = rng.normal(size=(kh * kw * 3, F))
bc = rng.normal(size=F)
out = np.empty((2, 4, 4, F))                        # "valid": 6 - 3 + 1 = 4
cols = np.empty((2 * 4 * 4, kh * kw * 3))
_conv.conv_forward(x, cols, Wc, bc, out, kh, kw, 1, 0, 0, RELU)

kernel = Wc.reshape(kh, kw, 3, F)                   # row (ky * kw + kx) * C + c
direct = np.zeros_like(out)
for i in range(2):
    for oy in range(4):
        for ox in range(4):
            patch = x[i, oy:oy + kh, ox:ox + kw, :]
            direct[i, oy, ox] = np.tensordot(patch, kernel, axes=3) + bc
print("conv_forward matches the definition:", np.allclose(out, np.maximum(direct, 0)))

# %%
# Fewer multiplications: Winograd's algorithm
# -------------------------------------------
# im2col spends 9 multiply-adds per output pixel, input channel and filter
# of a 3x3 convolution. Winograd's *minimal filtering* (Lavin & Gray, 2016)
# gets the same outputs with fewer. In one dimension, two outputs of a
# 3-tap filter :math:`g` over four inputs :math:`d` need 6 multiplications
# done directly, but only 4 as
#
# .. math::
#
#     y = A^\top \left[ (G g) \odot (B^\top d) \right]
#
# with the small matrices below: :math:`G g` depends only on the weights
# (computed once per batch), :math:`B^\top d` only on the input, and the 4
# products of :math:`\odot` are the only ones that touch both.
BT2 = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
G2 = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
AT2 = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])
d, g = rng.normal(size=4), rng.normal(size=3)
print("F(2, 3):", AT2 @ ((G2 @ g) * (BT2 @ d)), " direct:", np.array([d[0:3] @ g, d[1:4] @ g]))

# %%
# Applying the 1D algorithm along the rows and the columns of a tile gives
# :math:`Y = A^\top [(G g G^\top) \odot (B^\top d B)] A`. The kernels use the
# bigger F(4x4, 3x3): a 4x4 tile of outputs from a 6x6 tile of inputs with
# 36 products instead of 144. Its matrices, ``_winograd.transforms()``, must
# reproduce a direct convolution of the tile:
from perceptron._kernels import _winograd

BT, G4, AT = _winograd.transforms()
print("A^T =\n", AT)
tile, kernel3 = rng.normal(size=(6, 6)), rng.normal(size=(3, 3))
direct = np.array([[np.sum(tile[u:u + 3, v:v + 3] * kernel3) for v in range(4)]
                   for u in range(4)])
winograd = AT @ ((G4 @ kernel3 @ G4.T) * (BT @ tile @ BT.T)) @ AT.T
print("F(4x4, 3x3) reproduces the direct convolution:", np.allclose(winograd, direct))

# %%
# With :math:`C` input channels and :math:`F` filters the sum over channels
# moves inside the brackets (the transforms are linear), so for each of the
# 36 positions of a transformed tile, all the tiles of a block of images
# are multiplied at once: a GEMM of ``(tiles, C) @ (C, F)``. The backward
# pass is the same products transposed, in reverse order; the derivation is
# the docstring of ``perceptron/_kernels/_winograd.pyx``. In NHWC each pixel
# of a tile is a vector of channels, and each 1D transform is one loop per
# row of its matrix, over the channels:
#
# .. literalinclude:: /../perceptron/_kernels/_winograd.pyx
#    :language: cython
#    :start-at: cdef inline void _Bt(
#    :end-before: cdef inline void _B(
#    :caption: perceptron/_kernels/_winograd.pyx
#
# A block of samples then goes through the input transform, the 36 GEMMs
# and the output transform, with the bias and activation, while it is in
# the core's cache:
#
# .. literalinclude:: /../perceptron/_kernels/_winograd.pyx
#    :language: cython
#    :start-at: cdef void _forward_block(
#    :end-before: cdef void _backward_block(
#
# The Winograd kernel computes what ``conv_forward`` (im2col) computes,
# here on images whose sides are not multiples of 4, so that tiles hang over
# the zero padding:
xw = rng.normal(size=(2, 9, 7, 8))                  # 2 images, 9x7, 8 channels
Ww = rng.normal(size=(9 * 8, 5)) / 8
bw = rng.normal(size=5)
by_im2col, by_winograd = np.empty((2, 9, 7, 5)), np.empty((2, 9, 7, 5))
_conv.conv_forward(xw, np.empty((2 * 9 * 7, 9 * 8)), Ww, bw, by_im2col, 3, 3, 1, 1, 1, RELU)
_winograd.winograd_forward(xw, Ww, bw, by_winograd, 1, 1, RELU)   # pad top/left, act
print("winograd_forward matches im2col:", np.allclose(by_winograd, by_im2col))

# %%
# A :class:`~perceptron.layers.Conv2D` layer takes this path by itself for a
# 3x3 kernel with stride 1 and at least 8 input channels (with fewer, the
# transforms cost more than they save); its ``path`` attribute says which.
# In :class:`~perceptron.ConvDigitClassifier`'s default network the first
# convolution (one channel) uses im2col and the two others Winograd. In
# float32 the transforms round a little more than im2col's dot products (a
# few 1e-7 of the results' scale), which does not change training.
from perceptron.layers import Conv2D

for channels in (1, 32):
    layer = Conv2D(64, 3, padding="same")
    layer.build((14, 14, channels), np.float32)
    print(f"3x3 convolution of {channels:2d} channels:", layer.path)

# %%
# Reading the benchmarks
# ----------------------
# The :doc:`/benchmarks` page shows how fast these kernels train a real
# network compared with scikit-learn (NumPy code on top of BLAS) and PyTorch.
# Three things to keep in mind when reading it:
#
# * **Ratios, not seconds.** The three libraries run their epochs
#   interleaved in one process, so a busy machine slows all of them alike;
#   ``ratio vs ours`` (their time / our time) is the robust number. The
#   ``others`` column says how busy the machine was.
# * **Where the time goes.** For an MLP most of the arithmetic is in the
#   three GEMMs per layer, which all three libraries hand to an optimised
#   BLAS; the differences come from what surrounds them: copies, temporary
#   arrays, passes over memory, Python overhead per batch. Fused kernels that
#   work in place make fewer passes over memory.
# * **Threads.** The thread-scaling rows compare 1 and N threads of the
#   same library. A speed-up well below N, with ``CPU/wall`` below N, means
#   threads were waiting, often for a core another program held.
