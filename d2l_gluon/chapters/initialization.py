"""Numerical stability and initialization (book 3.15): vanishing and exploding gradients, and Xavier.

Nothing trains.  Sigmoid's gradient vanishes away from 0; a product of 100 random 4x4 matrices
explodes; a deep MLP's per-layer weight gradients at initialisation vanish or explode under
N(0, 0.01²) and N(0, 1) and stay of one order under Xavier.  Both versions measure from the
scratch draw; init.Xavier's own draw is checked against the Glorot bound and variance.
"""
import collections
import os

import numpy as np
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import nn

from .. import plot
from ..config import Option, impls
from ..errors import D2LError
from ..params import copy_to_gluon, dense_layers
from . import Chapter, Fit, Trained, softmax_regression
from .mlp import ACTIVATIONS, cast, value_and_gradient
from .softmax_regression import NUM_INPUTS, NUM_OUTPUTS, affine, cross_entropy

OPTIONS = {
    'num_layers': Option(10, 'count', 'hidden layers of the deep MLP, before its output layer'),
    'num_hiddens': Option(256, 'units', 'units of every hidden layer'),
    'activation': Option('relu', ('relu', 'sigmoid'), 'activation of the hidden layers'),
    'batch_size': Option(256, 'count', 'examples in the one batch the gradients are measured on'),
    'data': Option('fashion-mnist', ('fashion-mnist', 'random'),
                   'fashion-mnist: the first shuffled training batch; random: uniform [0, 1) '
                   'images with random labels'),
    'data_dir': softmax_regression.OPTIONS['data_dir'],
    'num_matrices': Option(100, 'count', 'random 4x4 N(0, 1) matrices multiplied together'),
}
# the initialisations compared, in the book's order
INITS = ('normal(0.01)', 'normal(1)', 'xavier')
SIGMOID_POINTS = (-8.0, 0.0, 8.0)

Data = collections.namedtuple('Data', 'X y')


def load_data(config, ctx=None):
    """Return Data(X (batch_size, 1, 28, 28) in [0, 1], y (batch_size,) int32): one batch."""
    from .. import seed
    seed(config['seed'])  # fixes the shuffle (Fashion-MNIST) or the draw (random)
    if config['data'] == 'random':
        return Data(nd.random.uniform(shape=(config['batch_size'], 1, 28, 28), ctx=ctx),
                    nd.array(np.random.randint(0, NUM_OUTPUTS, config['batch_size']), ctx=ctx, dtype='int32'))
    from ..data import load_fashion_mnist
    train_iter, _ = load_fashion_mnist(config['batch_size'], config['data_dir'], 'fast', 0, ctx)
    X, y = next(iter(train_iter))
    if len(X) < config['batch_size']:  # the first batch is then the whole set, smaller than asked
        raise D2LError('--batch-size %d: the training set holds %d images; pass --batch-size %d or '
                       'fewer' % (config['batch_size'], len(X), len(X)))
    return Data(X, y)


# ---- sigmoid's gradient and the product of random matrices (book 3.15.1)

def sigmoid_curve(impl, num=161):
    """Return (x, σ(x), σ'(x)) on num points over [-8, 8], float64 autograd: mlp.sigmoid or nd.Activation."""
    from .mlp import sigmoid
    f = sigmoid if impl == 'scratch' else (lambda X: nd.Activation(X, act_type='sigmoid'))
    return value_and_gradient(f, np.linspace(-8, 8, num))


def sigmoid_gradient(x):
    """Return σ'(x) = σ(x)(1 - σ(x)), in numpy float64: the analytic reference."""
    s = 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))
    return s * (1 - s)


def random_product(num_matrices, ctx=None):
    """Return (norms, M, matrices): the norm of M after each of num_matrices 4x4 products, M, the draws."""
    matrices = [nd.random.normal(shape=(4, 4), ctx=ctx) for _ in range(num_matrices + 1)]
    M, norms = matrices[0], [float(matrices[0].norm().asscalar())]
    for A in matrices[1:]:
        M = nd.dot(M, A)
        norms.append(float(M.norm().asscalar()))
    return norms, M, matrices


