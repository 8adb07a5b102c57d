"""The course notes' PyTorch code: the functions of d2l.py as the notes write them in PyTorch.

A chapter's ``pytorch`` version trains with these, as its scratch and Gluon
versions train with d2l.py: the same loop, batches and step rule, in the
other framework.  Batches arrive as the NDArrays the chapter's loaders yield
and become tensors through numpy (``torch.from_numpy``), so every version sees
the same numbers.  torch is imported inside each function, never at start-up:
the project runs without it, and only ``--impl pytorch`` asks for it.
"""
import dataclasses

import numpy as np
from mxnet import nd

from .errors import D2LError

INSTALL = ("--impl pytorch needs PyTorch, an optional extra: pip install -e '.[pytorch]' "
           '(or scripts/setup.sh with D2L_PYTORCH=1)')


def need_torch():
    """Return the torch module; raise D2LError naming how to install it when it is missing."""
    try:
        import torch
    except ImportError:
        raise D2LError(INSTALL) from None
    return torch


def tensor(a):
    """Return an NDArray or numpy array as a torch tensor of the same dtype and values."""
    return need_torch().from_numpy(np.ascontiguousarray(a.asnumpy() if hasattr(a, 'asnumpy') else a))


def leaves(start):
    """Return copies of the scratch draw start (NDArrays) as tensors with requires_grad=True."""
    return [tensor(p).clone().requires_grad_() for p in start]


# ---- the model and the update, as note 002 writes them

def linreg(X, w, b):
    """Return predictions X w + b, shape (batch_size, 1): the notes' reg(X, w, b)."""
    return need_torch().matmul(X, w) + b


def squared_loss(y_hat, y):
    """Return per-example squared loss (y_hat - y)² / 2, shape of y_hat."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    """Take one minibatch SGD step in place, then zero the gradients, as the notes' gd does."""
    with need_torch().no_grad():  # the update itself is not part of the graph
        for param in params:
            param -= lr / batch_size * param.grad
            param.grad.zero_()


class SGD:
    """The hand-written update as a trainer: backward of the batch's summed loss, then sgd."""

    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, l, batch_size):
        l.sum().backward()
        sgd(self.params, self.lr, batch_size)


class Optimizer:
    """A torch.optim optimizer stepped as the notes step it: zero_grad, backward, step.

    The notes' losses average over the batch; here the per-example losses
    are summed and divided by batch_size, the divisor the step rule gives,
    so a short last batch takes the same step as in the other versions.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self, l, batch_size):
        self.optimizer.zero_grad()
        (l.sum() / batch_size).backward()
        self.optimizer.step()


# ---- nn.Linear layers against the scratch layout (W (in, out), b)

def linear_layers(net):
    """Return the nn.Linear layers of a module, in order."""
    from torch import nn
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def copy_to_torch(params, net, dtype='float32'):
    """Return net in dtype with each nn.Linear set from a scratch pair (W (in, out), b)."""
    torch = need_torch()
    net = net.to(getattr(torch, dtype))
    with torch.no_grad():
        for layer, W, b in zip(linear_layers(net), params[0::2], params[1::2]):
            layer.weight.copy_(tensor(W).T)  # nn.Linear.weight is (out_features, in_features)
            layer.bias.copy_(tensor(b))
    return net


def as_scratch(net, params):
    """Return a PyTorch version's parameters as numpy arrays in scratch layout [W1 (in, out), b1, ...]."""
    torch = need_torch()
    if isinstance(net, torch.nn.Module):
        params = []
        for layer in linear_layers(net):
            params += [layer.weight.T, layer.bias]
    return [p.detach().numpy().copy() for p in params]


def set_from_scratch(net, params, values):
    """Set a PyTorch version's parameters from numpy arrays in scratch layout, in place."""
    torch = need_torch()
    if isinstance(net, torch.nn.Module):
        copy_to_torch(values, net, str(next(net.parameters()).dtype).replace('torch.', ''))
        return
    with torch.no_grad():
        for param, value in zip(params, values):
            param.copy_(tensor(value))


def on_ndarrays(version):
    """Return a PyTorch version whose net and loss take and return NDArrays, for evaluation.

    The chapters' evaluation and figures then serve every version alike.
    """
    def wrapped(f):
        def g(*arrays):
            with need_torch().no_grad():
                out = f(*[tensor(a) for a in arrays]).numpy()
            return nd.array(out, dtype=out.dtype)
        return g
    return dataclasses.replace(version, net=wrapped(version.net), loss=wrapped(version.loss))


# ---- training (the book's train_epoch_ch3 and train_ch3, in PyTorch)

def accuracy(y_hat, y):
    """Return the number of rows whose arg-max equals the label, as a 0-d tensor."""
    return (y_hat.argmax(dim=1) == y).sum()


def evaluate_accuracy(data_iter, net):
    """Return the fraction of examples in data_iter that net classifies correctly."""
    correct, n = 0.0, 0
    with need_torch().no_grad():
        for X, y in data_iter:
            correct += float(accuracy(net(tensor(X)), tensor(y)))
            n += X.shape[0]
    return correct / n


def train_epoch_ch3(net, train_iter, loss, updater, batch_size, accuracy=accuracy):
    """Train net for one pass over train_iter; return per-batch loss sums, correct counts and sizes.

    updater.step(l, batch_size) takes one step from the per-example losses l
    (SGD or Optimizer); batch_size=None steps with each batch's own size.
    """
    l_sums, correct, sizes = [], [], []
    for X, y in train_iter:
        X, y = tensor(X), tensor(y)
        y_hat = net(X)
        l = loss(y_hat, y)
        updater.step(l, X.shape[0] if batch_size is None else batch_size)
        l_sums.append(float(l.detach().sum()))
        if accuracy is not None:
            correct.append(float(accuracy(y_hat.detach(), y)))
        sizes.append(X.shape[0])
    return np.array(l_sums), np.array(correct), np.array(sizes, dtype=np.float64)


def train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, updater, monitor=None):
    """Train net with updater.step(l, batch_size); return one dict per epoch, as d2l.train_ch3 does."""
    history = []
    for epoch in range(num_epochs):
        l_sums, correct, sizes = train_epoch_ch3(net, train_iter, loss, updater, batch_size)
        test_acc = evaluate_accuracy(test_iter, net)
        n = sizes.sum()
        history.append({'epoch': epoch + 1, 'loss': float(l_sums.sum() / n),
                        'train_acc': float(correct.sum() / n), 'test_acc': test_acc})
        if monitor is not None:
            monitor.on_epoch(history[-1], l_sums, sizes)
    return history
