"""Linear regression: y = Xw + b, trained on squared loss by minibatch SGD.

The scratch version comes first, then "# ---- concise (Gluon)", then the
closed-form least-squares solution that both are checked against.
"""
import numpy as np
from mxnet import gluon, init, nd
from mxnet.gluon import nn

from .train import sgd, train


def linreg(X, w, b):
    """Return predictions X w + b, shape (batch_size, 1)."""
    return nd.dot(X, w) + b


def squared_loss(y_hat, y):
    """Return per-example squared loss (y_hat - y)² / 2, shape of y_hat."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def init_params(num_inputs, ctx=None):
    """Return [w ~ N(0, 0.01²) of shape (num_inputs, 1), b = 0 of shape (1,)], with gradients attached."""
    w = nd.random.normal(0, 0.01, shape=(num_inputs, 1), ctx=ctx)
    b = nd.zeros(shape=(1,), ctx=ctx)
    for param in (w, b):
        param.attach_grad()
    return [w, b]


def whole_set_loss(net, loss, features, labels):
    """Return an evaluate() for train(): the mean loss on the whole training set."""
    return lambda: {'loss': float(loss(net(features), labels).mean().asscalar())}


def train_scratch(params, train_iter, features, labels, lr, num_epochs, on_epoch=None,
                  batch_size=None):
    """Train params = [w, b] in place with our sgd; return the history."""
    w, b = params
    net = lambda X: linreg(X, w, b)  # noqa: E731
    return train(net, train_iter, squared_loss, lambda n: sgd(params, lr, n), num_epochs,
                 evaluate=whole_set_loss(net, squared_loss, features, labels), on_epoch=on_epoch,
                 batch_size=batch_size)


# ---- concise (Gluon)

def gluon_net(num_inputs, ctx=None):
    """Return nn.Sequential(nn.Dense(1)) initialised with weights ~ N(0, 0.01²), bias 0."""
    net = nn.Sequential()
    net.add(nn.Dense(1, in_units=num_inputs))
    net.initialize(init.Normal(sigma=0.01), ctx=ctx)
    return net


def train_gluon(net, train_iter, features, labels, lr, num_epochs, on_epoch=None,
                batch_size=None):
    """Train net with gluon.loss.L2Loss and Trainer('sgd'); return the history."""
    loss = gluon.loss.L2Loss()  # 0.5 (y_hat - y)², the same as squared_loss
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    return train(net, train_iter, loss, trainer.step, num_epochs,
                 evaluate=whole_set_loss(net, loss, features, labels), on_epoch=on_epoch,
                 batch_size=batch_size)


def gluon_params(net):
    """Return the Dense layer's parameters as scratch-shaped numpy arrays (w: (d, 1), b: (1,))."""
    dense = net[0]
    return dense.weight.data().asnumpy().T, dense.bias.data().asnumpy()


# ---- closed form

def closed_form(features, labels):
    """Return the least-squares (w (d, 1), b (1,)) of the normal equation, in float64.

    lstsq solves min ||[X 1] theta - y|| by an orthogonal factorisation instead
    of forming (XᵀX)⁻¹, so it stays accurate when XᵀX is ill-conditioned.
    """
    X = np.asarray(features.asnumpy(), dtype=np.float64)
    y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return theta[:-1].reshape(-1, 1), theta[-1:]