# ---- scratch: initialisations and the deep MLP

def normal(sigma):
    """Return init(shape, ctx) drawing weights ~ N(0, sigma²)."""
    return lambda shape, ctx=None: nd.random.normal(0, sigma, shape=shape, ctx=ctx)


def xavier_bound(fan_in, fan_out):
    """Return a = sqrt(6 / (fan_in + fan_out)): U(-a, a) has variance a²/3 = 2 / (fan_in + fan_out)."""
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def xavier_uniform(shape, ctx=None):
    """Return weights of shape (fan_in, fan_out) ~ U(-a, a), a = xavier_bound(fan_in, fan_out)."""
    a = xavier_bound(*shape)
    return nd.random.uniform(-a, a, shape=shape, ctx=ctx)


SCRATCH_INITS = {'normal(0.01)': normal(0.01), 'normal(1)': normal(1.0), 'xavier': xavier_uniform}


def sizes(config):
    """Return the layer sizes (784, num_hiddens, ..., num_hiddens, 10), num_layers hidden."""
    return (NUM_INPUTS,) + (config['num_hiddens'],) * config['num_layers'] + (NUM_OUTPUTS,)


def init_params(sizes, weight_init, ctx=None):
    """Return [W1, b1, ...] for layer sizes: each W (in, out) from weight_init, biases 0, gradients attached."""
    params = []
    for num_in, num_out in zip(sizes[:-1], sizes[1:]):
        params += [weight_init((num_in, num_out), ctx), nd.zeros(num_out, ctx=ctx)]
    for param in params:
        param.attach_grad()
    return params


def deep_mlp(X, params, activation):
    """Return the logits of X through every (W, b) of params, activation between them, shape (batch, 10)."""
    H = X.reshape((-1, params[0].shape[0]))
    for W, b in zip(params[0:-2:2], params[1:-2:2]):
        H = activation(affine(H, W, b))
    return affine(H, params[-2], params[-1])


def scratch_gradients(params, activation, X, y):
    """Return (mean loss, [dl/dW per layer] as numpy) of the scratch deep MLP on one batch."""
    with autograd.record():
        l = cross_entropy(deep_mlp(X, params, ACTIVATIONS[activation]), y).mean()
    l.backward()
    return float(l.asscalar()), [W.grad.asnumpy() for W in params[0::2]]


# ---- concise (Gluon)

def gluon_net(sizes, activation, initializer, ctx=None):
    """Return HybridSequential(Dense(activation) per hidden layer, Dense(10)); initializer sets the weights."""
    net = nn.HybridSequential()
    for num_in, num_out in zip(sizes[:-2], sizes[1:-1]):
        net.add(nn.Dense(num_out, activation=activation, in_units=num_in))
    net.add(nn.Dense(sizes[-1], in_units=sizes[-2]))
    net.initialize(initializer, ctx=ctx)
    return net


def gluon_gradients(net, X, y):
    """Return (mean loss, [dl/dW per Dense layer] as numpy, in scratch layout (in, out))."""
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        l = loss(net(X), y).mean()
    l.backward()
    return float(l.asscalar()), [layer.weight.grad().T.asnumpy() for layer in dense_layers(net)]


# ---- measurements of both versions

def norms(gradients):
    """Return the Frobenius norm of each gradient, as floats."""
    return [float(np.linalg.norm(g.astype(np.float64))) for g in gradients]


def gradients(impl, config, init_name, data, ctx=None):
    """Return (mean loss, per-layer weight gradients) of impl's deep MLP freshly initialised by init_name.

    The Gluon net gets the scratch draw, so the versions differ by float32 rounding alone.
    """
    params = init_params(sizes(config), SCRATCH_INITS[init_name], ctx)
    if impl == 'scratch':
        return scratch_gradients(params, config['activation'], data.X, data.y)
    net = gluon_net(sizes(config), config['activation'], init.Zero(), ctx)
    copy_to_gluon(params, net)
    return gluon_gradients(net, data.X, data.y)


