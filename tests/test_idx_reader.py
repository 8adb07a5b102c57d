"""The data readers against hostile files: idx headers, decompression bombs, empty sets, huge pictures.

read_idx must return exactly the array a file encodes or raise D2LError,
whatever the bytes; it must never allocate what a header merely promises.
The property tests write every example to one file in a module-wide folder
(hypothesis runs many examples per test, tmp_path is one per test).
"""
import gzip
import io
import os
import struct
import threading
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from d2l_gluon import D2LError
from d2l_gluon.fashion_mnist import FASHION_MNIST_FILES, find_fashion_mnist, read_fashion_mnist
from d2l_gluon.idx import IDX_MAX_DATA_BYTES, read_idx
from d2l_gluon.images import MAX_IMAGE_SIDE, read_image

from .helpers import IDX_CODES, idx_bytes, write_fashion_mnist

# type code -> numpy dtype, from the idx format's definition, independent of idx.py
IDX_TYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}
STEMS = list(FASHION_MNIST_FILES)
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp('idx')


def write(folder, raw, gz):
    """Write raw bytes to one file in folder, gzip-compressed (name ending .gz) when gz; return its path."""
    path = os.path.join(str(folder), 'x.gz' if gz else 'x')
    with open(path, 'wb') as f:
        f.write(gzip.compress(raw, compresslevel=1) if gz else raw)
    return path


