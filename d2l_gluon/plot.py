"""Figures, saved as PNG files.  The only module that imports matplotlib (Agg, headless)."""
import os

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from .files import atomic_write  # noqa: E402


def save(fig, path):
    """Save fig as a PNG at path (atomically) and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=100, bbox_inches='tight'))
    plt.close(fig)


def scatter(x, y, path, xlabel, ylabel, title=None):
    """Save a scatter plot of y against x."""
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(x, y, s=2)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    save(fig, path)


def curves(panels, path, xlabel='epoch'):
    """Save side-by-side line plots; panels is a list of (ylabel, {name: (xs, ys)})."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels):
        for name, (xs, ys) in series.items():
            ax.plot(xs, ys, marker='o' if len(xs) <= 50 else None, label=name)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    save(fig, path)


def image_grid(images, titles, path, ncols=10, cmap='gray', symmetric=False):
    """Save a grid of 2-D images (N, H, W) with a title under each (the book's show_fashion_mnist)."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.9 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis('off')
    for ax, image, title in zip(axes.ravel(), images, titles):
        limit = abs(image).max() if symmetric else None
        ax.imshow(image, cmap=cmap, vmin=-limit if symmetric else None, vmax=limit)
        ax.set_title(title, fontsize=8)
    save(fig, path)


def activations(functions, path):
    """Save the book's figure of each activation and its derivative; functions maps name -> (x, f, df)."""
    fig, axes = plt.subplots(1, len(functions), figsize=(4 * len(functions), 3.2), squeeze=False)
    for ax, (name, (x, y, dy)) in zip(axes[0], functions.items()):
        ax.plot(x, y, label='%s(x)' % name)
        ax.plot(x, dy, '--', label='grad of %s' % name)
        ax.set(xlabel='x', title=name)
        ax.grid(alpha=0.3)
        ax.legend()
    save(fig, path)


def probability_curves(x, probabilities, points, path, xlabel='hours', ylabel='probability of pass'):
    """Save the logistic-regression lecture's figure: P(y = 1) against x per model, the 0.5 line dashed.

    probabilities maps name -> P at each x; points = (x, y) of the training data.
    """
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for name, p in probabilities.items():
        ax.plot(x, p, label=name)
    ax.plot([x[0], x[-1]], [0.5, 0.5], 'r--', label='0.5')
    ax.scatter(points[0], points[1], c='k', s=15, zorder=3, label='data')
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, path)


def decision_boundaries(X, y, boundaries, path):
    """Save 2-D points (N, 2) coloured by label y with each model's line w[0] x0 + w[1] x1 + b = 0.

    boundaries maps name -> (w with two entries, b).
    """
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap='coolwarm', s=6, alpha=0.5)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for (name, (w, b)), style in zip(boundaries.items(), ['-', '--', ':', '-.'] * len(boundaries)):
        w0, w1, b = float(w[0]), float(w[1]), float(b)
        if abs(w1) >= abs(w0):  # solve for x1 along the x0 axis, or for x0 when the line is steep
            ax.plot(xlim, [-(w0 * x0 + b) / w1 for x0 in xlim], style, lw=2, label=name)
        else:
            ax.plot([-(w1 * x1 + b) / w0 for x1 in ylim], ylim, style, lw=2, label=name)
    ax.set(xlim=xlim, ylim=ylim, xlabel='x0', ylabel='x1')
    ax.legend()
    save(fig, path)


# ---- each chapter's figures, from the result of its fit()

def run_curves(runs, path, panels=(('loss', ('loss',)),)):
    """Save per-epoch curves of every version; panels is a list of (ylabel, record keys)."""
    figure = []
    for ylabel, keys in panels:
        series = {}
        for impl, run in runs.items():
            for key in keys:
                epochs = [e for e in run['epochs'] if key in e]
                name = impl if len(keys) == 1 else '%s %s' % (impl, key.replace('_acc', ''))
                series[name] = ([e['epoch'] for e in epochs], [e[key] for e in epochs])
        figure.append((ylabel, series))
    curves(figure, path)


def linreg_figures(config, result, folder):
    """Save data.png (the last feature against the label) and loss.png."""
    data = result['data']
    X, y = data.features.asnumpy(), data.labels.asnumpy()
    scatter(X[:, -1], y, os.path.join(folder, 'data.png'), 'feature %d' % (X.shape[1] - 1),
            'label', 'synthetic data')
    run_curves(result['metrics']['runs'], os.path.join(folder, 'loss.png'),
               [('loss on the training set', ('loss',))])


def classifier_figures(config, result, folder):
    """Save curves.png, predictions.png (20 test images) and the chapter's own figure."""
    from mxnet import nd

    from .data import get_fashion_mnist_labels, read_fashion_mnist, to_tensor
    from .softmax_regression import predict
    run_curves(result['metrics']['runs'], os.path.join(folder, 'curves.png'),
               [('loss', ('loss',)), ('accuracy', ('train_acc', 'test_acc'))])
    test_images, test_labels = read_fashion_mnist(config['data_dir'])[2:]
    trained = result['trained']
    X = nd.array(to_tensor(test_images[:20]), ctx=_device(next(iter(trained.values()))[0]))
    titles = get_fashion_mnist_labels(test_labels[:20])
    for impl, (version, _) in trained.items():
        predicted = get_fashion_mnist_labels(predict(version.net, X).argmax(axis=1))
        titles = ['%s\n%s: %s' % (t, impl[0].upper(), p) for t, p in zip(titles, predicted)]
    image_grid(test_images[:20], titles, os.path.join(folder, 'predictions.png'))


