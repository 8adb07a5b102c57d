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
            ax.plot(xs, ys, marker='o', label=name)
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
