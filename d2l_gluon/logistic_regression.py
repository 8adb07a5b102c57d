"""Logistic regression: P(y = 1 | x) = σ(x w + b), trained on binary cross-entropy by SGD.

The data come first (the lecture's hours-studied toy set and two Gaussian
blobs), then the scratch section, then "# ---- concise (Gluon)", then
Newton's method, the float64 maximum-likelihood reference both are checked
against.  Both nets return the logit z = Xw + b; the loss takes logits (its
stable form never evaluates log σ(z)), and ``sigmoid(net(X))`` gives the
probability of class 1.
"""
import numpy as np
from mxnet import gluon, nd

from .data import shuffled_indices
from .errors import D2LError
# the model is linear regression's -- logits z = X w + b from a Dense(1) -- with a new loss
from .linear_regression import gluon_net, gluon_params, init_params  # noqa: F401
from .linear_regression import linreg as logreg
# the stable sigmoid is the MLP chapter's activation
from .mlp import _sign_and_exp_neg_abs, sigmoid  # noqa: F401
from .train import sgd, train


# ---- data

def hours_data(ctx=None):
    """Return the lecture's toy set: hours studied [[1], [2], [3]] and passed [[0], [0], [1]], each (3, 1)."""
    return nd.array([[1], [2], [3]], ctx=ctx), nd.array([[0], [0], [1]], ctx=ctx)


def gaussian_blobs(num_train, num_test, mean0, mean1, std=1.0, ctx=None):
    """Return (train_features, train_labels), (test_features, test_labels) of two Gaussian classes.

    Class 0 is N(mean0, std² I), class 1 is N(mean1, std² I); features have
    shape (n, len(mean0)), labels shape (n,) in {0, 1}.  num_train + num_test
    points, half of each class, are drawn with mx.random, shuffled with
    numpy's generator and split, so ``d2l_gluon.seed(n)`` fixes both sets.
    """
    if len(mean0) != len(mean1):
        raise D2LError('mean0 has %d values but mean1 has %d; give both classes the same dimension'
                       % (len(mean0), len(mean1)))
    if num_train < 1 or num_test < 1:
        raise D2LError('need at least one training and one test example, got %d and %d'
                       % (num_train, num_test))
    n = num_train + num_test
    sizes = (n // 2, n - n // 2)
    features = nd.concat(*[nd.random.normal(0, std, shape=(size, len(mean)), ctx=ctx)
                           + nd.array(mean, ctx=ctx).reshape((1, -1))
                           for size, mean in zip(sizes, (mean0, mean1))], dim=0)
    labels = nd.concat(nd.zeros(sizes[0], ctx=ctx), nd.ones(sizes[1], ctx=ctx), dim=0)
    order = nd.array(shuffled_indices(n), ctx=ctx, dtype='int64')
    features, labels = features.take(order), labels.take(order)
    return (features[:num_train], labels[:num_train]), (features[num_train:], labels[num_train:])


# ---- scratch

def binary_cross_entropy(z, y):
    """Return per-example -[y log σ(z) + (1 - y) log(1 - σ(z))] from logits z, shape of z.

    y is reshaped to z's shape (labels (n,) or (n, 1) both work).
    """
    y = y.reshape(z.shape)
    positive, e = _sign_and_exp_neg_abs(z)
    # stable formula: max(z, 0) - z * y + log(1 + exp(-|z|)); it never takes the log of
    # σ(z), which is 0 in float32 for z < -104, so the loss stays finite.  log1p keeps the
    # tail exact: for z = 20, y = 1 the loss is 2.06e-9, and log(1 + 2.06e-9) rounds to 0
    return nd.where(positive, z, nd.zeros_like(z)) - z * y + nd.log1p(e)


def binary_accuracy(z, y):
    """Return the fraction of examples whose logit z > 0 (probability > 0.5) matches the label y."""
    return float(((z.reshape((-1,)) > 0) == y.reshape((-1,))).sum().asscalar()) / z.shape[0]


def evaluator(net, loss, features, labels, test_set=None):
    """Return an evaluate() for train(): mean loss and accuracy on the whole training set and the test set.

    The record's ``loss`` becomes the loss on the whole training set after
    the epoch; ``train_acc`` and ``test_acc`` are measured after the epoch too
    (train()'s with_accuracy takes an arg-max, which needs one column per class).
    """
    def evaluate():
        z = net(features)
        record = {'loss': float(loss(z, labels).mean().asscalar()),
                  'train_acc': binary_accuracy(z, labels)}
        if test_set is not None:
            z = net(test_set[0])
            record['test_loss'] = float(loss(z, test_set[1]).mean().asscalar())
            record['test_acc'] = binary_accuracy(z, test_set[1])
        return record
    return evaluate


def train_scratch(params, train_iter, features, labels, lr, num_epochs, test_set=None,
                  sum_loss=False, on_epoch=None, batch_size=None):
    """Train params = [w, b] in place with our sgd; return the history.

    sum_loss=True steps on the batch's summed loss, as the lecture's
    BCELoss(size_average=False) does; otherwise on its mean.
    """
    w, b = params
    net = lambda X: logreg(X, w, b)  # noqa: E731
    # train() calls updater(batch_size) and sgd divides the summed gradient by it (mean
    # loss); dividing by 1 instead steps on the gradient of the summed loss
    updater = (lambda n: sgd(params, lr, 1)) if sum_loss else (lambda n: sgd(params, lr, n))
    return train(net, train_iter, binary_cross_entropy, updater, num_epochs,
                 evaluate=evaluator(net, binary_cross_entropy, features, labels, test_set),
                 on_epoch=on_epoch, batch_size=batch_size)


# ---- concise (Gluon): gluon_net and gluon_params come from linear_regression

def gluon_loss():
    """Return gluon's binary cross-entropy on logits: the same stable formula as binary_cross_entropy."""
    return gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)


