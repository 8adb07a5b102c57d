"""Softmax regression on Fashion-MNIST: O = XW + b, probabilities softmax(O).

Scratch section first, then "# ---- concise (Gluon)".  The scratch net
returns the logits O; softmax is applied inside cross_entropy in its
log-softmax form, as gluon's SoftmaxCrossEntropyLoss does, so the loss stays
finite however large the logits grow.  ``softmax(net(X))`` gives the book's
probabilities.
"""
from mxnet import gluon, init, nd
from mxnet.gluon import nn

NUM_INPUTS, NUM_OUTPUTS = 784, 10


def softmax(O):
    """Return row-wise softmax of O (batch_size, num_outputs); rows sum to 1."""
    # subtract the row max before exp so large logits cannot overflow; the result does not
    # depend on the max, so it is detached from the gradient
    O_exp = (O - O.max(axis=1, keepdims=True).detach()).exp()
    return O_exp / O_exp.sum(axis=1, keepdims=True)


def log_softmax(O):
    """Return row-wise log(softmax(O)), computed without forming softmax(O)."""
    # log softmax(o)_j = (o_j - m) - log sum_k exp(o_k - m) with m = max_k o_k:
    # exp never overflows and the log never sees 0.  The result does not depend on m,
    # so m is detached: its gradient (exactly 0) is not computed
    shifted = O - O.max(axis=1, keepdims=True).detach()
    return shifted - shifted.exp().sum(axis=1, keepdims=True).log()


def cross_entropy(O, y):
    """Return per-example cross-entropy -log softmax(O)[i, y_i] from logits O, shape (batch_size,)."""
    return -nd.pick(log_softmax(O), y, axis=1)


def affine(X, W, b):
    """Return X W + b, shape (X.shape[0], W.shape[1]): the same numbers as nd.dot(X, W) + b.

    Computed by FullyConnected, the same kernel Gluon's Dense uses: oneDNN on
    CPU, about twice as fast as the OpenBLAS behind nd.dot in the mxnet 1.9.1
    wheel, and it sums b's gradient over the batch inside its backward, where
    the backward of a broadcast "+ b" is a slow reduction.  FullyConnected
    stores weights as (out, in), so it gets W.T; autograd carries the
    gradient back through the transpose.
    """
    return nd.FullyConnected(X, W.T, b, num_hidden=W.shape[1])


def softmax_regression(X, W, b):
    """Return the logits X W + b, shape (batch_size, num_outputs); X is flattened to 784 columns."""
    return affine(X.reshape((-1, W.shape[0])), W, b)


def init_params(num_inputs=NUM_INPUTS, num_outputs=NUM_OUTPUTS, ctx=None):
    """Return [W ~ N(0, 0.01²) of shape (num_inputs, num_outputs), b = 0], with gradients attached."""
    W = nd.random.normal(0, 0.01, shape=(num_inputs, num_outputs), ctx=ctx)
    b = nd.zeros(num_outputs, ctx=ctx)
    for param in (W, b):
        param.attach_grad()
    return [W, b]


def scratch_net(params):
    """Return net(X) = softmax_regression(X, W, b) for params = [W, b]."""
    W, b = params
    return lambda X: softmax_regression(X, W, b)


# ---- concise (Gluon)

def gluon_net(num_inputs=NUM_INPUTS, num_outputs=NUM_OUTPUTS, ctx=None):
    """Return nn.HybridSequential(nn.Dense(10)) with weights ~ N(0, 0.01²), bias 0; Dense flattens X.

    HybridSequential is the hybridizable nn.Sequential: net.hybridize() compiles it.
    """
    net = nn.HybridSequential()
    net.add(nn.Dense(num_outputs, in_units=num_inputs))
    net.initialize(init.Normal(sigma=0.01), ctx=ctx)
    return net


def gluon_loss():
    """Return gluon's softmax cross-entropy on logits (log-softmax inside, like cross_entropy)."""
    return gluon.loss.SoftmaxCrossEntropyLoss()
