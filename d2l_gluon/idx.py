"""The idx file format (http://yann.lecun.com/exdb/mnist/), read with every check a hostile file needs.

read_idx returns exactly the array a file encodes or raises D2LError naming
the file; it never allocates what a header merely promises.
"""
import errno
import gzip
import math
import os
import stat
import struct
import zlib

import numpy as np

from .errors import D2LError

# idx type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian numpy dtype
_IDX_DTYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}

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


def not_a_file(path, mode=None):
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


def not_a_file_error(path, what):
    """Return the D2LError for a path that is `what` (from not_a_file) instead of a data file."""
    fix = ('fetch the original file again' if what == 'does not exist'
           else 'replace it with the original file: fetch it again')
    return D2LError('%s %s; %s' % (path, what, fix))


def _open_file(path):
    """Open path for binary reading; raise D2LError naming what it is unless a non-empty regular file."""
    try:
        # without O_NONBLOCK, opening a FIFO waits until some process opens it for writing
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        what = not_a_file(path)
        if what is not None and not what.startswith('cannot'):
            raise not_a_file_error(path, what) from None
        raise
    try:
        status = os.fstat(fd)
        what = not_a_file(path, status.st_mode) or ('is empty' if status.st_size == 0 else None)
        if what is not None:
            raise not_a_file_error(path, what)
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