def train_gluon(net, train_iter, features, labels, lr, num_epochs, test_set=None,
                sum_loss=False, on_epoch=None, batch_size=None):
    """Train net with SigmoidBinaryCrossEntropyLoss and Trainer('sgd'); return the history."""
    loss = gluon_loss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    # Trainer.step(n) divides the gradient by n: step(1) keeps the summed loss's gradient
    updater = (lambda n: trainer.step(1)) if sum_loss else trainer.step
    return train(net, train_iter, loss, updater, num_epochs,
                 evaluate=evaluator(net, loss, features, labels, test_set), on_epoch=on_epoch,
                 batch_size=batch_size)


# ---- Newton's method (the maximum-likelihood reference)

def newton(features, labels, max_iter=50, tol=1e-10):
    """Return (w (d, 1), b (1,), iterations, converged): the maximum-likelihood fit by Newton's method.

    Each iteration solves H step = g for the gradient g = Aᵀ(p - y) and the
    Hessian H = Aᵀ diag(p(1 - p)) A of the negative log-likelihood, with
    A = [X 1] and p = σ(A θ) -- iteratively reweighted least squares -- in
    float64.  converged is True once the step is below tol relative to θ.
    On separable data (such as the hours set) the likelihood has no finite
    maximum: θ grows every iteration, H becomes singular, and the result is
    returned with converged False.
    """
    X = np.asarray(features.asnumpy(), dtype=np.float64)
    y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
    A = np.hstack([X.reshape(len(y), -1), np.ones((len(y), 1))])
    theta = np.zeros(A.shape[1])
    converged, iterations = False, 0
    for iterations in range(1, max_iter + 1):
        z = A @ theta
        p = sigmoid_np(z)
        # p (1 - p) as σ(z) σ(-z): 1 - p would round to 0 for z > 37 and lose the Hessian
        H = A.T @ (A * (p * sigmoid_np(-z))[:, None])
        try:
            step = np.linalg.solve(H, A.T @ (p - y))
        except np.linalg.LinAlgError:  # every p saturated at 0 or 1: separable data
            break
        if not np.all(np.isfinite(step)):
            break
        theta = theta - step
        if np.abs(step).max() <= tol * (1 + np.abs(theta).max()):
            converged = True
            break
    return theta[:-1].reshape(-1, 1), theta[-1:], iterations, converged


def sigmoid_np(z):
    """Return σ(z) for a float64 numpy array, without overflow: exp(-log(1 + e^-z))."""
    return np.exp(-np.logaddexp(0, -z))
