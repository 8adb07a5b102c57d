"""Fashion-MNIST: our idx reader, where the files are looked for, the download, the two loaders.

Fake data sets are small idx files the tests write; every test that writes
one uses its own tmp_path, because read_fashion_mnist caches per file set.
"""
import functools
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from d2l_gluon import D2LError, fashion_mnist, seed
from d2l_gluon.data import get_fashion_mnist_labels, load_fashion_mnist
from d2l_gluon.fashion_mnist import find_fashion_mnist, read_fashion_mnist
from d2l_gluon.idx import read_idx

from .helpers import (fake_fashion_mnist, idx_bytes, one_line, run_main, write_fashion_mnist,
                      write_idx)

STEMS = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
BOOK_LABELS = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No Fashion-MNIST in any default place; downloads go to a closed local port.

    Returns the default folders as {'cache': ..., 'debian': ...}.
    """
    monkeypatch.delenv('D2L_GLUON_DATA', raising=False)
    monkeypatch.setenv('MXNET_HOME', str(tmp_path / 'mxnet-home'))
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:9/')
    monkeypatch.setattr(fashion_mnist, 'DEBIAN_FASHION_MNIST', str(tmp_path / 'debian'))
    return {'cache': str(tmp_path / 'mxnet-home' / 'datasets' / 'fashion-mnist'),
            'debian': str(tmp_path / 'debian')}


@pytest.fixture
def no_network(monkeypatch):
    """Replace gluon's download by one that fails; returns the list of URLs it was asked for."""
    calls = []

    def download(url, *args, **kwargs):
        calls.append(url)
        raise OSError('network is unreachable (test)')
    monkeypatch.setattr('mxnet.gluon.utils.download', download)
    return calls


def assert_one_line_error(excinfo, *words):
    message = str(excinfo.value)
    assert excinfo.type is D2LError, 'expected the project error, got %r' % excinfo.value
    assert '\n' not in message, message
    for word in words:
        assert str(word) in message, '%r not in %r' % (word, message)
    return message


# ---- read_idx

@pytest.mark.parametrize('gz', [False, True], ids=['raw', 'gzip'])
def test_read_idx_round_trips_images_and_labels(tmp_path, gz):
    images, labels = fake_fashion_mnist(num_train=5)[:2]
    suffix = '.gz' if gz else ''
    images_back = read_idx(write_idx(tmp_path / ('images' + suffix), images))
    labels_back = read_idx(write_idx(tmp_path / ('labels' + suffix), labels))
    assert images_back.shape == (5, 28, 28) and images_back.dtype == np.uint8
    assert labels_back.shape == (5,) and labels_back.dtype == np.uint8
    assert (images_back == images).all() and (labels_back == labels).all()


@pytest.mark.parametrize('dtype', ['int8', 'int16', 'int32', 'float32', 'float64'])
def test_read_idx_decodes_big_endian_types_into_native_arrays(tmp_path, dtype):
    scale = 1.5 if dtype.startswith('float') else 1  # non-integer values for the float types
    array = ((np.arange(24).reshape(2, 3, 4) - 11) * scale).astype(dtype)
    back = read_idx(write_idx(tmp_path / 'a.idx', array))
    assert back.shape == array.shape and back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert (back == array).all()


def test_read_idx_reads_an_empty_data_set(tmp_path):
    back = read_idx(write_idx(tmp_path / 'empty', np.zeros((0, 28, 28), np.uint8)))
    assert back.shape == (0, 28, 28)


def _corrupt_deflate(raw):
    """Return gzip(raw) with bits flipped all through the compressed stream (header and CRC kept)."""
    packed = bytearray(gzip.compress(raw * 50))
    for i in range(15, len(packed) - 8, 7):
        packed[i] ^= 0x5A
    return bytes(packed)