def header(code, dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack('>%dI' % len(dims), *dims)


def assert_project_error(path, *words):
    with pytest.raises(D2LError) as excinfo:
        read_idx(path)
    message = str(excinfo.value)
    assert excinfo.type is D2LError and '\n' not in message, message
    for word in (path, 'fetch') + words:  # every message names the fix: fetch the file again
        assert word in message, '%r not in %r' % (word, message)
    return message


# ---- headers that promise too much

@pytest.mark.parametrize('gz', [False, True], ids=['raw', 'gzip'])
def test_read_idx_refuses_dims_whose_product_overflows_int64(folder, gz):
    # 2^31 * 2^31 * 4 = 2^64: numpy's int64 product wraps to 0, so an empty data part "fits"
    path = write(folder, header(0x08, (2 ** 31, 2 ** 31, 4)), gz)
    assert_project_error(path, '2147483648x2147483648x4', str(IDX_MAX_DATA_BYTES))


@pytest.mark.parametrize('dims', [(0, 2 ** 32 - 1, 2 ** 32 - 1), (2 ** 32 - 1, 0)],
                         ids=['empty-first', 'empty-last'])
def test_read_idx_refuses_an_empty_shape_with_absurd_other_dims(folder, dims):
    # holds no data, yet numpy refuses such a shape ("array is too big")
    assert_project_error(write(folder, header(0x08, dims), False), str(IDX_MAX_DATA_BYTES))


def test_read_idx_refuses_a_promise_over_the_limit_before_reading_data(folder, monkeypatch):
    from d2l_gluon import idx
    read = []
    monkeypatch.setattr(idx, '_read_at_most', lambda f, size: read.append(size) or b'')
    dims = (2 ** 16, 2 ** 15 + 1)  # 2^31 + 2^16 bytes of uint8
    message = assert_project_error(write(folder, header(0x08, dims) + b'\0' * 10, False),
                                   str(IDX_MAX_DATA_BYTES))
    assert 'truncated' not in message and read == [], (message, read)
    # a header promising exactly the limit is not refused for its size, only for lacking the data
    dims = (2 ** 16, 2 ** 15)
    assert_project_error(write(folder, header(0x08, dims), False), 'truncated')
    assert read == [2 ** 31 + 1]


# ---- decompression bombs: read what the header promises plus one byte, never more

BOMB_MIB = 256


def labels_bomb(folder, gz):
    """Write a labels file whose header promises 10 labels, followed by BOMB_MIB MiB of zeros."""
    path = os.path.join(str(folder), 'bomb.gz' if gz else 'bomb')
    head = header(0x08, (10,))
    if gz:
        # gzip members concatenate: one compressed MiB of zeros (about 1 KB) repeated
        # inflates to BOMB_MIB MiB from a file of a few hundred KB, built in milliseconds
        zeros = gzip.compress(b'\0' * 2 ** 20, compresslevel=9)
        with open(path, 'wb') as f:
            f.write(gzip.compress(head))
            f.write(zeros * BOMB_MIB)
    else:
        with open(path, 'wb') as f:
            f.write(head)
        os.truncate(path, len(head) + BOMB_MIB * 2 ** 20)  # sparse: costs no disk
    return path


@pytest.mark.parametrize('gz', [False, True], ids=['raw', 'gzip'])
def test_read_idx_of_a_bomb_reads_only_what_the_header_promises(folder, gz):
    path = labels_bomb(folder, gz)
    tracemalloc.start()
    try:
        with pytest.raises(D2LError) as excinfo:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the file inflates to 256 MiB; gzip's own buffers are well under a MiB
    assert peak < 4 * 2 ** 20, 'read_idx allocated %.1f MiB for 10 labels' % (peak / 2 ** 20)
    assert 'holds more data than the 10 bytes its header 10 says' in str(excinfo.value)


# ---- properties: the right array or the project error, nothing else

def expected_array(raw):
    """Return what read_idx must return for raw, or None when it must raise D2LError.

    A reference decoder written from the format's definition: magic 0, 0,
    type code, ndim >= 1; big-endian uint32 dims; exactly prod(dims) items.
    """
    if len(raw) < 4 or raw[:2] != b'\0\0' or raw[2] not in IDX_TYPES or raw[3] == 0:
        return None
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    if len(raw) < 4 + 4 * ndim:
        return None
    dims = struct.unpack('>%dI' % ndim, raw[4:4 + 4 * ndim])
    capacity = dtype.itemsize
    for d in dims:
        capacity *= max(d, 1)
    count = 1
    for d in dims:
        count *= d
    if capacity > IDX_MAX_DATA_BYTES or len(raw) != 4 + 4 * ndim + count * dtype.itemsize:
        return None
    return np.frombuffer(raw, dtype, count, offset=4 + 4 * ndim).reshape(dims)


def assert_reads_as_encoded(path, raw):
    """Assert read_idx(path) returns the array raw encodes, or raises D2LError if raw is no valid idx file."""
    expected = expected_array(raw)
    if expected is None:
        with pytest.raises(D2LError):
            read_idx(path)
        return
    back = read_idx(path)
    assert back.shape == expected.shape and back.dtype == expected.dtype.newbyteorder('=')
    assert back.dtype.isnative
    # compare bytes so that NaNs decoded from random data compare equal
    assert back.astype(expected.dtype).tobytes() == expected.tobytes()


type_codes = st.sampled_from(sorted(IDX_TYPES) + [0x00, 0x07, 0x0A, 0x0F, 0xFF])
dims = st.lists(st.one_of(st.integers(0, 5), st.sampled_from([2 ** 16, 2 ** 31, 2 ** 32 - 1])),
                min_size=0, max_size=4)


@PROPERTY
@given(code=type_codes, shape=dims, magic=st.sampled_from([b'\0\0', b'\0\1', b'\x1f\x8b']),
       extra=st.integers(-3, 3), gz=st.booleans(), via_symlink=st.booleans(), data=st.data())
def test_read_idx_returns_the_encoded_array_or_the_project_error(folder, code, shape, magic,
                                                                 extra, gz, via_symlink, data):
    head = magic + bytes([code, len(shape)]) + struct.pack('>%dI' % len(shape), *shape)
    itemsize = np.dtype(IDX_TYPES.get(code, 'u1')).itemsize
    count = 1
    for d in shape:
        count *= d
    # about the promised length when that is small, a few random bytes otherwise
    size = count * itemsize + extra if count * itemsize <= 4096 else data.draw(st.integers(0, 64))
    body = data.draw(st.binary(min_size=max(size, 0), max_size=max(size, 0)))
    raw = head + body
    path = write(folder, raw, gz)
    if via_symlink:  # a folder of links to the files reads as the files themselves
        link = os.path.join(os.path.dirname(path), 'link-to-' + os.path.basename(path))
        if not os.path.islink(link):
            os.symlink(path, link)
        path = link
    assert_reads_as_encoded(path, raw)


idx_arrays = hnp.arrays(st.sampled_from(sorted(IDX_CODES, key=str)),
                        hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4))


