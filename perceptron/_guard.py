"""What a training call leaves behind when it fails or is interrupted.

Two guarantees of ``fit`` and ``partial_fit``, kept here so that the
training loop (:mod:`perceptron._training`) stays about training:

- **All or nothing.** :class:`Snapshot` records, before a call changes
  anything, every fitted attribute and the arrays the call would change in
  place (the parameters, the optimizer's state vectors, the random streams,
  the histories). If the call raises -- "training diverged", a bad callback,
  an abort -- :meth:`Snapshot.restore` puts the estimator back exactly as it
  was, and the exception propagates.
- **Ctrl-C at the end of a batch.** :class:`DeferredInterrupt` replaces
  Python's SIGINT handler during the call: the first Ctrl-C only raises a
  flag, which the loop reads after each mini-batch, so training stops
  between two batches and never inside one (skorch's behaviour). A second
  Ctrl-C aborts: it raises KeyboardInterrupt at once, the snapshot undoes the
  call, and the interrupt reaches the caller (the way to stop a loop of
  fits, such as a grid search).
"""

import copy
import signal
import threading

import numpy as np


class Snapshot:
    """The state of an estimator before a training call, to put back on failure.

    Taking one costs a copy of the parameter vector and of the optimizer's
    state vectors (nothing else is copied: attributes the call replaces keep
    their old objects alive through the saved ``__dict__``).
    """

    def __init__(self, est):
        self._attributes = dict(est.__dict__)
        # containers a call appends to in place: their contents
        self._lists = {k: list(v) for k, v in self._attributes.items() if isinstance(v, list)}
        self._history = {k: list(v) for k, v in self._attributes.get("history_", {}).items()}
        net = self._attributes.get("_network")
        self._params = None if net is None else net.params.copy()
        self._layers = None if net is None else copy.deepcopy(net.state()["layers"])
        optimizer = self._attributes.get("_optimizer")
        self._optimizer = None if optimizer is None else {
            k: v.copy() if isinstance(v, np.ndarray) else v
            for k, v in optimizer.state().items()}
        rng = self._attributes.get("_rng")
        self._rng = None if rng is None else rng.bit_generator.state

    def restore(self, est):
        """Make ``est`` what it was when the snapshot was taken."""
        est.__dict__.clear()
        est.__dict__.update(self._attributes)
        for name, values in self._lists.items():
            self._attributes[name][:] = values
        if "history_" in self._attributes:
            est.history_.clear()
            est.history_.update(self._history)
        if self._params is not None:
            net = est._network
            net.params[...] = self._params
            for i, layer_state in self._layers.items():
                net.layers[i].load_state(layer_state)
        if self._optimizer is not None:
            est._optimizer.load_state(self._optimizer)
        if self._rng is not None:
            est._rng.bit_generator.state = self._rng


class DeferredInterrupt:
    """Ctrl-C during training: a flag read between batches, then an abort.

    A context manager. On entry, when it runs in the main thread and SIGINT
    has Python's default handler, it installs its own: the first signal sets
    :attr:`raised`; the second sets :attr:`aborting` and raises
    KeyboardInterrupt; later ones are ignored (the abort is under way). Where
    it cannot install the handler (another thread, or a program with its own
    handler), Ctrl-C behaves as that program decided, and a KeyboardInterrupt
    raised in the middle of a call is an error like any other (the snapshot
    undoes the call). :meth:`set` raises the flag by hand: a callback that
    raises KeyboardInterrupt is treated as a first Ctrl-C.
    """

    def __init__(self):
        self.raised = False
        self.aborting = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
            except ValueError:  # not the main interpreter: Ctrl-C is not ours to handle
                self._previous = None
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def set(self):
        """Ask training to stop at the end of the current batch."""
        self.raised = True

    def _handle(self, signum, frame):
        if self.aborting:
            return
        if not self.raised:
            self.raised = True
            return
        self.aborting = True
        raise KeyboardInterrupt
