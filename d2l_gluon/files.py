"""Output folders and atomic file writes: a file is complete or absent, never half-written."""
import json
import os
import tempfile
import time

from .errors import D2LError

# mkstemp creates files readable by the owner only; give results the usual umask mode
_UMASK = os.umask(0)
os.umask(_UMASK)


def default_out_dir(name=None):
    """Return runs/<name>-<timestamp> (runs/<timestamp> without a name), the default run folder."""
    stamp = time.strftime('%Y%m%d-%H%M%S')
    return os.path.join('runs', '%s-%s' % (name, stamp) if name else stamp)


def prepare_out_dir(path):
    """Create the output folder if needed and check that we can write into it; return its path."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix='.probe-')
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise D2LError('cannot write to output folder %s (%s); choose another with --out'
                       % (path, e.strerror or e)) from None
    return path


def atomic_write(path, write):
    """Call write(temporary_path), then rename the finished file to path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.')
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    """Write obj as indented JSON to path, atomically."""
    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1)
            f.write('\n')
    atomic_write(path, write)