_GOOD = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
# case: (file name, bytes written, words the message must contain besides the path)
_BAD_FILES = {
    'empty file': ('x', b'', ['is empty']),
    'empty .gz file': ('x.gz', b'', ['is empty']),
    'gzip of nothing': ('x.gz', gzip.compress(b''), ['empty once decompressed']),
    'magic not starting with two zero bytes': ('x', b'\x08\x03' + _GOOD[2:], ['magic']),
    'unknown type code': ('x', _GOOD[:2] + b'\x07' + _GOOD[3:], ['magic']),
    'zero dimensions': ('x', _GOOD[:3] + b'\x00' + _GOOD[4:], ['magic']),
    'header cut inside the dimensions': ('x', _GOOD[:10], ['truncated']),
    'data shorter than the header says': ('x', _GOOD[:-1], ['truncated']),
    'data longer than the header says': ('x', _GOOD + b'\x00', ['corrupt']),
    'gzip of data shorter than the header says': ('x.gz', gzip.compress(_GOOD[:-7]), ['truncated']),
    '.gz that is not gzip': ('x.gz', _GOOD, []),
    'gzip stream cut short': ('x.gz', gzip.compress(_GOOD)[:20], []),
    'gzip with a corrupt deflate stream': ('x.gz', _corrupt_deflate(_GOOD), []),
}


@pytest.mark.parametrize('case', sorted(_BAD_FILES))
def test_read_idx_rejects_corrupt_or_truncated_files_naming_the_file(tmp_path, case):
    name, raw, words = _BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(D2LError) as excinfo:
        read_idx(str(path))
    assert_one_line_error(excinfo, str(path), *words)


def test_read_idx_of_a_missing_file_is_the_project_error(tmp_path):
    with pytest.raises(D2LError) as excinfo:
        read_idx(str(tmp_path / 'missing.gz'))
    assert_one_line_error(excinfo, tmp_path / 'missing.gz')


# ---- read_fashion_mnist: four files that must belong together

def test_read_fashion_mnist_reads_a_folder_of_mixed_gz_and_raw_files(tmp_path):
    arrays = fake_fashion_mnist(num_train=4, num_test=3)
    write_fashion_mnist(tmp_path / 'mixed', arrays, gz={STEMS[0]: False, STEMS[3]: False})
    back = read_fashion_mnist(str(tmp_path / 'mixed'))
    for got, want in zip(back, arrays):
        assert got.shape == want.shape and (got == want).all()
    assert back[0].dtype == np.uint8 and back[1].dtype == np.int32 and back[3].dtype == np.int32


def _mismatched(kind):
    train_images, train_labels, test_images, test_labels = fake_fashion_mnist(num_train=3, num_test=2)
    if kind == 'train counts differ':
        return [train_images, np.append(train_labels, 1).astype(np.uint8), test_images, test_labels], \
            [STEMS[0], STEMS[1], 'do not belong together']
    if kind == 'test counts differ':
        return [train_images, train_labels, test_images[:1], test_labels], \
            [STEMS[2], STEMS[3], 'do not belong together']
    if kind == 'images not 28x28':
        return [train_images[:, :27], train_labels, test_images, test_labels], [STEMS[0]]
    if kind == 'images and labels swapped':
        return [train_labels, train_images, test_images, test_labels], [STEMS[0]]
    if kind == 'label 10':
        return [train_images, train_labels, test_images, np.array([3, 10], np.uint8)], [STEMS[3]]
    if kind == 'float images':
        return [train_images.astype(np.float32), train_labels, test_images, test_labels], [STEMS[0]]
    raise ValueError(kind)


@pytest.mark.parametrize('kind', ['train counts differ', 'test counts differ', 'images not 28x28',
                                  'images and labels swapped', 'label 10', 'float images'])
def test_read_fashion_mnist_rejects_files_that_do_not_belong_together(tmp_path, kind):
    arrays, words = _mismatched(kind)
    write_fashion_mnist(tmp_path / kind.replace(' ', '-'), arrays)
    with pytest.raises(D2LError) as excinfo:
        read_fashion_mnist(str(tmp_path / kind.replace(' ', '-')))
    assert_one_line_error(excinfo, *words)


def test_read_fashion_mnist_refuses_train_and_test_files_swapped(tmp_path):
    # a training set with fewer examples than the test set: the t10k files under the train names
    train_images, train_labels, test_images, test_labels = fake_fashion_mnist(num_train=3,
                                                                              num_test=2)
    write_fashion_mnist(tmp_path / 'swapped', [test_images, test_labels, train_images, train_labels])
    with pytest.raises(D2LError) as excinfo:
        read_fashion_mnist(str(tmp_path / 'swapped'))
    assert_one_line_error(excinfo, tmp_path / 'swapped' / (STEMS[0] + '.gz'),
                          tmp_path / 'swapped' / (STEMS[2] + '.gz'), '2 training', '3 test',
                          'swapped')
    # as many training as test examples cannot tell a swap, and is a data set one may choose
    write_fashion_mnist(tmp_path / 'equal', num_train=2, num_test=2)
    assert len(read_fashion_mnist(str(tmp_path / 'equal'))[0]) == 2