def xavier_samples(impl, fan_in, fan_out, ctx=None):
    """Return one Xavier draw of a (fan_in, fan_out) layer as numpy: scratch xavier_uniform or init.Xavier()."""
    if impl == 'scratch':
        return xavier_uniform((fan_in, fan_out), ctx).asnumpy()
    layer = nn.Dense(fan_out, in_units=fan_in)
    layer.initialize(init.Xavier(), ctx=ctx)
    return layer.weight.data().T.asnumpy()


def xavier_check(impl, fan_in, fan_out, ctx=None):
    """Return the bound a, the largest |w| and the sample variance of one Xavier draw, with a²/3."""
    w = xavier_samples(impl, fan_in, fan_out, ctx).astype(np.float64)
    a = xavier_bound(fan_in, fan_out)
    return {'bound': a, 'max_abs': float(np.abs(w).max()), 'variance': float(w.var()),
            'expected_variance': a * a / 3}


def parity(config, data, init_name, dtype='float32', ctx=None, perturb=0.0):
    """Return {'loss': [scratch, gluon], 'per_layer', 'max'}: gradient differences from one start.

    The Gluon net gets the scratch draw (plus perturb on its first weight, to see the comparison
    fail); per layer the difference is max |scratch - gluon| / max |gluon|.
    """
    params = init_params(sizes(config), SCRATCH_INITS[init_name], ctx)
    net = gluon_net(sizes(config), config['activation'], init.Zero(), ctx)
    copy_to_gluon(params, net)
    if perturb:
        first = dense_layers(net)[0].weight
        first.set_data(first.data() + perturb * (nd.arange(first.data().size) == 0).reshape(first.shape))
    params, X = cast(params, dtype), data.X.astype(dtype)
    net.cast(dtype)
    loss_s, grads_s = scratch_gradients(params, config['activation'], X, data.y)
    loss_g, grads_g = gluon_gradients(net, X, data.y)
    per_layer = [float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
                 for a, b in zip(grads_s, grads_g)]
    return {'loss': [loss_s, loss_g], 'per_layer': per_layer, 'max': max(per_layer)}


def measure(impl, config, data, ctx=None):
    """Return impl's sigmoid curve, first-layer Xavier draw, and per init the loss and gradient norms."""
    x, y, dy = sigmoid_curve(impl)
    run = {'epochs': [], 'sigmoid': {'x': x.tolist(), 'y': y.tolist(), 'grad': dy.tolist()},
           'sigmoid_grad': {'%g' % p: float(dy[np.argmin(np.abs(x - p))]) for p in SIGMOID_POINTS},
           'xavier_first_layer': xavier_check(impl, *sizes(config)[:2], ctx=ctx),
           'loss': {}, 'grad_norms': {}}
    for init_name in INITS:
        loss, grads = gradients(impl, config, init_name, data, ctx)
        run['loss'][init_name], run['grad_norms'][init_name] = loss, norms(grads)
    return run