def _device(version):
    """Return the (first) device a trained version's parameters live on."""
    if isinstance(version.params, list):
        return version.params[0].context
    return next(iter(version.params.values())).list_ctx()[0]


def softmax_figures(config, result, folder):
    """Save the classifier figures and weights.png: each class's learned weights as a 28x28 image."""
    from .data import TEXT_LABELS
    from .params import gluon_as_scratch
    classifier_figures(config, result, folder)
    images, titles = [], []
    for impl, (version, _) in result['trained'].items():
        params = version.params if impl == 'scratch' else gluon_as_scratch(version.net)
        images += list(params[0].asnumpy().T.reshape(-1, 28, 28))
        titles += ['%s\n%s' % (impl, label) for label in TEXT_LABELS]
    image_grid(images, titles, os.path.join(folder, 'weights.png'), cmap='RdBu_r', symmetric=True)


def mlp_figures(config, result, folder):
    """Save the classifier figures and activations.png: ReLU, sigmoid, tanh and their derivatives."""
    from .mlp import ACTIVATIONS, value_and_gradient
    classifier_figures(config, result, folder)
    x = np.linspace(-8, 8, 321)
    activations({name: value_and_gradient(f, x) for name, f in ACTIVATIONS.items()},
                os.path.join(folder, 'activations.png'))


def logreg_figures(config, result, folder):
    """Save loss.png and probability.png (hours) or boundaries.png (blobs)."""
    from mxnet import nd

    from .logistic_regression import probability
    data, runs = result['data'], result['metrics']['runs']
    X, y = data.features.asnumpy(), data.labels.asnumpy().ravel()
    accuracy_keys = ('train_acc',) if data.test_set is None else ('train_acc', 'test_acc')
    run_curves(runs, os.path.join(folder, 'loss.png'),
               [('loss on the training set', ('loss',)), ('accuracy', accuracy_keys)])
    if data.test_set is None:
        hours = np.linspace(0, 10, 201, dtype=np.float32)
        grid = nd.array(hours.reshape(-1, 1), ctx=data.features.context)
        probability_curves(hours, {impl: probability(version, grid)
                                   for impl, (version, _) in result['trained'].items()},
                           (X.ravel(), y), os.path.join(folder, 'probability.png'))
        return
    boundaries = {impl: (run['params']['w'], run['params']['b'][0]) for impl, run in runs.items()}
    reference = result['metrics']['reference']
    if reference['converged']:
        boundaries['newton'] = (reference['w'], reference['b'][0])
    decision_boundaries(X, y, boundaries, os.path.join(folder, 'boundaries.png'))


FIGURES = {'linreg': linreg_figures, 'softmax': softmax_figures, 'mlp': mlp_figures,
           'logreg': logreg_figures}


def chapter_figures(chapter, config, result, folder):
    """Save the figures of a chapter's fit() result into folder."""
    FIGURES[chapter](config, result, folder)


# the files each chapter's figures are saved as, known before training (a run records them)
FIGURE_NAMES = {'linreg': ('data.png', 'loss.png'),
                'softmax': ('curves.png', 'predictions.png', 'weights.png'),
                'mlp': ('curves.png', 'predictions.png', 'activations.png'),
                'polyfit': ('loss.png',), 'weight-decay': ('loss.png', 'norm.png'),
                'dropout': ('curves.png', 'predictions.png'),
                'initialization': ('initialization.png',)}


def figure_names(chapter, config):
    """Return the names of the files chapter_figures(chapter, config, ...) writes."""
    if chapter == 'logreg':
        return ('loss.png', 'probability.png' if config['data'] == 'hours' else 'boundaries.png')
    return FIGURE_NAMES[chapter]


# ---- walk-through figures

