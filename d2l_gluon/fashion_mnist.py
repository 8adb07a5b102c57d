"""Fashion-MNIST's four files: where they are looked for, the download, the checked arrays."""
import contextlib
import io
import os

import mxnet as mx
import numpy as np

from .errors import D2LError
from .idx import not_a_file, not_a_file_error, read_idx

# file stem -> sha1 of the .gz file that gluon.data.vision.FashionMNIST downloads
FASHION_MNIST_FILES = {
    'train-images-idx3-ubyte': '0cf37b0d40ed5169c6b3aba31069a9770ac9043d',
    'train-labels-idx1-ubyte': '236021d52f1e40852b06a4c3008d8de8aef1e40b',
    't10k-images-idx3-ubyte': '626ed6a7c06dd17c0eec72fa3be1740f146a2863',
    't10k-labels-idx1-ubyte': '17f9ab60e7257a1620f4ad76bbbaf857c3920701',
}
DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
FASHION_MNIST_FIX = ('install it with "apt-get install dataset-fashion-mnist" (Debian), '
                     'or put the four idx files in a folder and pass --data-dir FOLDER')


def fashion_mnist_places(root=None):
    """Return the folders searched for Fashion-MNIST, in order.

    An explicit root (--data-dir) is the only place searched; otherwise
    $D2L_GLUON_DATA, the gluon cache ($MXNET_HOME/datasets/fashion-mnist) and
    Debian's dataset-fashion-mnist package.
    """
    if root is not None:
        return [root]
    places = [os.environ.get('D2L_GLUON_DATA'), gluon_cache_dir(), DEBIAN_FASHION_MNIST]
    return [p for p in places if p]


def gluon_cache_dir():
    """Return the folder gluon.data.vision.FashionMNIST downloads into."""
    return os.path.join(mx.base.data_dir(), 'datasets', 'fashion-mnist')


def _idx_files(folder):
    """Return {stem: path} when folder holds all four files (.gz or uncompressed), else None.

    A name of the four that is there but no regular file (a directory, a
    broken symbolic link, a FIFO) raises D2LError naming it: the folder was
    meant to hold the data.
    """
    found = {}
    for stem in FASHION_MNIST_FILES:
        paths = [os.path.join(folder, name) for name in (stem, stem + '.gz')]
        files = [path for path in paths if os.path.isfile(path)]
        if files:
            found[stem] = files[0]
            continue
        for path in paths:
            if os.path.lexists(path):
                raise not_a_file_error(path, not_a_file(path) or 'is not a regular file')
    return found if len(found) == len(FASHION_MNIST_FILES) else None


def find_fashion_mnist(root=None, download=True):
    """Return {stem: path} of the four Fashion-MNIST files, downloading them if allowed and needed."""
    places = fashion_mnist_places(root)
    for folder in places:
        files = _idx_files(folder)
        if files:
            return files
    if root is not None:
        raise D2LError('no Fashion-MNIST idx files in --data-dir %s; %s'
                       % (root, FASHION_MNIST_FIX.split(', or ')[1]))
    if not download:
        raise D2LError('Fashion-MNIST not found in %s; %s' % (', '.join(places), FASHION_MNIST_FIX))
    return download_fashion_mnist(gluon_cache_dir(), places)


def download_fashion_mnist(folder, searched=()):
    """Download the four .gz files into folder, checking gluon's sha1 hashes; return {stem: path}."""
    from mxnet.gluon.utils import _get_repo_file_url, download
    files = {}
    try:
        # gluon's download treats a path that is not an existing folder as the file name
        os.makedirs(folder, exist_ok=True)
        for stem, sha1 in FASHION_MNIST_FILES.items():
            url = _get_repo_file_url('gluon/dataset/fashion-mnist', stem + '.gz')
            # gluon prints each attempt and each retry on stdout; the error below says what failed
            with contextlib.redirect_stdout(io.StringIO()):
                files[stem] = download(url, path=folder, sha1_hash=sha1, retries=2)
    except Exception as e:  # requests' errors, URLError, OSError, gluon's hash mismatch
        # the whole cause on one line: requests names the URL and the reason at its end
        raise D2LError('Fashion-MNIST not found in %s and the download failed (%s); %s'
                       % (', '.join(searched) or folder, ' '.join(str(e).split()),
                          FASHION_MNIST_FIX)) from None
    return files


_FASHION_MNIST_CACHE = {}


def read_fashion_mnist(root=None, download=True):
    """Return (train_images, train_labels, test_images, test_labels) as numpy arrays.

    Images are uint8 of shape (N, 28, 28), labels int32 of shape (N,): 60000
    training and 10000 test examples.  The arrays are cached per file set.
    """
    files = find_fashion_mnist(root, download)
    key = tuple(sorted(files.values()))
    if key not in _FASHION_MNIST_CACHE:
        arrays = []
        for split in ('train', 't10k'):
            images = read_idx(files[split + '-images-idx3-ubyte'])
            labels = read_idx(files[split + '-labels-idx1-ubyte'])
            _check_pair(files[split + '-images-idx3-ubyte'], images,
                        files[split + '-labels-idx1-ubyte'], labels)
            arrays += [images, labels.astype(np.int32)]
        _check_train_larger(files['train-images-idx3-ubyte'], len(arrays[0]),
                            files['t10k-images-idx3-ubyte'], len(arrays[2]))
        _FASHION_MNIST_CACHE[key] = tuple(arrays)
    return _FASHION_MNIST_CACHE[key]


def read_fashion_mnist_test(root=None, download=True):
    """Return (test_images, test_labels) alone: what needs the test set reads no training file."""
    files = find_fashion_mnist(root, download)
    images = read_idx(files['t10k-images-idx3-ubyte'])
    labels = read_idx(files['t10k-labels-idx1-ubyte'])
    _check_pair(files['t10k-images-idx3-ubyte'], images, files['t10k-labels-idx1-ubyte'], labels)
    return images, labels.astype(np.int32)


def _check_pair(image_path, images, label_path, labels):
    """Raise D2LError unless images (N, 28, 28) uint8 and labels (N,) in 0-9 belong together, N >= 1."""
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise D2LError('%s holds %s %s, not 28x28 uint8 images; fetch the original file again'
                       % (image_path, images.dtype, 'x'.join(map(str, images.shape))))
    if labels.ndim != 1 or labels.dtype != np.uint8 or (labels.size and labels.max() > 9):
        raise D2LError('%s does not hold labels 0-9; fetch the original file again' % label_path)
    if len(images) != len(labels):
        raise D2LError('%s has %d images but %s has %d labels; the files do not belong together: '
                       'fetch the original files again'
                       % (image_path, len(images), label_path, len(labels)))
    if len(images) == 0:
        # an empty set would train on nothing, and its accuracy would be 0 / 0
        raise D2LError('%s and %s hold no examples; a training or test set needs at least one: '
                       'fetch the original files again' % (image_path, label_path))


def _check_train_larger(train_path, num_train, test_path, num_test):
    """Raise D2LError when the training set holds fewer examples than the test set.

    The real sets hold 60000 and 10000 examples; fewer training than test
    examples means the train and t10k files were put under each other's
    names, which would train on the test set and test on the training set.
    Equal sizes cannot show a swap and are allowed.
    """
    if num_train < num_test:
        raise D2LError('%s holds %d training examples, fewer than the %d test examples of %s; the '
                       'train and t10k files look swapped: rename them so that the train- files hold '
                       'the larger set (the real ones hold 60000 examples, the t10k- ones 10000)'
                       % (train_path, num_train, num_test, test_path))
