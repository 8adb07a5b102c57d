"""Output folders and atomic file writes: a file is complete or absent, never half-written.

Also the folder rule every command shares: ``claim`` tells the files of a
folder the tool may replace (its own, and the temporary files its killed
writes leave) from files no run wrote, which are refused or kept.
"""
import contextlib
import errno
import json
import os
import re
import tempfile
import time

from .errors import D2LError

# mkstemp creates files readable by the owner only; give results the usual umask mode
_UMASK = os.umask(0)
os.umask(_UMASK)


def default_out_dir(name=None):
    """Create and return a fresh run folder runs/<name>-<timestamp> (runs/<timestamp> without a name).

    The folder is created exclusively, so two processes started in the same
    second never share one: the second gets the name with -2 (then -3, ...).
    """
    stamp = time.strftime('%Y%m%d-%H%M%S')
    base = os.path.join('runs', '%s-%s' % (name, stamp) if name else stamp)
    path, number = base, 1
    try:
        os.makedirs('runs', exist_ok=True)
        while True:
            try:
                os.mkdir(path)
                return path
            except FileExistsError:
                number += 1
                path = '%s-%d' % (base, number)
    except OSError as e:
        raise D2LError('cannot create the run folder %s (%s); choose one with --out'
                       % (path, e.strerror or e)) from None


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
    """Call write(temporary_path), then rename the finished file to path.

    A write the file system refuses (a full disk, a read-only folder) raises
    D2LError naming the file, the reason and the fix; the temporary file is
    removed whatever happens.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.')
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        refused = write_error(e, path)
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if refused is None:
            raise
        raise refused from None


def _utf8(path):
    """Return whether the file system spells path as its UTF-8 encoding."""
    try:
        return path.encode('utf-8') == os.fsencode(path)
    except UnicodeError:  # bytes that are not UTF-8, kept as surrogates by os.fsdecode
        return False


@contextlib.contextmanager
def mxnet_path(path):
    """Yield a name of path that MXNet, which encodes every file name as UTF-8, opens as path.

    A folder whose name the file system spells otherwise (bytes that are not
    UTF-8, or a locale of another encoding) is reached through a descriptor
    held open meanwhile: /proc/self/fd/<descriptor>/<file name>.  The file
    names of our own files are ASCII.
    """
    folder, name = os.path.split(os.path.abspath(path))
    if _utf8(path):
        yield path
        return
    if not _utf8(name) or not os.path.isdir('/proc/self/fd'):
        raise D2LError('MXNet cannot open %s: it spells file names in UTF-8, and this one is not; '
                       'choose a folder with an ASCII name' % path)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield '/proc/self/fd/%d/%s' % (fd, name)
    finally:
        os.close(fd)


def write_error(error, path):
    """Return a D2LError when error is the file system refusing to write path, else None.

    A full disk, a quota or a read-only folder is the user's to fix; the
    message names the file, the reason and the fix.
    """
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
    elif isinstance(error, Exception) and ('FileStream.Write incomplete' in str(error)
                                           or _full(os.path.dirname(os.path.abspath(path)))):
        # mxnet's nd.save and export report a full disk only as a short fwrite
        reason = os.strerror(errno.ENOSPC)
    else:
        return None
    if isinstance(error, OSError) and error.errno not in (errno.ENOSPC, errno.EDQUOT) \
            and reason != os.strerror(errno.ENOSPC):
        fix = 'check that the folder is writable or choose another --out'
    else:
        fix = 'free some space on that disk or choose another --out'
    return D2LError('cannot write %s (%s); %s' % (path, reason, fix))


def _full(folder):
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def write_json(path, obj):
    """Write obj as indented JSON to path, atomically."""
    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1)
            f.write('\n')
    atomic_write(path, write)


# the exact names of the files a killed write leaves: atomic_write's '.<name>.' and prepare_out_dir's
# '.probe-', each followed by mkstemp's 8 characters, and export_gluon's '.tmp-<name>'
_TEMPORARY = re.compile(r'\.(?:probe-|(?P<name>.+)\.)[a-z0-9_]{8}$')


def _temporary(name, writes, pattern=None):
    """Return whether name is a temporary file of ours: of the probe, or of a file named in writes."""
    match = _TEMPORARY.match(name)
    if match and match.group('name') is None:
        return True
    base = name[len('.tmp-'):] if name.startswith('.tmp-') else match and match.group('name')
    return bool(base) and (base in writes or bool(pattern and pattern.match(base)))


def _listing(names, limit=5):
    shown = ', '.join(names[:limit])
    return shown + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def claim(folder, own, writes, overwrite, pattern=None):
    """Check that a run may write the files writes into folder; return the temporary files to remove.

    own: the names in folder the tool wrote (an earlier run's).  Any other
    name, except temporary files of ours, is foreign: without overwrite it
    is refused; with overwrite the run writes beside it and keeps it, but
    refuses when it would have to replace it (a name in writes or matching
    pattern).
    """
    names = os.listdir(folder)
    temporary = sorted(n for n in names if n not in own and _temporary(n, set(writes) | set(own), pattern))
    foreign = sorted(set(names) - set(own) - set(temporary))
    if foreign and not overwrite:
        raise D2LError('%s holds files that no d2l-gluon run wrote (%s); choose a fresh --out, or '
                       'pass --overwrite to write beside them (they are kept)' % (folder, _listing(foreign)))
    replaced = [n for n in foreign if n in writes or (pattern and pattern.match(n))]
    if replaced:
        raise D2LError('%s holds %s, which this run would replace but did not write; move %s away or '
                       'choose another --out' % (folder, _listing(replaced),
                                                 'it' if len(replaced) == 1 else 'them'))
    return [os.path.join(folder, n) for n in temporary]


def own_files(folder, names, held):
    """Return those of names present in folder when it holds its run (held), else none."""
    return {n for n in names if os.path.exists(os.path.join(folder, n))} if held else set()