def learning_rate_curves(tries, path, xlabel='epoch', ylabel='loss on the training set',
                         title='learning rates (x: diverged)'):
    """Save one figure of loss curves, one per learning rate, with the diverging ones marked.

    tries maps a label (e.g. 'lr 0.3') -> (epochs, losses, diverged); diverged is None for
    a run that finished, or the epoch in which training stopped.  A diverged curve is drawn
    dashed up to its last finished epoch and ends in a red cross at the top of the axes,
    placed at the epoch that diverged.  Losses span orders of magnitude: the y axis is log.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    finite = [v for epochs, losses, _ in tries.values() for v in losses if np.isfinite(v) and v > 0]
    top = max(finite) * 3 if finite else 1.0
    for label, (epochs, losses, diverged) in tries.items():
        if diverged is None:
            ax.plot(epochs, losses, marker='o' if len(epochs) <= 30 else None, ms=3, label=label)
            continue
        line, = ax.plot(epochs, losses, '--', marker='o' if len(epochs) <= 30 else None, ms=3,
                        label='%s: diverged in epoch %d' % (label, diverged))
        ax.plot([diverged], [top], 'x', color='red', ms=10, mew=2, clip_on=False)
        if len(epochs):
            ax.plot([epochs[-1], diverged], [losses[-1], top], ':', color=line.get_color())
    ax.set_yscale('log')
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


# ---- model selection and weight decay: training and test loss of several cases

def case_loss_curves(runs, cases, path, keys=(('loss', 'train'), ('test_loss', 'test'))):
    """Save one log-scale panel of loss per case; runs are named '<case> <impl>'."""
    fig, axes = plt.subplots(1, len(cases), figsize=(4.5 * len(cases), 3.5), squeeze=False)
    for ax, case in zip(axes[0], cases):
        for name, run in runs.items():
            group, impl = name.split(' ', 1)
            if group != case:
                continue
            epochs = [e['epoch'] for e in run['epochs']]
            for key, label in keys:
                # gluon dashed over scratch: the two lie on top of each other when they agree
                ax.semilogy(epochs, [e[key] for e in run['epochs']],
                            '-' if impl == 'scratch' else '--', label='%s %s' % (impl, label))
        ax.set(xlabel='epoch', ylabel='loss', title=case)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, path)


def polyfit_figures(config, result, folder):
    """Save loss.png: training and test loss of each case (normal, underfit, overfit), log scale."""
    case_loss_curves(result['metrics']['runs'], list(result['data'].cases),
                     os.path.join(folder, 'loss.png'))


FIGURES['polyfit'] = polyfit_figures


# ---- sweeps

def sweep_curves(results, varied, path):
    """Save one log-scale panel of loss curves per combination of values: a curve per seed and version.

    A run that diverged is drawn dashed up to its last finished epoch, with a
    red cross at the top of its panel.
    """
    panels = {}
    for result in results:
        key = ' '.join('%s=%g' % (name, result['config'][name]) for name in varied)
        panels.setdefault(key, []).append(result)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.5), squeeze=False,
                             sharey=True)
    for ax, (key, group) in zip(axes[0], panels.items()):
        for result in group:
            for impl, epochs in result['runs'].items():
                diverged = result['diverged'].get(impl)
                label = '%s seed %d%s' % (impl, result['config']['seed'],
                                          ' diverged in epoch %d' % diverged['epoch'] if diverged else '')
                ax.plot([e['epoch'] for e in epochs], [e['loss'] for e in epochs],
                        '--' if diverged else '-', marker='o', ms=3, label=label)
                if diverged:
                    ax.plot([diverged['epoch']], [1], 'x', color='red', ms=10, mew=2,
                            transform=ax.get_xaxis_transform(), clip_on=False)
        ax.set_yscale('log')
        ax.set(xlabel='epoch', title=key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel('loss on the training set')
    save(fig, path)


def weight_decay_figures(config, result, folder):
    """Save loss.png (training and test loss per λ, log scale) and norm.png (||w|| per epoch)."""
    runs = result['metrics']['runs']
    case_loss_curves(runs, list(result['data'].cases), os.path.join(folder, 'loss.png'))
    run_curves(runs, os.path.join(folder, 'norm.png'), [('||w||', ('w_norm',))])


FIGURES['weight-decay'] = weight_decay_figures


FIGURES['dropout'] = classifier_figures  # the MLP's curves and predictions, without activations


# ---- numerical stability and initialization

def initialization_figures(config, result, folder):
    """Save initialization.png: sigmoid and σ', ||dl/dW|| per layer and init, the product's norm.

    The two right panels are log scale; gluon is drawn dashed over scratch.
    """
    metrics = result['metrics']
    runs = metrics['runs']
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for impl, run in runs.items():
        style = '-' if impl == 'scratch' else '--'
        curve = run['sigmoid']
        axes[0].plot(curve['x'], curve['y'], style, color='C0', label='%s sigmoid' % impl)
        axes[0].plot(curve['x'], curve['grad'], style, color='C1', label='%s gradient' % impl)
        for k, (name, layer_norms) in enumerate(run['grad_norms'].items()):
            layers = np.arange(1, len(layer_norms) + 1)
            axes[1].semilogy(layers, layer_norms, style, color='C%d' % k,
                             marker='o' if impl == 'scratch' else 'x', label='%s %s' % (name, impl))
    axes[0].set(xlabel='x', title='sigmoid and its gradient')
    axes[1].set(xlabel='layer', ylabel='||dl/dW||',
                title='gradient per layer at initialisation (%s, %d x %d)'
                      % (config['activation'], config['num_layers'], config['num_hiddens']))
    norms = metrics['product']['norms']
    axes[2].semilogy(np.arange(len(norms)), norms)
    axes[2].set(xlabel='matrices multiplied', ylabel='||M|| (Frobenius)',
                title='product of random 4x4 N(0, 1) matrices')
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7, loc='center right')
    save(fig, os.path.join(folder, 'initialization.png'))


FIGURES['initialization'] = initialization_figures
