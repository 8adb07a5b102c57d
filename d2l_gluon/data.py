"""Data: synthetic regression data, minibatch iterators and Fashion-MNIST.

Every shuffle here draws from numpy's global generator, exactly as gluon's
DataLoader(shuffle=True) does, so ``d2l_gluon.seed(n)`` fixes the batch
order and an in-memory iterator yields the same batches as a DataLoader.
"""
import errno
import gzip
import math
import os
import stat
import struct
import warnings
import zlib

import mxnet as mx
import numpy as np
from mxnet import nd
from mxnet.gluon import data as gdata

from .errors import D2LError


def synthetic_data(w, b, num_examples, noise=0.01, ctx=None):
    """Return features (num_examples, len(w)) ~ N(0, 1) and labels (num_examples,) = Xw + b + N(0, noise²)."""
    check_size(num_examples, len(w))
    w = nd.array(w, ctx=ctx).reshape((-1, 1))
    features = nd.random.normal(0, 1, shape=(num_examples, w.shape[0]), ctx=ctx)
    labels = nd.dot(features, w).reshape((-1,)) + b
    if noise:  # mxnet's normal refuses a scale of 0
        labels += nd.random.normal(0, noise, shape=labels.shape, ctx=ctx)
    return features, labels


# the most values a synthetic data set may hold: 2^28 float32 values are 1 GiB
MAX_VALUES = 2 ** 28


def check_size(num_examples, num_inputs):
    """Raise D2LError when num_examples x num_inputs values would not fit in memory."""
    if num_examples * num_inputs > MAX_VALUES:
        raise D2LError('%d examples of %d inputs are %d values, more than the %d (1 GiB) a '
                       'synthetic data set may hold; choose fewer examples or inputs'
                       % (num_examples, num_inputs, num_examples * num_inputs, MAX_VALUES))


def shuffled_indices(num_examples):
    """Return a random permutation of range(num_examples), drawn as gluon's RandomSampler does."""
    indices = np.arange(num_examples)
    np.random.shuffle(indices)
    return indices


def data_iter(batch_size, features, labels):
    """Yield (X, y) minibatches in random order; every example once, the short last batch kept."""
    if batch_size < 1:
        raise D2LError('batch_size must be a positive integer, got %r' % (batch_size,))
    num_examples = len(features)
    # one host-to-device copy of the permutation per epoch; each batch slices it
    indices = nd.array(shuffled_indices(num_examples), ctx=features.context, dtype='int64')
    for i in range(0, num_examples, batch_size):
        j = indices[i: i + batch_size]
        yield features.take(j), labels.take(j)


class ArrayLoader:
    """A re-iterable in-memory loader: each ``iter()`` yields a new epoch of data_iter's batches."""

    def __init__(self, features, labels, batch_size, shuffle=True):
        self.features, self.labels = features, labels
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self):
        return -(-len(self.features) // self.batch_size)

    def __iter__(self):
        if self.shuffle:
            return data_iter(self.batch_size, self.features, self.labels)
        return ((self.features[i: i + self.batch_size], self.labels[i: i + self.batch_size])
                for i in range(0, len(self.features), self.batch_size))


# ---- Fashion-MNIST

# file stem -> sha1 of the .gz file that gluon.data.vision.FashionMNIST downloads
FASHION_MNIST_FILES = {
    'train-images-idx3-ubyte': '0cf37b0d40ed5169c6b3aba31069a9770ac9043d',
    'train-labels-idx1-ubyte': '236021d52f1e40852b06a4c3008d8de8aef1e40b',
    't10k-images-idx3-ubyte': '626ed6a7c06dd17c0eec72fa3be1740f146a2863',
    't10k-labels-idx1-ubyte': '17f9ab60e7257a1620f4ad76bbbaf857c3920701',
}
DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
TEXT_LABELS = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']
FASHION_MNIST_FIX = ('install it with "apt-get install dataset-fashion-mnist" (Debian), '
                     'or put the four idx files in a folder and pass --data-dir FOLDER')

# idx type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian numpy dtype
_IDX_DTYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}


