# %% [markdown]
# # The Fashion-MNIST data set (book 3.5)
#
# The image classification set of the softmax-regression and MLP chapters (note 001):
# 60,000 training and 10,000 test images of 28x28 gray pixels in ten classes.  Each cell calls
# `d2l_gluon`; where the code matters, it prints the library function's own source.
# Run headless with `python scripts/fashion_mnist.py [--quick] [--out DIR]`.

# %%
import os
import sys
import time

from d2l_gluon import d2l, plot
from d2l_gluon import data as d2l_data
from d2l_gluon.fashion_mnist import read_fashion_mnist
from d2l_gluon.errors import D2LError
from d2l_gluon.walkthrough import show_figure, show_source, walkthrough_args


QUICK, OUT = walkthrough_args('fashion_mnist')
print('quick mode' if QUICK else 'full run', '- figures go to', OUT)

# %% [markdown]
# ## 3.5.1 Getting the data set
# `read_fashion_mnist` finds the four idx files (here or in the gluon cache, else it downloads
# them) and returns numpy arrays; the first training example is a 28x28 uint8 image and its label.

# %%
try:
    train_images, train_labels, test_images, test_labels = read_fashion_mnist()
except D2LError as e:
    sys.exit('error: %s' % e)
print('training examples', len(train_images), 'test examples', len(test_images))
feature, label = train_images[0], train_labels[0]
print('feature', feature.shape, feature.dtype, '- label', label, type(label).__name__,
      '(%s)' % d2l.get_fashion_mnist_labels([label])[0])

# %% [markdown]
# ## 3.5.1 The classes
# The ten classes by name, and the first nine training images with their labels.

# %%
show_source(d2l.get_fashion_mnist_labels)
print(d2l_data.TEXT_LABELS)
path = os.path.join(OUT, 'fashion_mnist.png')
plot.image_grid(train_images[:9], d2l.get_fashion_mnist_labels(train_labels[:9]), path, ncols=9)
show_figure(path)

# %% [markdown]
# ## 3.5.2 Reading a minibatch
# The book's `load_data_fashion_mnist` returns iterators over batches of X (batch, 1, 28, 28) in
# [0, 1] and y (batch,); its default fast loader holds the images in memory, scaled by
# `to_tensor`.  The first training batch, then the time one pass over the training set takes.

# %%
show_source(d2l.load_data_fashion_mnist, d2l_data.to_tensor)
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
for X, y in train_iter:
    print('X', X.shape, X.dtype.__name__, 'in [%g, %g]' % (X.min().asscalar(), X.max().asscalar()),
          '- y', y.shape, y.dtype.__name__)
    break


def time_one_epoch(loader):
    start = time.perf_counter()
    for X, y in loader:
        X.wait_to_read()
    return time.perf_counter() - start


print('fast loader (one NDArray in memory): %.2f sec per pass' % time_one_epoch(train_iter))

# %% [markdown]
# ## 3.5.2 The book's loader
# The book's pipeline: a Dataset, `transform_first(ToTensor())` and gluon's DataLoader
# (`loader='book'`).  It yields the same batches, more slowly; quick mode skips the timing.

# %%
if QUICK:
    print('quick mode: the book loader is not timed')
else:
    book_train_iter, _ = d2l.load_data_fashion_mnist(batch_size, loader='book')
    print('book loader (DataLoader + ToTensor): %.2f sec per pass'
          % time_one_epoch(book_train_iter))