@pytest.mark.skipif(not os.path.isdir(fashion_mnist.DEBIAN_FASHION_MNIST),
                    reason='dataset-fashion-mnist (Debian) is not installed here')
def test_data_command_refuses_the_real_sets_swapped(tmp_path):
    # the real files linked under each other's names: 10,000 "training" and 60,000 "test" images
    swap = {'train': 't10k', 't10k': 'train'}
    for name in os.listdir(fashion_mnist.DEBIAN_FASHION_MNIST):
        split, rest = name.split('-', 1)
        os.symlink(os.path.join(fashion_mnist.DEBIAN_FASHION_MNIST, name), str(tmp_path / (swap[split] + '-' + rest)))
    result = run_main('data', '--data-dir', tmp_path)
    line = one_line(result.stderr)
    assert result.returncode == 2 and result.stdout == '', (result.returncode, result.stdout)
    for word in (tmp_path / 'train-images-idx3-ubyte.gz', tmp_path / 't10k-images-idx3-ubyte.gz',
                 '10000 training', '60000 test', 'swapped'):
        assert str(word) in line, '%r not in %r' % (word, line)


# ---- where the files are looked for

def test_explicit_root_without_data_names_the_folder_and_data_dir(tmp_path, no_network, monkeypatch):
    # data elsewhere must not be used: --data-dir is the only place searched, and nothing downloads
    write_fashion_mnist(tmp_path / 'elsewhere')
    monkeypatch.setenv('D2L_GLUON_DATA', str(tmp_path / 'elsewhere'))
    (tmp_path / 'empty').mkdir()
    partial = write_fashion_mnist(tmp_path / 'partial')
    os.remove(partial[STEMS[2]])
    for root in (tmp_path / 'empty', tmp_path / 'partial', tmp_path / 'does-not-exist'):
        with pytest.raises(D2LError) as excinfo:
            find_fashion_mnist(str(root))
        assert_one_line_error(excinfo, root, '--data-dir')
    assert no_network == []


def test_search_order_is_env_var_then_gluon_cache_then_debian(tmp_path, nowhere, no_network,
                                                             monkeypatch):
    env_dir, cache_dir, debian_dir = str(tmp_path / 'env'), nowhere['cache'], nowhere['debian']
    sizes = {env_dir: 3, cache_dir: 4, debian_dir: 5}
    for folder, num_train in sizes.items():
        write_fashion_mnist(folder, num_train=num_train)
    monkeypatch.setenv('D2L_GLUON_DATA', env_dir)
    assert fashion_mnist.fashion_mnist_places() == [env_dir, cache_dir, debian_dir]

    def found_in():
        files = find_fashion_mnist(download=False)
        folders = {os.path.dirname(p) for p in files.values()}
        assert len(folders) == 1 and sorted(files) == sorted(STEMS)
        folder = folders.pop()
        assert len(read_fashion_mnist()[0]) == sizes[folder], 'read what find found'
        return folder

    assert found_in() == env_dir
    os.remove(os.path.join(env_dir, STEMS[1] + '.gz'))  # an incomplete folder is passed over
    assert found_in() == cache_dir
    monkeypatch.delenv('D2L_GLUON_DATA')
    write_fashion_mnist(env_dir)
    assert found_in() == cache_dir
    for name in os.listdir(cache_dir):
        os.remove(os.path.join(cache_dir, name))
    assert found_in() == debian_dir
    assert no_network == []


@pytest.mark.skipif(not os.path.isdir(fashion_mnist.DEBIAN_FASHION_MNIST),
                    reason='dataset-fashion-mnist (Debian) is not installed here')
def test_real_debian_package_is_found_when_nothing_else_has_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv('D2L_GLUON_DATA', raising=False)
    monkeypatch.setenv('MXNET_HOME', str(tmp_path / 'mxnet-home'))
    files = find_fashion_mnist(download=False)
    assert {os.path.dirname(p) for p in files.values()} == {fashion_mnist.DEBIAN_FASHION_MNIST}