@PROPERTY
@given(array=idx_arrays, gz=st.booleans())
def test_read_idx_round_trips_any_array(folder, array, gz):
    back = read_idx(write(folder, idx_bytes(array), gz))
    assert back.shape == array.shape and back.dtype == array.dtype
    assert back.tobytes() == array.tobytes()


@PROPERTY
@given(array=idx_arrays, gz=st.booleans(), data=st.data())
def test_read_idx_refuses_a_file_cut_or_padded_anywhere(folder, array, gz, data):
    raw = idx_bytes(array)
    cut = data.draw(st.integers(0, len(raw) - 1), label='cut')
    assert_project_error(write(folder, raw[:cut], gz))
    padding = data.draw(st.binary(min_size=1, max_size=8), label='padding')
    assert_project_error(write(folder, raw + padding, gz), 'more data')


@pytest.mark.parametrize('dtype', sorted(IDX_CODES, key=str))
def test_read_idx_refuses_every_cut_of_a_small_file_and_of_its_gzip(folder, dtype):
    raw = idx_bytes(np.arange(12).reshape(2, 3, 2).astype(dtype))
    for cut in range(len(raw)):  # inside the magic, the dims and the data
        assert_project_error(write(folder, raw[:cut], False))
    packed = gzip.compress(raw)
    path = os.path.join(str(folder), 'cut.gz')
    for cut in range(len(packed)):  # inside the gzip header, the deflate stream and the trailer
        with open(path, 'wb') as f:
            f.write(packed[:cut])
        assert_project_error(path)


# ---- what is not a regular file: named with what it is, and a FIFO never blocks the reader

NOT_FILES = ['directory', 'broken symlink', 'symlink loop', 'fifo', 'empty file']


def make_not_file(path, kind):
    """Put a kind of NOT_FILES at path; return the words a message about it must hold."""
    if kind == 'directory':
        os.mkdir(path)
        return ['is a directory']
    if kind == 'broken symlink':
        os.symlink(path + '.gone', path)
        return ['is a broken symbolic link', path + '.gone']
    if kind == 'symlink loop':
        os.symlink(path + '.back', path)
        os.symlink(path, path + '.back')
        return ['is a broken symbolic link', 'loop']
    if kind == 'fifo':
        os.mkfifo(path)
        return ['is not a regular file (a FIFO)']
    open(path, 'wb').close()
    return ['is empty']


def without_blocking(call, fifo=None, seconds=30):
    """Return call() run in a thread; fail if it has not ended after seconds (a reader blocked on fifo)."""
    outcome = {}

    def run():
        try:
            outcome['value'] = call()
        except BaseException as e:  # noqa: B902 -- handed back to the test
            outcome['error'] = e
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:  # a writer that opens and closes gives the blocked reader its end of file
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail('the reader blocked for %d s on %s' % (seconds, fifo))
    if 'error' in outcome:
        raise outcome['error']
    return outcome['value']


@pytest.mark.parametrize('name', ['x', 'x.gz'])
@pytest.mark.parametrize('kind', NOT_FILES)
def test_read_idx_names_what_is_not_a_regular_file(tmp_path, kind, name):
    path = str(tmp_path / name)
    words = make_not_file(path, kind)
    message = without_blocking(lambda: assert_project_error(path, *words), fifo=path)
    assert 'magic' not in message, message


@pytest.mark.parametrize('stem', STEMS)
@pytest.mark.parametrize('kind', NOT_FILES)
def test_read_fashion_mnist_names_the_one_file_that_is_not_a_regular_file(tmp_path, kind, stem):
    folder = tmp_path / 'data'
    files = write_fashion_mnist(folder)
    os.remove(files[stem])
    # the uncompressed name for the images, the .gz one for the labels: both names are looked at
    path = str(folder / (stem if 'images' in stem else stem + '.gz'))
    words = make_not_file(path, kind)
    with pytest.raises(D2LError) as excinfo:
        without_blocking(lambda: read_fashion_mnist(str(folder)), fifo=path)
    message = str(excinfo.value)
    assert '\n' not in message and 'no Fashion-MNIST' not in message, message
    for word in [path] + words:
        assert word in message, '%r not in %r' % (word, message)


