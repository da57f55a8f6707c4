"""Kernels of the dense engine against NumPy references and finite differences."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from perceptron._kernels import _dense, _dropout, _loss, _optim, _testing
from perceptron._network import Network
from perceptron.layers import Dense, Dropout

ACT = {"identity": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
NUMPY_ACT = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(37, 23, 11), (301, 203, 53)])  # serial, shared
def test_matmul_matches_numpy(dtype, trans_a, trans_b, n_threads, m, k, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    expected = 0.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) + 2.0 * c
    _testing.matmul(a, b, c, trans_a, trans_b, alpha=0.5, beta=2.0, n_threads=n_threads)
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_take_rows_gathers_a_batch(n_threads):
    x = np.arange(5000 * 30, dtype=np.float32).reshape(5000, 30)
    rows = np.random.default_rng(0).permutation(5000)[:2000].astype(np.intp)
    out = np.empty((2000, 30), dtype=np.float32)
    _dense.take_rows(x, rows, out, n_threads)
    np.testing.assert_array_equal(out, x[rows])
    with pytest.raises(IndexError):
        _dense.take_rows(x, np.array([5000], dtype=np.intp), out[:1], 1)


def test_matmul_rejects_mismatched_shapes():
    a = np.ones((3, 4)); b = np.ones((5, 2)); c = np.ones((3, 2))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _testing.matmul(a, b, c)


@pytest.mark.parametrize("activation", list(ACT))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_activation_forward(activation, dtype):
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((400, 97)) * 5).astype(dtype)  # big enough to share
    b = rng.standard_normal(97).astype(dtype)
    expected = NUMPY_ACT[activation](z + b)
    _testing.bias_activation_forward(z, b, ACT[activation], 2)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)


def test_sigmoid_does_not_overflow():
    z = np.array([[-1000.0, 1000.0, 0.0]])
    _testing.bias_activation_forward(z, np.zeros(3), ACT["sigmoid"], 1)
    np.testing.assert_allclose(z, [[0.0, 1.0, 0.5]])


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
def test_activation_backward_is_derivative(activation):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((9, 5))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from relu's kink
    f = NUMPY_ACT[activation]
    a = f(z)
    grad = np.ones_like(z)
    _testing.activation_backward(a, grad, ACT[activation], 2)
    eps = 1e-6
    numeric = (f(z + eps) - f(z - eps)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(9, 5, 3), (128, 784, 100), (64, 1000, 7), (100, 90, 80),
                                   (3000, 40, 30), (1, 1, 1)])
def test_dense_forward_matches_numpy(activation, dtype, m, k, n):
    """One call = GEMM + bias + activation, every way of sharing it among threads.

    Serial (small), split by input features (128x784 @ 784x100, 64x1000 @
    1000x7), one block of rows per thread (100x90 @ 90x80), dynamic blocks of
    rows (3000 rows).
    """
    rng = np.random.default_rng(8)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    expected = NUMPY_ACT[activation](x.astype(np.float64) @ w + b)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for n_threads in (1, 2):
        out = np.full((m, n), np.nan, dtype=dtype)
        _dense.dense_forward(x, w, b, out, ACT[activation], n_threads)
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("m,k,n", [(9, 5, 3), (128, 784, 100), (600, 130, 40), (2, 300, 1),
                                   (4000, 20, 30)])  # 20 features: one thread gets no dw rows
@pytest.mark.parametrize("need_dx", [True, False])
def test_dense_backward_matches_numpy(activation, m, k, n, need_dx):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((m, k))
    w = rng.standard_normal((k, n)) / np.sqrt(k)
    a = NUMPY_ACT[activation](x @ w)
    grad = rng.standard_normal((m, n))
    dz = grad.copy()
    _testing.activation_backward(a, dz, ACT[activation], 1)  # the one-step kernel
    bias_sums = []
    for n_threads in (1, 2):
        g = grad.copy()
        dw, db = np.full((k, n), np.nan), np.full(n, np.nan)
        dx = np.full((m, k), np.nan) if need_dx else None
        _dense.dense_backward(x, a, g, w, dw, db, dx, ACT[activation], n_threads)
        np.testing.assert_allclose(g, dz, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dw, x.T @ dz, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-12, atol=1e-12)
        if need_dx:
            np.testing.assert_allclose(dx, dz @ w.T, rtol=1e-10, atol=1e-10)
        bias_sums.append(db)
    np.testing.assert_array_equal(bias_sums[0], bias_sums[1])  # same bits, any thread count


def test_dense_kernels_reject_mismatched_shapes():
    x, w, b = np.zeros((4, 3)), np.zeros((3, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="dense_forward shapes"):
        _dense.dense_forward(x, w, np.zeros(3), np.empty((4, 2)), 0)
    with pytest.raises(ValueError, match="dense_forward shapes"):
        _dense.dense_forward(x, w, b, np.empty((4, 3)), 0)
    a, g = np.zeros((4, 2)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="do not agree"):
        _dense.dense_backward(x, a, g, w, np.empty((2, 2)), np.empty(2))
    with pytest.raises(ValueError, match="dx must have shape"):
        _dense.dense_backward(x, a, g, w, np.empty((3, 2)), np.empty(2), np.empty((4, 2)))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bias_grad_and_l2_penalty(n_threads):
    rng = np.random.default_rng(3)
    g = rng.standard_normal((500, 130))
    out = np.empty(130)
    _testing.bias_grad(g, out, n_threads)
    np.testing.assert_allclose(out, g.sum(axis=0))
    x = rng.standard_normal(100_000)
    g = rng.standard_normal(100_000)
    expected = g + 0.01 * x
    assert _dense.l2_penalty(x, g, 0.01, n_threads) == pytest.approx(np.sum(x**2))
    np.testing.assert_allclose(g, expected)


def _numpy_softmax_ce(z, y):
    zs = z - z.max(axis=1, keepdims=True)
    p = np.exp(zs) / np.exp(zs).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).sum()
    onehot = np.eye(z.shape[1])[y]
    return loss, p - onehot


def _numpy_sigmoid_bce(z, y):
    s = 1 / (1 + np.exp(-z))
    t = np.eye(z.shape[1])[y]
    loss = -(t * np.log(s) + (1 - t) * np.log(1 - s)).sum()
    return loss, s - t


@pytest.mark.parametrize("n_threads", [1, 2])
def test_sigmoid_proba_is_normalised_sigmoids(n_threads):
    z = np.random.default_rng(0).normal(scale=5, size=(3000, 10))
    z[0, :3] = [1000.0, -1000.0, 0.0]  # no overflow either way
    expected = 1 / (1 + np.exp(-np.clip(z, -700, 700)))
    expected /= expected.sum(axis=1, keepdims=True)
    _loss.probabilities(z, 2, n_threads)
    np.testing.assert_allclose(z, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kernel,reference", [
    (_loss.softmax_cross_entropy, _numpy_softmax_ce),
    (_loss.sigmoid_binary_cross_entropy, _numpy_sigmoid_bce),
])
def test_fused_losses_match_numpy_and_finite_differences(kernel, reference):
    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6).astype(np.intp)
    grad = np.empty_like(z)
    loss, n_correct = kernel(z, y, grad, 1.0, 2)
    ref_loss, ref_grad = reference(z, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert n_correct == np.count_nonzero(z.argmax(axis=1) == y)
    np.testing.assert_allclose(grad, ref_grad, atol=1e-12)
    # finite differences of the kernel's own loss
    eps = 1e-6
    scratch = np.empty_like(z)
    for i, j in [(0, 0), (3, 2), (5, 3)]:
        zp, zm = z.copy(), z.copy()
        zp[i, j] += eps
        zm[i, j] -= eps
        numeric = (kernel(zp, y, scratch, 1.0, 1)[0]
                   - kernel(zm, y, scratch, 1.0, 1)[0]) / (2 * eps)
        assert grad[i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("kernel,reference", [
    (_loss.softmax_cross_entropy, _numpy_softmax_ce),
    (_loss.sigmoid_binary_cross_entropy, _numpy_sigmoid_bce),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_losses(kernel, reference, dtype):
    """Row i's loss times w_i, its gradient times scale * w_i; weights of 1
    give the unweighted kernel's bits; a weight of 0 a zero gradient."""
    rng = np.random.default_rng(5)
    z = (rng.standard_normal((3000, 7)) * 3).astype(dtype)
    y = rng.integers(0, 7, 3000).astype(np.intp)
    w = rng.random(3000) * 4
    w[::5] = 0
    rows_loss, rows_grad = zip(*(reference(z[i:i + 1].astype(np.float64), y[i:i + 1])
                                 for i in range(3000)))
    grad = np.empty_like(z)
    loss, n_correct = kernel(z, y, grad, 0.25, 2, w)
    assert loss == pytest.approx(np.dot(w, rows_loss), rel=1e-6 if dtype == np.float32 else 1e-12)
    assert n_correct == np.count_nonzero(z.argmax(axis=1) == y)  # not weighted
    np.testing.assert_allclose(grad, 0.25 * w[:, None] * np.concatenate(rows_grad),
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    assert not grad[::5].any()
    plain, ones = np.empty_like(z), np.empty_like(z)
    assert kernel(z, y, plain, 0.25, 2) == kernel(z, y, ones, 0.25, 2, np.ones(3000))
    np.testing.assert_array_equal(plain, ones)
    with pytest.raises(ValueError, match="sample_weight and z differ in length"):
        kernel(z, y, grad, 0.25, 2, w[:-1])


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    grad = np.empty_like(z)
    loss, n_correct = _loss.softmax_cross_entropy(z, np.array([0, 1], dtype=np.intp), grad)
    assert np.isfinite(loss)
    assert n_correct == 1  # the three-way tie goes to class 0, as argmax does, not to y=1
    _loss.probabilities(z, 1)
    np.testing.assert_allclose(z, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", [1, 2], ids=["softmax", "sigmoids"])
def test_probabilities_are_finite_for_any_logits(dtype, output):
    """Overflowed logits (+-inf, NaN from inf - inf), huge and very negative
    ones: every row finite, summing to one."""
    big = np.finfo(dtype).max
    inf, nan = np.inf, np.nan
    z = np.array([[inf, 0, 1], [-inf, 0, 1], [big, big, 0], [-big, -big, -big],
                  [inf, inf, -inf], [-inf, -inf, -inf], [nan, 1, 2], [nan, nan, nan],
                  [nan, -inf, -inf], [1e30, -1e30, 0], [-1e4, -1e4 + 1, -1e4 + 2],
                  [-800, -1e3, -900], [big, -big, 0]], dtype=dtype)
    rng = np.random.default_rng(0)
    z = np.concatenate([z, (rng.standard_normal((300, 3)) * 10.0 ** rng.integers(
        -3, 38, (300, 1))).astype(dtype)])
    p = z.copy()
    _loss.probabilities(p, output)
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6 if dtype == np.float32 else 1e-12)
    # the limits: +inf counts as sigmoid 1 (softmax: the classes at +inf share
    # everything); no usable logit: uniform; a NaN logit gets nothing
    if output == 1:
        np.testing.assert_array_equal(p[0], [1, 0, 0])
    np.testing.assert_array_equal(p[4], [0.5, 0.5, 0])
    np.testing.assert_allclose(p[[5, 7, 8]], 1 / 3)
    assert p[6, 0] == 0
    # the largest logit has the largest probability (argmax is the prediction)
    finite = np.isfinite(z).all(axis=1)
    assert (p[finite].max(axis=1) == p[finite, z[finite].argmax(axis=1)]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalised_sigmoids_tend_to_softmax_when_all_underflow(dtype):
    """sigmoid(z_k) / sum_j sigmoid(z_j) with every sigmoid about exp(z_k)."""
    z = np.array([[-1e4, -1e4 + 1, -1e4 + 2], [-200.0, -201.0, -230.0]], dtype=dtype)
    p, expected = z.copy(), z.copy()
    _loss.probabilities(p, 2)
    _loss.probabilities(expected, 1)
    np.testing.assert_allclose(p, expected, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("kernel,reference", [
    (_loss.softmax_cross_entropy, _numpy_softmax_ce),
    (_loss.sigmoid_binary_cross_entropy, _numpy_sigmoid_bce),
])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fused_losses_in_float32_in_place(kernel, reference, n_threads):
    """float32 logits, gradient written over them, enough rows to use threads."""
    rng = np.random.default_rng(7)
    z = (rng.standard_normal((5000, 10)) * 4).astype(np.float32)
    y = rng.integers(0, 10, 5000).astype(np.intp)
    ref_loss, ref_grad = reference(z.astype(np.float64), y)
    expected_correct = np.count_nonzero(z.argmax(axis=1) == y)
    loss, n_correct = kernel(z, y, z, 0.5, n_threads)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert n_correct == expected_correct
    np.testing.assert_allclose(z, 0.5 * ref_grad, atol=1e-6)


def test_loss_rejects_out_of_range_labels():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="out of range"):
        _loss.softmax_cross_entropy(z, np.array([0, 3], dtype=np.intp), np.empty_like(z))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_matches_sklearn_formula(nesterov):
    rng = np.random.default_rng(5)
    w, g, v = rng.standard_normal(30), rng.standard_normal(30), rng.standard_normal(30)
    v_new = 0.9 * v - 0.1 * g
    w_new = w + (0.9 * v_new - 0.1 * g if nesterov else v_new)
    _optim.sgd_update(w, g, v, 0.1, 0.9, nesterov, 2)
    np.testing.assert_allclose(v, v_new)
    np.testing.assert_allclose(w, w_new)


def test_adam_and_rmsprop_updates():
    rng = np.random.default_rng(6)
    w, g = rng.standard_normal(30), rng.standard_normal(30)
    m, v = rng.random(30), rng.random(30)
    m_new = 0.9 * m + 0.1 * g
    v_new = 0.999 * v + 0.001 * g**2
    w_new = w - 0.01 * m_new / (np.sqrt(v_new) + 1e-8)
    w2 = w.copy()
    _optim.adam_update(w2, g, m, v, 0.01, 0.9, 0.999, 1e-8, 2)
    np.testing.assert_allclose(w2, w_new)
    s = rng.random(30)
    s_new = 0.9 * s + 0.1 * g**2
    w_new = w - 0.01 * g / (np.sqrt(s_new) + 1e-7)
    _optim.rmsprop_update(w, g, s, 0.01, 0.9, 1e-7, 2)
    np.testing.assert_allclose(w, w_new)


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_optimizer_updates_shared_by_threads_touch_every_value_once(solver):
    """Large enough to use both threads: each chunk updated once, by one thread.

    (A chunk bound that the threads shared instead of each keeping its own
    once let a thread update the other's chunk a second time, now and then.)
    """
    rng = np.random.default_rng(7)
    n = 200_003
    g = rng.standard_normal(n)
    for _ in range(20):
        w, state, state2 = rng.standard_normal(n), rng.random(n), rng.random(n)
        w0, s0, s20 = w.copy(), state.copy(), state2.copy()
        if solver == "sgd":
            _optim.sgd_update(w, g, state, 0.1, 0.9, True, 2)
            v_new = 0.9 * s0 - 0.1 * g
            expected = w0 + 0.9 * v_new - 0.1 * g
        elif solver == "adam":
            _optim.adam_update(w, g, state, state2, 0.01, 0.9, 0.999, 1e-8, 2)
            m_new, v_new = 0.9 * s0 + 0.1 * g, 0.999 * s20 + 0.001 * g**2
            expected = w0 - 0.01 * m_new / (np.sqrt(v_new) + 1e-8)
        else:
            _optim.rmsprop_update(w, g, state, 0.01, 0.9, 1e-7, 2)
            expected = w0 - 0.01 * g / (np.sqrt(0.9 * s0 + 0.1 * g**2) + 1e-7)
        np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-12)


def test_dropout_mask_is_inverted_and_deterministic():
    x = np.ones((200, 50), dtype=np.float32)
    m1 = np.empty_like(x)
    _dropout.dropout_forward(x, m1, 0.3, 1234, 2)
    x2 = np.ones_like(x)
    m2 = np.empty_like(x)
    _dropout.dropout_forward(x2, m2, 0.3, 1234, 1)
    np.testing.assert_array_equal(m1, m2)  # independent of the thread count
    assert set(np.unique(m1)) == {0.0, np.float32(1 / 0.7)}
    assert abs((m1 == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(x, m1)
    x3 = np.ones_like(x)
    _dropout.dropout_forward(x3, m2, 0.3, 99, 1)
    assert not np.array_equal(m1, m2)


# ---------------------------------------------------------------- network-level
def _loss_of(net, X, y, alpha, sample_weight=None):
    """Loss of the network in training mode, with fixed dropout masks."""
    saved = [(layer, layer.rng.bit_generator.state) for layer in net.layers
             if isinstance(layer, Dropout)]
    loss, _ = net.train_step(X, y, alpha, sample_weight)
    for layer, state in saved:
        layer.rng.bit_generator.state = state
    return loss


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
@pytest.mark.parametrize("dropout", [0.0, 0.4])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_network_gradient_matches_finite_differences(activation, output, dropout, weighted):
    """Backprop through dense + activation + dropout + fused loss + L2, in
    float64; with sample weights, of the weighted mean loss."""
    rng = np.random.default_rng(7)
    w = np.array([0.5, 0.0, 2.0, 1.0, 3.0, 0.25, 1.0, 7.0]) if weighted else None
    layers = [Dense(6, activation)]
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(5, activation), Dense(3)]
    net = Network(layers, output=output, dtype=np.float64).build((4,), rng)
    net.set_n_threads(2)
    X = rng.standard_normal((8, 4))
    y = rng.integers(0, 3, 8).astype(np.intp)
    alpha = 0.1
    if activation == "relu":
        net.params += 0.05  # move pre-activations off relu's kink
    _loss_of(net, X, y, alpha, w)
    analytic = net.grads.copy()
    eps = 1e-6
    for i in range(0, net.params.size, 3):
        old = net.params[i]
        net.params[i] = old + eps
        lp = _loss_of(net, X, y, alpha, w)
        net.params[i] = old - eps
        lm = _loss_of(net, X, y, alpha, w)
        net.params[i] = old
        assert analytic[i] == pytest.approx((lp - lm) / (2 * eps), rel=1e-4, abs=1e-7), i


def test_network_matches_numpy_reference_forward_backward():
    """A 4-3-2 sigmoid net computed by hand in NumPy."""
    rng = np.random.default_rng(8)
    net = Network([Dense(3, "sigmoid"), Dense(2)], dtype=np.float64).build((4,), rng)
    W1, b1 = net.layers[0].params["W"].copy(), rng.standard_normal(3)
    net.layers[0].params["b"][...] = b1
    W2, b2 = net.layers[1].params["W"].copy(), net.layers[1].params["b"].copy()
    X = rng.standard_normal((5, 4))
    y = np.array([0, 1, 1, 0, 1], dtype=np.intp)
    # NumPy reference
    A1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    Z2 = A1 @ W2 + b2
    P = np.exp(Z2) / np.exp(Z2).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(P[np.arange(5), y]))
    D2 = (P - np.eye(2)[y]) / 5
    dW2, db2 = A1.T @ D2, D2.sum(axis=0)
    D1 = D2 @ W2.T * A1 * (1 - A1)
    dW1, db1 = X.T @ D1, D1.sum(axis=0)
    got, _ = net.train_step(X, y, 0.0)
    assert got == pytest.approx(loss, rel=1e-12)
    for layer, (dW, db) in zip(net.layers, [(dW1, db1), (dW2, db2)]):
        np.testing.assert_allclose(layer.grads["W"], dW, atol=1e-12)
        np.testing.assert_allclose(layer.grads["b"], db, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_one_bad_value_anywhere(dtype, n_threads, bad):
    from perceptron._kernels._isfinite import all_finite

    x = np.random.default_rng(0).standard_normal(100_003).astype(dtype) * 1e30
    assert all_finite(x, n_threads)
    for where in (0, 15, 16, 50_000, 100_002):  # chunk edges, SIMD tails
        x_bad = x.copy()
        x_bad[where] = bad
        assert not all_finite(x_bad, n_threads)
    assert all_finite(x[:0], n_threads)
    assert all_finite(np.array([np.finfo(dtype).max, -np.finfo(dtype).max], dtype=dtype))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("bad,message", [(np.nan, "Input X contains NaN"),
                                         (np.inf, "Input X contains infinity")])
def test_estimators_reject_nan_and_inf_like_sklearn(bad, message):
    from perceptron import MLPDigitClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 6)), rng.integers(0, 2, 40)
    clf = MLPDigitClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, y)
    before = clf.coefs_[0].copy()
    X_bad = X.copy()
    X_bad[7, 3] = bad
    with pytest.raises(ValueError, match=message):
        clf.partial_fit(X_bad, y)
    with pytest.raises(ValueError, match=message):
        clf.predict(X_bad)
    np.testing.assert_array_equal(clf.coefs_[0], before)  # the model is untouched
    # a float64 value too large for float32 becomes inf on conversion: caught too
    X_big = X.copy()
    X_big[0, 0] = 1e300
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict(X_big)


