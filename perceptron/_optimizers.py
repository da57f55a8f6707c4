"""Optimizers: state vectors the size of the model, updated by one kernel call."""

import math

import numpy as np

from ._kernels import _optim


class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    def __init__(self, params, momentum=0.9, nesterov=True):
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity = np.zeros_like(params)

    def step(self, params, grads, lr, n_threads=1):
        _optim.sgd_update(params, grads, self.velocity, lr, self.momentum,
                          self.nesterov and self.momentum > 0, n_threads)


class Adam:
    """Adam with bias correction (Kingma & Ba, 2015)."""

    def __init__(self, params, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0

    def step(self, params, grads, lr, n_threads=1):
        self.t += 1
        lr_t = lr * math.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        _optim.adam_update(params, grads, self.m, self.v, lr_t, self.beta_1,
                           self.beta_2, self.epsilon, n_threads)


class RMSprop:
    """RMSprop: divide the step by a running RMS of the gradient."""

    def __init__(self, params, rho=0.9, epsilon=1e-7):
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.sq = np.zeros_like(params)

    def step(self, params, grads, lr, n_threads=1):
        _optim.rmsprop_update(params, grads, self.sq, lr, self.rho, self.epsilon, n_threads)


def make_optimizer(solver, params, est):
    """Build the optimizer named ``solver`` with the estimator's hyper-parameters."""
    if solver == "sgd":
        return SGD(params, est.momentum, est.nesterovs_momentum)
    if solver == "adam":
        return Adam(params, est.beta_1, est.beta_2, est.epsilon)
    if solver == "rmsprop":
        return RMSprop(params, est.rho, est.epsilon)
    raise ValueError(f"unknown solver {solver!r}; expected 'sgd', 'adam' or 'rmsprop'")
