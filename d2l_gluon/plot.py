"""Figures, saved as PNG files.  The only module that imports matplotlib (Agg, headless)."""

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


def spans_decades(values, ratio=10.0):
    """Return whether positive values span more than ratio (a decade): they read better on a log axis."""
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    return bool(values.size) and values.min() > 0 and values.max() > ratio * values.min()


def scale_y(ax, values):
    """Set a log y axis on ax when values span more than a decade, else keep it linear."""
    if spans_decades(values):
        ax.set_yscale('log')


def curves(panels, path, xlabel='epoch'):
    """Save side-by-side line plots; panels is a list of (ylabel, {name: (xs, ys[, linestyle])}).

    A panel whose values span more than a decade gets a log y axis.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels):
        for name, (xs, ys, *style) in series.items():
            ax.plot(xs, ys, *style, marker='o' if len(xs) <= 50 else None, label=name)
        scale_y(ax, [y for _, ys, *_ in series.values() for y in ys])
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    save(fig, path)


def image_grid(images, titles, path, ncols=10, cmap='gray', symmetric=False, suptitle=None):
    """Save a grid of 2-D images (N, H, W) with a title over each (the book's show_fashion_mnist).

    A title is a string, or a list of (line, colour) pairs stacked top to bottom
    (e.g. a wrong prediction in red).
    """
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.9 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis('off')
    for ax, image, title in zip(axes.ravel(), images, titles):
        limit = abs(image).max() if symmetric else None
        ax.imshow(image, cmap=cmap, vmin=-limit if symmetric else None, vmax=limit)
        if isinstance(title, str):
            ax.set_title(title, fontsize=8)
            continue
        for k, (line, colour) in enumerate(reversed(title)):  # the last line sits just above the image
            ax.annotate(line, (0.5, 1), xycoords='axes fraction', xytext=(0, 3 + 10 * k),
                        textcoords='offset points', ha='center', va='bottom', fontsize=8,
                        color=colour, fontweight='bold' if colour != 'black' else 'normal')
    if suptitle:
        fig.suptitle(suptitle, fontsize=10, y=1.0 + 0.12 / nrows)
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
    for k, (name, p) in enumerate(probabilities.items()):
        ax.plot(x, p, '-' if k == 0 else '--', label=name)  # dashed: visible over a curve it matches
    ax.plot([x[0], x[-1]], [0.5, 0.5], 'r--', label='0.5')
    ax.scatter(points[0], points[1], c='k', s=15, zorder=3, label='data')
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    legend_clear_of(ax, np.column_stack(points))
    save(fig, path)


LEGEND_PLACES = ('best', 'lower right', 'center right', 'upper left', 'lower left', 'upper right',
                 'center left', 'upper center', 'lower center', 'center')


def legend_clear_of(ax, points, margin=6):
    """Place ax's legend where its box (grown by margin pixels) covers none of points (N, 2), in data units.

    matplotlib's 'best' weighs lines as well as points and may cover a data point;
    a point hidden under the legend is a point the reader cannot see.
    """
    fig = ax.figure
    xy = ax.transData.transform(np.asarray(points, dtype=np.float64))
    for place in LEGEND_PLACES:
        legend = ax.legend(loc=place)
        fig.canvas.draw()
        box = legend.get_window_extent().padded(margin)
        if not any(box.contains(x, y) for x, y in xy):
            return legend
    return legend


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


# ---- a chapter's figures

def run_curves(runs, path, panels=(('loss', ('loss',)),)):
    """Save per-epoch curves of every version; panels is a list of (ylabel, record keys).

    Gluon's curves are dashed, so that where they lie on scratch's both stay visible.
    """
    figure = []
    for ylabel, keys in panels:
        series = {}
        for impl, run in runs.items():
            for key in keys:
                epochs = [e for e in run['epochs'] if key in e]
                name = impl if len(keys) == 1 else '%s %s' % (impl, key.replace('_acc', ''))
                series[name] = ([e['epoch'] for e in epochs], [e[key] for e in epochs],
                                '--' if impl.endswith('gluon') else '-')
        figure.append((ylabel, series))
    curves(figure, path)


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
    """Save one panel of loss per case, log scale when it spans a decade; runs are named '<case> <impl>'."""
    fig, axes = plt.subplots(1, len(cases), figsize=(4.5 * len(cases), 3.5), squeeze=False)
    for ax, case in zip(axes[0], cases):
        shown = []
        for name, run in runs.items():
            group, impl = name.split(' ', 1)
            if group != case:
                continue
            epochs = [e['epoch'] for e in run['epochs']]
            for key, label in keys:
                shown += [e[key] for e in run['epochs']]
                # gluon dashed over scratch: the two lie on top of each other when they agree
                ax.plot(epochs, [e[key] for e in run['epochs']],
                        '-' if impl == 'scratch' else '--', label='%s %s' % (impl, label))
        scale_y(ax, shown)
        ax.set(xlabel='epoch', ylabel='loss', title=case)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, path)


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


# ---- numerical stability and initialization

def initialization(runs, product_norms, gradient_title, path):
    """Save three panels: sigmoid and σ' per version, ||dl/dW|| per layer and init, a product's norm.

    runs: {impl: {'sigmoid': {'x', 'y', 'grad'}, 'grad_norms': {init: [norm per layer]}}}.
    The two right panels are log scale; gluon is drawn dashed over scratch.
    """
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
    axes[1].set(xlabel='layer', ylabel='||dl/dW||', title=gradient_title)
    axes[2].semilogy(np.arange(len(product_norms)), product_norms)
    axes[2].set(xlabel='matrices multiplied', ylabel='||M|| (Frobenius)',
                title='product of random 4x4 N(0, 1) matrices')
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7, loc='center right')
    save(fig, path)