@pytest.mark.parametrize("m,k,n", [(9, 5, 3), (128, 784, 100), (3000, 40, 30)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_dense_forward_checks_its_input_when_asked(m, k, n, bad, n_threads):
    """Every way of sharing the product finds one bad value anywhere in x."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = np.zeros(n, dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    assert _dense.dense_forward(x, w, b, out, 1, n_threads, True)
    np.testing.assert_allclose(out, np.maximum(x @ w, 0), rtol=1e-4, atol=1e-4)
    for i, j in [(0, 0), (m - 1, k - 1), (m // 2, k // 3)]:
        x_bad = x.copy()
        x_bad[i, j] = bad
        assert not _dense.dense_forward(x_bad, w, b, out, 1, n_threads, True)
        assert _dense.dense_forward(x_bad, w, b, out, 1, n_threads)  # not asked: no check


def test_layers_check_their_input_at_predict_time():
    from perceptron.layers import Conv2D, Dense

    rng = np.random.default_rng(11)
    dense, conv = Dense(3, "relu"), Conv2D(2, 3)
    for layer, shape in [(dense, (5,)), (conv, (6, 6, 1))]:
        layer.build(shape, np.float64)
        layer.bind({k: np.empty(s) for k, s in layer.param_shapes.items()},
                   {k: np.empty(s) for k, s in layer.param_shapes.items()})
        layer.init_params(rng)
        X = rng.standard_normal((4,) + shape)
        checked = layer.forward_checked(X).copy()  # (layers reuse their output buffer)
        np.testing.assert_allclose(checked, layer.forward(X), rtol=1e-12, atol=1e-12)
        X.reshape(-1)[7] = np.nan
        assert layer.forward_checked(X) is None


@pytest.mark.parametrize("output", ["softmax", "logistic"])
def test_weighted_loss_and_gradient_are_scikit_learns(output):
    """The weighted mean loss with its L2 term, as MLPClassifier (>= 1.7)
    defines it: its own ``_backprop`` on the same weights and data."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(9)
    X = rng.standard_normal((12, 5))
    y = np.arange(12) % 3
    w = rng.random(12) * 2
    w[4] = 0
    alpha = 0.3
    net = Network([Dense(4, "tanh"), Dense(3)], output=output,
                  dtype=np.float64).build((5,), rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MLPClassifier((4,), activation="tanh", alpha=alpha, max_iter=1).fit(X, y)
    sk.out_activation_ = output
    sk.coefs_ = [layer.params["W"].copy() for layer in net.layers]
    sk.intercepts_ = [layer.params["b"].copy() for layer in net.layers]
    activations = [X, None, None]
    sk_loss, coef_grads, intercept_grads = sk._backprop(
        X, np.eye(3)[y], w, activations, [None, None],
        [np.empty_like(c) for c in sk.coefs_], [np.empty_like(b) for b in sk.intercepts_])
    loss, _ = net.train_step(X, y.astype(np.intp), alpha, w)
    assert loss == pytest.approx(sk_loss, rel=1e-12)
    for layer, dW, db in zip(net.layers, coef_grads, intercept_grads):
        np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.grads["b"], db, rtol=1e-12, atol=1e-15)