def get_fashion_mnist_labels(labels):
    """Return the text label of each integer label."""
    return [TEXT_LABELS[int(i)] for i in labels]


# A header may promise at most this many bytes of data.  Fashion-MNIST's
# largest file (train-images) holds 47 MB; 2 GiB leaves room for any data set
# of this kind while a damaged header cannot make us allocate without bound.
IDX_MAX_DATA_BYTES = 2 ** 31
# data is read in pieces of this size, so a file shorter than its header says
# costs memory for what it holds, not for what the header promises
_IDX_CHUNK_BYTES = 2 ** 22


def read_idx(path):
    """Read an idx file (gzip-compressed or not) into a numpy array with the header's shape.

    Checks the magic number, the type code, that the header promises at most
    IDX_MAX_DATA_BYTES, and that the data length equals the product of the
    dimensions; any mismatch raises D2LError naming the file.  Never reads
    more than one byte past what the header promises, so a small gzip that
    inflates to gigabytes costs no more memory than a valid file.
    """
    try:
        with _open_file(path) as raw:
            if path.endswith('.gz'):
                with gzip.GzipFile(fileobj=raw, mode='rb') as f:
                    return _read_idx_stream(f, path)
            return _read_idx_stream(raw, path)
    except (OSError, EOFError, zlib.error) as e:
        raise D2LError('cannot read %s: %s; the file is damaged: delete it and fetch it again'
                       % (path, e)) from None


def _read_idx_stream(f, path):
    """Read the idx header, then exactly the data it promises, from the open binary file f."""
    magic = f.read(4)
    if not magic:  # the file itself is not empty: _open_file refuses that
        raise D2LError('%s is empty once decompressed; fetch the original file again' % path)
    if len(magic) < 4 or magic[:2] != b'\0\0' or magic[2] not in _IDX_DTYPES or magic[3] == 0:
        raise D2LError('%s is not an idx file (bad magic number %s); fetch the original file again'
                       % (path, magic.hex()))
    dtype, ndim = np.dtype(_IDX_DTYPES[magic[2]]), magic[3]
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise D2LError('%s is truncated inside its header; fetch the original file again' % path)
    dims = struct.unpack('>%dI' % ndim, raw_dims)
    shape = 'x'.join(map(str, dims))
    # Python ints: numpy's int64 product wraps to 0 for dims such as 2^31 x 2^31 x 4;
    # numpy also refuses an empty shape whose other dimensions overflow, so bound those too
    expected = math.prod(dims) * dtype.itemsize
    if math.prod(max(d, 1) for d in dims) * dtype.itemsize > IDX_MAX_DATA_BYTES:
        raise D2LError('%s has a header of shape %s of %s, more than the %d bytes of data an '
                       'idx file may hold; the header is corrupt: fetch the original file again'
                       % (path, shape, dtype.name, IDX_MAX_DATA_BYTES))
    data = _read_at_most(f, expected + 1)
    if len(data) < expected:
        raise D2LError('%s holds %d bytes of data but its header %s needs %d; the file is '
                       'truncated or corrupt: fetch the original file again'
                       % (path, len(data), shape, expected))
    if len(data) > expected:
        raise D2LError('%s holds more data than the %d bytes its header %s says; the file is '
                       'corrupt: fetch the original file again' % (path, expected, shape))
    return np.frombuffer(data, dtype=dtype, count=math.prod(dims)).reshape(dims).astype(
        dtype.newbyteorder('='))


# st_mode tests of what may stand where a data file should, and what it is
_NOT_REGULAR = ((stat.S_ISDIR, 'is a directory'), (stat.S_ISFIFO, 'is not a regular file (a FIFO)'),
                (stat.S_ISSOCK, 'is not a regular file (a socket)'),
                (stat.S_ISCHR, 'is not a regular file (a character device)'),
                (stat.S_ISBLK, 'is not a regular file (a block device)'))


