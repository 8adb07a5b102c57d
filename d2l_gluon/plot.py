"""Figures, saved as PNG files.  The only module that imports matplotlib (Agg, headless)."""
import matplotlib

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