def test_no_data_and_no_download_names_the_places_and_both_fixes(tmp_path, nowhere, no_network,
                                                                monkeypatch):
    monkeypatch.setenv('D2L_GLUON_DATA', str(tmp_path / 'env'))
    with pytest.raises(D2LError) as excinfo:
        find_fashion_mnist(download=False)
    assert_one_line_error(excinfo, tmp_path / 'env', nowhere['cache'], nowhere['debian'],
                          'apt-get install dataset-fashion-mnist', '--data-dir')
    assert no_network == []


def test_failed_download_is_one_line_naming_the_places_and_both_fixes(nowhere, no_network):
    with pytest.raises(D2LError) as excinfo:
        find_fashion_mnist()
    assert_one_line_error(excinfo, nowhere['cache'], nowhere['debian'], 'network is unreachable',
                          'apt-get install dataset-fashion-mnist', '--data-dir')
    assert len(no_network) == 1


def test_download_from_an_unreachable_repo_is_the_project_error(nowhere):
    # the real gluon download, against a closed port on this machine (MXNET_GLUON_REPO)
    with pytest.raises(D2LError) as excinfo:
        read_fashion_mnist()
    assert_one_line_error(excinfo, nowhere['cache'], nowhere['debian'], 'download failed',
                          'apt-get install dataset-fashion-mnist', '--data-dir')
    cache = nowhere['cache']
    assert not os.path.exists(cache) or (os.path.isdir(cache) and os.listdir(cache) == []), \
        'nothing left in the cache'


@pytest.fixture
def repo(tmp_path, monkeypatch, nowhere):
    """A local gluon repo: an HTTP server on 127.0.0.1 whose MXNET_GLUON_REPO is tmp_path/repo.

    Returns the folder that must hold gluon/dataset/fashion-mnist/*.gz.
    """
    root = tmp_path / 'repo'
    folder = root / 'gluon' / 'dataset' / 'fashion-mnist'
    folder.mkdir(parents=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                             functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % server.server_address[1])
    yield folder
    server.shutdown()
    server.server_close()


def _serve(repo, monkeypatch, arrays, wrong_hash=None):
    """Put the four .gz files in the repo and make the project expect their sha1 (or a wrong one).

    The real files' hashes are gluon's; small fake files need their own.
    """
    for stem, path in write_fashion_mnist(repo, arrays, gz=True).items():
        with open(path, 'rb') as f:
            sha1 = hashlib.sha1(f.read()).hexdigest()
        monkeypatch.setitem(fashion_mnist.FASHION_MNIST_FILES, stem, '0' * 40 if stem == wrong_hash else sha1)


def test_download_fetches_the_four_files_into_a_new_gluon_cache(repo, nowhere, monkeypatch):
    assert not os.path.exists(nowhere['cache'])  # a fresh machine: not even ~/.mxnet exists
    arrays = fake_fashion_mnist(num_train=6, num_test=4, seed=3)
    _serve(repo, monkeypatch, arrays)
    files = find_fashion_mnist()
    assert files == {stem: os.path.join(nowhere['cache'], stem + '.gz') for stem in STEMS}
    for got, want in zip(read_fashion_mnist(download=False), arrays):
        assert (got == want).all()
    # the next run finds the cache and fetches nothing
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:9/')
    assert find_fashion_mnist() == files


def test_download_with_a_wrong_hash_is_the_project_error(repo, nowhere, monkeypatch):
    os.makedirs(nowhere['cache'])
    _serve(repo, monkeypatch, fake_fashion_mnist(), wrong_hash=STEMS[0])
    with pytest.raises(D2LError) as excinfo:
        find_fashion_mnist()
    assert_one_line_error(excinfo, nowhere['cache'], 'download failed',
                          'apt-get install dataset-fashion-mnist', '--data-dir')


# ---- the real data set (/usr/share/datasets/fashion-mnist or wherever find_fashion_mnist finds it)