def fit(config, ctx=None, watch=None, data=None):
    """Measure the versions config asks for; return a Fit (nothing trains: no epochs, watch unused)."""
    from .. import seed
    data = data or load_data(config, ctx)
    runs, trained = {}, {}
    for impl in impls(config):
        seed(config['seed'] + 1)  # each version draws from the same random state
        runs[impl], trained[impl] = measure(impl, config, data, ctx), Trained(None, [])
    seed(config['seed'] + 2)
    product_norms, M, matrices = random_product(config['num_matrices'], ctx)
    with np.errstate(over='ignore', invalid='ignore'):  # a long product overflows: summary says so
        exact = matrices[0].asnumpy().astype(np.float64)
        for A in matrices[1:]:
            exact = exact @ A.asnumpy().astype(np.float64)
    metrics = {'runs': runs, 'product': {'norms': product_norms, 'max_abs': float(nd.abs(M).max().asscalar())},
               'reference': {'sigmoid_grad_at_0': float(sigmoid_gradient(0.0)),
                             'sigmoid_grad_at_8': float(sigmoid_gradient(8.0)),
                             'product_norm_float64': float(np.linalg.norm(exact)),
                             'xavier_variance_first_layer': 2.0 / sum(sizes(config)[:2])}}
    if len(runs) == 2:
        # float32 rounding alone separates the versions by about 1e-5 over 11 layers; float64
        # shows that nothing else does
        metrics['parity'] = {}
        for dtype in ('float32', 'float64'):
            seed(config['seed'] + 3)
            metrics['parity'][dtype] = {name: parity(config, data, name, dtype, ctx)['max'] for name in INITS}
            metrics['reference']['parity_%s' % dtype] = max(metrics['parity'][dtype].values())
    return Fit(metrics, trained, data)


def summary(config, metrics):
    """Return the lines printed after the run: per-layer gradient norms per initialisation and version."""
    runs = metrics['runs']
    columns = [(name, impl) for name in INITS for impl in runs]
    lines = ['||dl/dW|| per layer at initialisation (%s, %d hidden layers of %d, one batch of %d %s)'
             % (config['activation'], config['num_layers'], config['num_hiddens'],
                config['batch_size'], config['data']),
             '%-6s' % 'layer' + ''.join('%22s' % ('%s %s' % c) for c in columns)]
    for layer in range(len(next(iter(runs.values()))['grad_norms'][INITS[0]])):
        lines.append('%-6d' % (layer + 1) + ''.join(
            '%22.3e' % runs[impl]['grad_norms'][name][layer] for name, impl in columns))
    lines.append('%-6s' % 'loss' + ''.join('%22.4g' % runs[impl]['loss'][name] for name, impl in columns))
    for impl, run in runs.items():
        lines.append("%-7s sigmoid'(x) at -8, 0, 8: %s" % (impl, ', '.join(
            '%.4g' % run['sigmoid_grad']['%g' % p] for p in SIGMOID_POINTS)))
        xavier = run['xavier_first_layer']
        lines.append('%-7s Xavier first layer: max |w| %.5f <= a = %.5f, variance %.4g (a²/3 = %.4g)'
                     % (impl, xavier['max_abs'], xavier['bound'], xavier['variance'],
                        xavier['expected_variance']))
    norms, norm64 = metrics['product']['norms'], metrics['reference']['product_norm_float64']
    first = next((i for i, norm in enumerate(norms) if not np.isfinite(norm)), None)
    result = ('norm %.3e, largest |entry| %.3e' % (norms[-1], metrics['product']['max_abs']) if first is None
              else 'float32 overflowed at product %d (norm %.3e before)' % (first, norms[first - 1]))
    lines.append('product of %d random 4x4 matrices: %s (float64: %s)' % (
        len(norms) - 1, result, 'norm %.3e' % norm64 if np.isfinite(norm64) else 'overflowed too'))
    for dtype, differences in metrics.get('parity', {}).items():
        lines.append('scratch vs Gluon from the same weights, %s: largest relative gradient '
                     'difference %s' % (dtype, ', '.join('%s %.2g' % item for item in differences.items())))
    return lines


# ---- figures

def figures(config, result, folder):
    """Save initialization.png: sigmoid and σ', ||dl/dW|| per layer and init, the product's norm."""
    metrics = result.metrics
    plot.initialization(metrics['runs'], metrics['product']['norms'],
                        'gradient per layer at initialisation (%s, %d x %d)'
                        % (config['activation'], config['num_layers'], config['num_hiddens']),
                        os.path.join(folder, 'initialization.png'))


# nothing trains: no epochs for the time left of `all` to count, and a resumed run starts again
CHAPTER = Chapter('initialization', __doc__.split('\n')[0], OPTIONS, load_data, None, fit,
                  summary, figures, lambda config: ('initialization.png',))