def _not_a_file(path, mode=None):
    """Return what path is instead of a regular file ('is a directory', ...), or None when it is one.

    mode is path's st_mode when already known; symbolic links are followed.
    """
    if mode is None:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            if os.path.islink(path):
                return 'is a broken symbolic link (to %s, which does not exist)' % os.readlink(path)
            return 'does not exist'
        except OSError as e:
            if e.errno == errno.ELOOP:
                return 'is a broken symbolic link (a loop of links that never reaches a file)'
            return 'cannot be examined (%s)' % e.strerror
    for test, what in _NOT_REGULAR:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else 'is not a regular file'


def _not_a_file_error(path, what):
    """Return the D2LError for a path that is `what` (from _not_a_file) instead of a data file."""
    fix = ('fetch the original file again' if what == 'does not exist'
           else 'replace it with the original file: fetch it again')
    return D2LError('%s %s; %s' % (path, what, fix))


def _open_file(path):
    """Open path for binary reading; raise D2LError naming what it is unless a non-empty regular file."""
    try:
        # without O_NONBLOCK, opening a FIFO waits until some process opens it for writing
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        what = _not_a_file(path)
        if what is not None and not what.startswith('cannot'):
            raise _not_a_file_error(path, what) from None
        raise
    try:
        status = os.fstat(fd)
        what = _not_a_file(path, status.st_mode) or ('is empty' if status.st_size == 0 else None)
        if what is not None:
            raise _not_a_file_error(path, what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise


def _read_at_most(f, size):
    """Return up to size bytes from f, fewer only at the end of the file."""
    data = bytearray()
    while len(data) < size:
        chunk = f.read(min(_IDX_CHUNK_BYTES, size - len(data)))
        if not chunk:
            break
        data += chunk
    return data


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
                raise _not_a_file_error(path, _not_a_file(path) or 'is not a regular file')
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
            files[stem] = download(url, path=folder, sha1_hash=sha1, retries=2)
    except Exception as e:  # requests' errors, URLError, OSError, gluon's hash mismatch
        raise D2LError('Fashion-MNIST not found in %s and the download failed (%s); %s'
                       % (', '.join(searched) or folder, str(e).splitlines()[0][:120],
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


def to_tensor(images):
    """Return uint8 images (N, 28, 28) as float32 (N, 1, 28, 28) in [0, 1], the values ToTensor gives."""
    return images[:, None].astype(np.float32) / np.float32(255)


class DeviceLoader:
    """Wrap a re-iterable of (X, y) batches so that each batch arrives on ctx."""

    def __init__(self, loader, ctx):
        self.loader, self.ctx = loader, ctx

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for X, y in self.loader:
            yield X.as_in_context(self.ctx), y.as_in_context(self.ctx)


def load_fashion_mnist(batch_size, root=None, loader='fast', num_workers=0, ctx=None,
                       download=True):
    """Return (train_iter, test_iter) over Fashion-MNIST.

    Batches are X float32 in [0, 1] of shape (batch, 1, 28, 28) and y int32.
    ``loader='book'`` is the book's pipeline: a Dataset of uint8 images,
    transform_first(ToTensor()), gluon DataLoader (num_workers processes).
    ``loader='fast'`` holds each set as one NDArray on ctx and batches by
    shuffled index.  For the same seed both yield the same batches.
    """
    from mxnet.gluon.data.vision import transforms
    if batch_size < 1:
        raise D2LError('batch_size must be a positive integer, got %r' % (batch_size,))
    ctx = ctx or mx.cpu()
    train_images, train_labels, test_images, test_labels = read_fashion_mnist(root, download)
    if loader == 'book':
        iters = []
        for images, labels, shuffle in ((train_images, train_labels, True),
                                        (test_images, test_labels, False)):
            dataset = gdata.ArrayDataset(nd.array(images[..., None], dtype=np.uint8), labels)
            iters.append(DeviceLoader(gdata.DataLoader(
                dataset.transform_first(transforms.ToTensor()), batch_size, shuffle=shuffle,
                num_workers=num_workers), ctx))
        return tuple(iters)
    if loader != 'fast':
        raise D2LError("loader must be 'book' or 'fast', got %r" % (loader,))
    iters = []
    for images, labels, shuffle in ((train_images, train_labels, True),
                                    (test_images, test_labels, False)):
        X = nd.array(to_tensor(images), ctx=ctx)
        iters.append(ArrayLoader(X, nd.array(labels, ctx=ctx, dtype=np.int32), batch_size, shuffle))
    return tuple(iters)


# The model sees 28x28 pictures; photos up to this side are resized, larger
# ones are refused from their header, before their pixels are decoded.
MAX_IMAGE_SIDE = 4096


def read_image(path):
    """Return a PNG (or any image Pillow reads) as a 28x28 float32 array in [0, 1], and notes.

    Colour images are converted to grayscale and other sizes resized to
    28x28; each conversion adds a note.  Fashion-MNIST pictures are light
    objects on a dark background.  Images over MAX_IMAGE_SIDE pixels on a
    side raise D2LError without being decoded.
    """
    from PIL import Image, UnidentifiedImageError
    fix = 'pass a picture at most %dx%d pixels (the model sees 28x28)' % (MAX_IMAGE_SIDE,
                                                                          MAX_IMAGE_SIDE)
    try:
        with warnings.catch_warnings():
            # Pillow only warns about images over 89 megapixels; refuse them like those over 179
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if max(image.size) > MAX_IMAGE_SIDE:
                    raise D2LError('%s is %dx%d pixels, too large; %s'
                                   % ((path,) + image.size + (fix,)))
                image.load()
    except FileNotFoundError:
        raise D2LError('no image at %s' % path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's message: "Image size (N pixels) exceeds limit of M pixels, could be ..."
        raise D2LError('%s is too large to decode (%s); %s'
                       % (path, str(e).split(',')[0], fix)) from None
    except (UnidentifiedImageError, OSError) as e:
        raise D2LError('cannot read %s as an image (%s); pass a PNG file' % (path, e)) from None
    notes = []
    if image.mode.startswith('I;16') or image.mode == 'I':
        # 16-bit grayscale: convert('L') would clip every value above 255 to white
        notes.append('scaled from 16-bit grayscale')
        pixels = np.asarray(image, dtype=np.float32) / np.float32(65535)
    else:
        if image.mode != 'L':
            notes.append('converted from %s to grayscale' % image.mode)
            image = image.convert('L')
        pixels = np.asarray(image, dtype=np.float32) / np.float32(255)
    if pixels.shape != (28, 28):
        notes.append('resized from %dx%d to 28x28' % (pixels.shape[1], pixels.shape[0]))
        pixels = np.asarray(Image.fromarray(pixels, mode='F').resize((28, 28), Image.BILINEAR))
    return np.clip(pixels, 0, 1), notes


def images_to_classify(paths=(), from_test=None, root=None):
    """Return (names, images (n, 1, 28, 28) float32 in [0, 1]) of image files or the first test images."""
    if from_test:
        images, labels = read_fashion_mnist(root)[2:]
        return (['test image %d (%s)' % (i, label) for i, label in
                 enumerate(get_fashion_mnist_labels(labels[:from_test]))],
                to_tensor(images[:from_test]))
    pictures = [read_image(path) for path in paths]
    return (['%s%s' % (path, ' (%s)' % '; '.join(notes) if notes else '')
             for path, (_, notes) in zip(paths, pictures)],
            np.stack([image for image, _ in pictures])[:, None])