def test_real_data_has_the_book_sizes_types_and_ranges():
    train_images, train_labels, test_images, test_labels = read_fashion_mnist()
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert train_images.dtype == test_images.dtype == np.uint8
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    assert train_labels.dtype == test_labels.dtype == np.int32
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class
    assert (np.bincount(train_labels, minlength=10) == 6000).all()
    assert (np.bincount(test_labels, minlength=10) == 1000).all()

    train_iter, test_iter = load_fashion_mnist(256)
    for it, num_examples in ((train_iter, 60000), (test_iter, 10000)):
        sizes = []
        for X, y in it:
            assert X.shape[1:] == (1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int32
            assert X.shape[0] == y.shape[0] and y.ndim == 1
            sizes.append(X.shape[0])
        assert sum(sizes) == num_examples and len(sizes) == len(it) == -(-num_examples // 256)
    X, y = next(iter(test_iter))  # not shuffled: the first 256 test images, scaled to [0, 1]
    assert X.shape == (256, 1, 28, 28)
    assert (X.asnumpy() == test_images[:256, None] / np.float32(255)).all()
    assert (y.asnumpy() == test_labels[:256]).all()
    assert float(X.min().asscalar()) == 0.0 and float(X.max().asscalar()) == 1.0


def test_get_fashion_mnist_labels_gives_the_books_names():
    assert get_fashion_mnist_labels(range(10)) == BOOK_LABELS
    assert get_fashion_mnist_labels(np.array([9, 0, 9], np.int32)) == ['ankle boot', 't-shirt', 'ankle boot']


def _batches(it, n=None):
    out = []
    for i, (X, y) in enumerate(it):
        if n is not None and i == n:
            break
        out.append((X.asnumpy(), y.asnumpy()))
    return out


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for i, ((X1, y1), (X2, y2)) in enumerate(zip(a, b)):
        assert X1.shape == X2.shape and X1.dtype == X2.dtype, 'batch %d' % i
        assert y1.dtype == y2.dtype, 'batch %d labels: %s != %s' % (i, y1.dtype, y2.dtype)
        assert (X1 == X2).all() and (y1 == y2).all(), 'batch %d differs' % i


def test_book_and_fast_loaders_yield_identical_batches_for_the_same_seed():
    book = load_fashion_mnist(256, loader='book')
    fast = load_fashion_mnist(256, loader='fast')
    assert len(book[0]) == len(fast[0]) == 235 and len(book[1]) == len(fast[1]) == 40
    firsts = {}
    for s in (0, 1):
        runs = []
        for train_iter, _ in (book, fast):
            seed(s)
            runs.append(_batches(train_iter, 4))
        _assert_same_batches(*runs)
        firsts[s] = runs[0][0][1]
    assert not (firsts[0] == firsts[1]).all(), 'the seed changes the order'
    assert not (firsts[0] == read_fashion_mnist()[1][:256]).all(), 'the training set is shuffled'
    _assert_same_batches(_batches(book[1]), _batches(fast[1]))  # the whole test set, in order


@pytest.mark.slow
def test_book_and_fast_loaders_yield_identical_full_epochs():
    book, fast = load_fashion_mnist(100, loader='book')[0], load_fashion_mnist(100, loader='fast')[0]
    seed(7)
    a = _batches(book)
    seed(7)
    b = _batches(fast)
    _assert_same_batches(a, b)
    assert sum(len(y) for _, y in a) == 60000
    labels = np.sort(np.concatenate([y for _, y in a]))
    assert (labels == np.sort(read_fashion_mnist()[1])).all(), 'every example exactly once'


def test_book_loader_with_two_workers_yields_the_same_batches():
    workers = load_fashion_mnist(256, loader='book', num_workers=2)
    fast = load_fashion_mnist(256, loader='fast')
    seed(3)
    a = _batches(workers[0], 3)
    seed(3)
    b = _batches(fast[0], 3)
    _assert_same_batches(a, b)
    _assert_same_batches(_batches(workers[1], 2), _batches(fast[1], 2))


@pytest.mark.parametrize('kwargs, word', [({'loader': 'torch'}, 'loader'),
                                          ({'batch_size': 0}, 'batch_size')])
def test_load_fashion_mnist_rejects_bad_options(kwargs, word):
    kwargs = dict({'batch_size': 256}, **kwargs)
    with pytest.raises(D2LError, match=word):
        load_fashion_mnist(**kwargs)


def test_failed_download_prints_nothing_and_names_its_cause_whole(nowhere, capsys):
    # the real gluon download against a closed port: it retries, printing each failure itself
    with pytest.raises(D2LError) as excinfo:
        read_fashion_mnist()
    message = assert_one_line_error(excinfo, 'download failed')
    out = capsys.readouterr().out
    assert out == '', out
    # the cause in full: where it failed and why, not cut off after "url:"
    assert 'url: /gluon/dataset/fashion-mnist/' in message and 'refused' in message, message