def test_a_searched_folder_with_a_broken_file_is_named_not_passed_over(tmp_path, monkeypatch):
    files = write_fashion_mnist(tmp_path / 'env')
    os.remove(files[STEMS[1]])
    make_not_file(files[STEMS[1]], 'broken symlink')
    monkeypatch.setenv('D2L_GLUON_DATA', str(tmp_path / 'env'))
    with pytest.raises(D2LError) as excinfo:
        find_fashion_mnist(download=False)
    assert files[STEMS[1]] in str(excinfo.value) and 'broken symbolic link' in str(excinfo.value)


def test_read_fashion_mnist_follows_symlinks_to_the_files(tmp_path):
    files = write_fashion_mnist(tmp_path / 'real', num_train=4)
    (tmp_path / 'links').mkdir()
    for path in files.values():
        os.symlink(path, str(tmp_path / 'links' / os.path.basename(path)))
    assert len(read_fashion_mnist(str(tmp_path / 'links'))[0]) == 4


# ---- Fashion-MNIST sets with no examples

@pytest.mark.parametrize('split, sizes', [('train', dict(num_train=0)), ('t10k', dict(num_test=0)),
                                          ('train', dict(num_train=0, num_test=0))])
def test_read_fashion_mnist_refuses_a_set_with_no_examples(tmp_path, split, sizes):
    files = write_fashion_mnist(tmp_path, **sizes)
    with pytest.raises(D2LError) as excinfo:
        read_fashion_mnist(str(tmp_path))
    message = str(excinfo.value)
    assert '\n' not in message, message
    for word in (files[split + '-images-idx3-ubyte'], 'no examples', 'fetch the original files'):
        assert word in message, '%r not in %r' % (word, message)


# ---- read_image: huge pictures are refused from their header

def png_claiming(path, width, height):
    """Write a 1x1 grayscale PNG whose header claims width x height; return its path as str."""
    from PIL import Image
    buf = io.BytesIO()
    Image.new('L', (1, 1)).save(buf, 'PNG')
    png = bytearray(buf.getvalue())
    # IHDR comes first: type at 12, width and height at 16, its CRC (of type + data) at 29
    png[16:24] = struct.pack('>II', width, height)
    png[29:33] = struct.pack('>I', zlib.crc32(bytes(png[12:29])))
    path.write_bytes(bytes(png))
    return str(path)


@pytest.mark.parametrize('side', [30000, 10000, 5000],
                         ids=['pillow-refuses', 'pillow-warns', 'pillow-would-decode'])
def test_read_image_refuses_a_header_claiming_a_huge_picture(tmp_path, side):
    path = png_claiming(tmp_path / 'huge.png', side, side)
    with pytest.raises(D2LError) as excinfo:
        read_image(path)
    message = str(excinfo.value)
    assert '\n' not in message and path in message, message
    assert 'at most %dx%d pixels' % (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE) in message, message
    assert 'truncated' not in message, message  # refused from the header, not by decoding


def test_read_image_refuses_a_real_picture_one_pixel_too_wide_without_decoding_it(tmp_path,
                                                                                   monkeypatch):
    from PIL import Image, ImageFile
    Image.new('L', (MAX_IMAGE_SIDE + 1, 8), 200).save(str(tmp_path / 'wide.png'))
    Image.new('L', (MAX_IMAGE_SIDE, 8), 200).save(str(tmp_path / 'widest.png'))
    pixels, notes = read_image(str(tmp_path / 'widest.png'))
    assert pixels.shape == (28, 28) and notes == ['resized from 4096x8 to 28x28']

    def decode(self):
        raise AssertionError('read_image decoded the pixels of a picture it must refuse')
    monkeypatch.setattr(ImageFile.ImageFile, 'load', decode)
    with pytest.raises(D2LError) as excinfo:
        read_image(str(tmp_path / 'wide.png'))
    assert '4097x8' in str(excinfo.value)
