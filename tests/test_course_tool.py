"""The course tool of issue 7: `all`, `compare`, saved models and `predict`, `--resume`, divergence.

The expensive runs are shared: one `d2l-gluon all` (the book's defaults,
20-30 s) feeds the tests of the progress lines, summary, report, saved
models and predict; one uninterrupted `softmax --num-epochs 3` is the
reference of the resume tests.
"""
import base64
import glob
import html.parser
import json
import os
import re
import signal
import time

import numpy as np
import pytest
from mxnet import gluon, nd

from d2l_gluon import DivergenceError, cli
from d2l_gluon.classifier import load_classifier
from d2l_gluon.data import TEXT_LABELS, read_fashion_mnist
from d2l_gluon.softmax_regression import softmax
from d2l_gluon.train import train

from .helpers import assert_close, one_line, run_cli, start_cli

CHAPTERS = ['linreg', 'softmax', 'mlp', 'logreg']
IMPLS = ['scratch', 'gluon']
CLASSIFIERS = ['softmax', 'mlp']
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PROGRESS = re.compile(r'\[(\d+) s elapsed, about (\S+) s left\]$')
EPOCH_LINE = re.compile(r'^(scratch|gluon)\s+epoch (\d+), ')


# ---- small readers of the tool's output

def strip_timings(epochs):
    """Return epoch records without their wall-clock entries (the only ones allowed to differ)."""
    return [{k: v for k, v in e.items() if k not in ('seconds', 'eval_seconds')} for e in epochs]


def assert_same_epochs(actual, expected, what):
    """Same epochs and keys, every number within 1e-6 (the issue's resume tolerance)."""
    actual, expected = strip_timings(actual), strip_timings(expected)
    assert [e['epoch'] for e in actual] == [e['epoch'] for e in expected], what
    for a, e in zip(actual, expected):
        assert sorted(a) == sorted(e), what
        for key in e:
            assert abs(a[key] - e[key]) <= 1e-6, '%s, epoch %d, %s: %r != %r' % (
                what, e['epoch'], key, a[key], e[key])


def assert_same_params_files(actual, expected):
    """Two files written by nd.save or save_parameters hold the same arrays within 1e-6."""
    a, e = nd.load(str(actual)), nd.load(str(expected))
    assert type(a) is type(e)
    if isinstance(e, dict):
        # in file order; an export names its arrays after the process's layer counter
        # (dense0_weight, or dense7_weight in a process that built other nets first)
        unnumbered = lambda names: [re.sub(r'\d+', '', n) for n in names]  # noqa: E731
        assert unnumbered(a) == unnumbered(e), (actual, list(a), list(e))
        pairs = [(x, y, k) for x, (k, y) in zip(a.values(), e.items())]
    else:
        assert len(a) == len(e), actual
        pairs = [(x, y, str(i)) for i, (x, y) in enumerate(zip(a, e))]
    for x, y, name in pairs:
        assert_close(x, y, rtol=0, atol=1e-6, what='%s: %s' % (os.path.basename(str(actual)), name))


def hidden_files(folder):
    """Names starting with '.': the temporary files of atomic writes."""
    return [n for n in os.listdir(str(folder)) if n.startswith('.')]


def checkpoint_files(folder):
    return [n for n in os.listdir(str(folder)) if n.startswith('checkpoint')]


def assert_shows(text, value):
    """Assert the printed number text is value rounded to the digits shown (e.g. '0.4838', '2.4e-07')."""
    mantissa, _, exponent = text.partition('e')
    decimals = len(mantissa.split('.')[1]) if '.' in mantissa else 0
    half_unit = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    assert abs(float(text) - value) <= half_unit * (1 + 1e-9), '%s does not show %r' % (text, value)


def require(condition, message):
    """A precondition of a test: fail outright, naming what did not happen, when unmet."""
    if not condition:
        pytest.fail('precondition: %s' % message)


def read_json(path):
    with open(str(path)) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def test_set():
    """The real Fashion-MNIST test images (uint8, N x 28 x 28) and labels."""
    return read_fashion_mnist()[2:]


def accuracy_on(net, test_set):
    images, labels = test_set
    X = nd.array(images[:, None].astype(np.float32) / np.float32(255))
    return float((net(X).argmax(axis=1).asnumpy() == labels).mean())


# ---- d2l-gluon all

@pytest.fixture(scope='module')
def all_run(tmp_path_factory):
    """One `d2l-gluon all` run (book defaults, every chapter, both versions), shared below."""
    out = tmp_path_factory.mktemp('all') / 'run'
    start = time.perf_counter()
    result = run_cli('all', '--out', out)
    result.wall_seconds = time.perf_counter() - start
    result.out = out
    return result


@pytest.fixture(scope='module')
def all_out(all_run):
    """The run folder of the shared `all` run, once it has succeeded."""
    assert all_run.returncode == 0, all_run.stderr
    return all_run.out


def chapter_metrics(out, chapter):
    return read_json(out / chapter / 'metrics.json')


@pytest.mark.slow
def test_all_runs_every_chapter_and_both_versions_into_one_folder(all_run):
    assert all_run.returncode == 0, all_run.stderr
    assert 'Traceback' not in all_run.stderr
    out = all_run.out
    for chapter in CHAPTERS:
        metrics = chapter_metrics(out, chapter)
        assert metrics['chapter'] == chapter and metrics.get('finished') is True
        assert list(metrics['runs']) == IMPLS
        # the book's defaults, not something smaller
        defaults = cli.build_parser().parse_args([chapter])
        if chapter == 'logreg':
            cli._logreg_settings(defaults)  # its defaults depend on --data
        for key in ('num_epochs', 'lr', 'batch_size'):
            assert metrics['config'][key] == getattr(defaults, key), (chapter, key)
        for impl in IMPLS:
            epochs = metrics['runs'][impl]['epochs']
            assert [e['epoch'] for e in epochs] == list(range(1, metrics['config']['num_epochs'] + 1))
    assert (out / 'summary.json').is_file() and (out / 'report.html').is_file()
    assert all_run.stdout.rstrip().splitlines()[-1].startswith('all results in %s' % out)
    assert hidden_files(out) == [] and all(hidden_files(out / c) == [] for c in CHAPTERS)


@pytest.mark.slow
def test_all_shows_progress_per_chapter_with_elapsed_and_remaining_time(all_run):
    lines = all_run.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith('== ')]
    assert [lines[i].split()[1] for i in headers] == CHAPTERS, lines[:3]
    progress = []
    for begin, end in zip(headers, headers[1:] + [len(lines)]):
        chapter_lines = lines[begin:end]
        epoch_lines = [line for line in chapter_lines if EPOCH_LINE.match(line)]
        # every version of every chapter reports its epochs, each line with the time
        assert {EPOCH_LINE.match(line).group(1) for line in epoch_lines} == set(IMPLS), chapter_lines
        for line in [chapter_lines[0]] + epoch_lines:
            match = PROGRESS.search(line)
            assert match, 'no elapsed and remaining time in %r' % line
            progress.append((int(match.group(1)), match.group(2)))
    elapsed = [e for e, _ in progress]
    assert elapsed == sorted(elapsed) and elapsed[-1] <= all_run.wall_seconds
    assert elapsed[-1] >= 1, 'the chapters take more than a second together'
    # once every epoch is done, nothing is left
    assert progress[-1][1] == '0', progress[-1]
    # the estimate is a number of seconds after the first epoch
    assert all(re.fullmatch(r'\d+', left) for _, left in progress[1:]), progress


@pytest.mark.slow
def test_all_progress_never_shows_nan_seconds_left(all_run):
    lefts = [PROGRESS.search(line).group(2) for line in all_run.stdout.splitlines()
             if PROGRESS.search(line)]
    require(all_run.returncode == 0 and lefts, 'all ran and printed its progress')
    assert lefts and all(re.fullmatch(r'\d+', left) for left in lefts), lefts[:3]


@pytest.mark.slow
def test_summary_json_has_every_chapter_and_version_consistent_with_their_metrics(all_out):
    summary = read_json(all_out / 'summary.json')
    assert list(summary['chapters']) == CHAPTERS
    assert summary['seconds'] > 0
    for chapter in CHAPTERS:
        metrics = chapter_metrics(all_out, chapter)
        entry = summary['chapters'][chapter]
        assert list(entry['impls']) == IMPLS
        fitted = {}
        for impl in IMPLS:
            row, run = entry['impls'][impl], metrics['runs'][impl]
            last = run['epochs'][-1]
            assert row['loss'] == last['loss'] and row['epochs'] == last['epoch']
            train_seconds = sum(e['seconds'] for e in run['epochs'])
            all_seconds = train_seconds + sum(e.get('eval_seconds', 0) for e in run['epochs'])
            assert train_seconds * (1 - 1e-12) <= row['seconds'] <= all_seconds * (1 + 1e-12)
            if chapter in CLASSIFIERS:
                assert row['test_acc'] == last['test_acc']
            if chapter == 'logreg':  # the hours set has no test set: its accuracy is on the training set
                assert row['train_acc'] == last['train_acc']
            if 'params' in run:
                fitted[impl] = np.array(run['params']['w'] + run['params']['b'])
            if chapter == 'linreg':  # parameter error: against the true parameters
                config = metrics['config']
                truth = np.array(config['true_w'] + [config['true_b']])
                assert row['param_error'] == pytest.approx(np.abs(fitted[impl] - truth).max(), rel=1e-12)
                assert row['param_error'] < 0.01
            if chapter == 'logreg' and metrics['reference']['converged']:
                reference = np.array(metrics['reference']['w'] + metrics['reference']['b'])
                assert row['param_error'] == pytest.approx(np.abs(fitted[impl] - reference).max(), rel=1e-12)
        # the largest scratch-vs-Gluon difference: parameters for regression, test accuracy otherwise
        if chapter in CLASSIFIERS:
            expected = abs(metrics['runs']['scratch']['epochs'][-1]['test_acc']
                           - metrics['runs']['gluon']['epochs'][-1]['test_acc'])
        else:
            expected = np.abs(fitted['scratch'] - fitted['gluon']).max()
        assert entry['max_abs_diff'] == metrics['max_abs_diff']
        assert entry['max_abs_diff'] == pytest.approx(expected, rel=1e-9, abs=1e-15)


def parse_text_table(lines):
    """Split the rows of a left-aligned text table at its header's column titles."""
    header = lines[0]
    titles = re.findall(r'\S+(?: \S+)*', header)  # titles hold single spaces, columns two or more
    starts = [header.index(t) for t in titles]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(titles, cells)))
    return rows


@pytest.mark.slow
def test_all_prints_a_summary_table_of_every_chapter_and_version(all_run, all_out):
    lines = all_run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ['chapter', 'impl'])
    rows = parse_text_table(lines[start:start + 1 + len(CHAPTERS) * len(IMPLS)])
    assert {'final loss', 'test acc', 'param error', 'seconds', '|scratch - gluon|'} <= set(rows[0])
    assert [(r['chapter'], r['impl']) for r in rows] == [(c, i) for c in CHAPTERS for i in IMPLS]
    summary = read_json(all_out / 'summary.json')['chapters']
    for row in rows:
        entry = summary[row['chapter']]
        numbers = entry['impls'][row['impl']]
        assert_shows(row['final loss'], numbers['loss'])
        assert_shows(row['seconds'], numbers['seconds'])
        assert_shows(row['|scratch - gluon|'], entry['max_abs_diff'])
        if row['chapter'] in CLASSIFIERS:
            assert_shows(row['test acc'], numbers['test_acc'])
        if row['chapter'] == 'linreg':
            assert_shows(row['param error'], numbers['param_error'])


class _ReportParser(html.parser.HTMLParser):
    """Collect the tables (with the headings above them), the images and every link of a page."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.links = [], [], []
        self.h2 = self.h3 = None
        self._heading = self._cell = self._table = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ('src', 'href', 'data', 'poster', 'srcset', 'action'):
            if attrs.get(name) is not None:
                self.links.append((tag, name, attrs[name]))
        if tag in ('h2', 'h3'):
            self._heading = (tag, '')
        elif tag == 'table':
            self._table = {'h2': self.h2, 'h3': self.h3, 'rows': []}
        elif tag == 'tr' and self._table is not None:
            self._table['rows'].append([])
        elif tag in ('td', 'th'):
            self._cell = ''
        elif tag == 'img':
            self.images.append((self.h2, attrs.get('src', '')))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._heading is not None:
            self._heading = (self._heading[0], self._heading[1] + data)

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self._cell is not None:
            self._table['rows'][-1].append(self._cell)
            self._cell = None
        elif tag == 'table' and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        elif tag in ('h2', 'h3') and self._heading is not None:
            level, text = self._heading
            if level == 'h2':
                self.h2, self.h3 = text.strip(), None
            else:
                self.h3 = text.strip()
            self._heading = None


@pytest.fixture(scope='module')
def report(all_out):
    parser = _ReportParser()
    with open(str(all_out / 'report.html'), encoding='utf-8') as f:
        parser.feed(f.read())
    parser.close()
    return parser


@pytest.mark.slow
def test_report_html_is_self_contained(report):
    assert report.images, 'the report shows the figures'
    # nothing to fetch: every src/href is an embedded data: URI or a link within the page
    outside = [link for link in report.links if not link[2].startswith(('data:', '#'))]
    assert outside == []
    for _, src in report.images:
        assert src.startswith('data:image/png;base64,'), src[:40]
        assert base64.b64decode(src.split(',', 1)[1], validate=True).startswith(PNG_SIGNATURE)


@pytest.mark.slow
def test_report_html_embeds_every_png_of_every_chapter_folder(report, all_out):
    embedded = {}
    for chapter, src in report.images:
        embedded.setdefault(chapter, []).append(base64.b64decode(src.split(',', 1)[1]))
    for chapter in CHAPTERS:
        pngs = sorted(glob.glob(str(all_out / chapter / '*.png')))
        assert pngs, chapter
        for png in pngs:
            with open(png, 'rb') as f:
                assert f.read() in embedded.get(chapter, []), '%s is not in the report' % png


@pytest.mark.slow
def test_report_html_holds_the_summary_and_every_chapters_per_epoch_tables(report, all_run, all_out):
    keys = [[c, i] for c in CHAPTERS for i in IMPLS]
    summary_rows = [row for table in report.tables for row in table['rows'] if row[:2] in keys]
    # the same cells as the printed summary table
    lines = all_run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ['chapter', 'impl'])
    printed = parse_text_table(lines[start:start + 1 + len(CHAPTERS) * len(IMPLS)])
    assert summary_rows == [list(row.values()) for row in printed]
    for chapter in CHAPTERS:
        metrics = chapter_metrics(all_out, chapter)
        for impl in IMPLS:
            tables = [t for t in report.tables if t['h2'] == chapter and t['h3'] and impl in t['h3']
                      and t['rows'] and t['rows'][0][:1] == ['epoch']]
            assert len(tables) == 1, '%s %s: no single per-epoch table' % (chapter, impl)
            header, *rows = tables[0]['rows']
            epochs = metrics['runs'][impl]['epochs']
            shown = [int(r[0]) for r in rows]
            if len(epochs) <= 25:
                assert shown == [e['epoch'] for e in epochs]
            else:  # a long run (logreg, 1000 epochs) shows every k-th epoch, the first and the last
                assert len(shown) <= 26 and shown[0] == 1 and shown[-1] == epochs[-1]['epoch']
                assert shown == sorted(set(shown))
                epochs = [epochs[n - 1] for n in shown]
            for key in ('loss', 'train_acc', 'test_acc'):
                if key in epochs[0]:
                    column = header.index(key)
                    # the cells show 6 significant digits
                    assert_close([float(r[column]) for r in rows], [e[key] for e in epochs],
                                 rtol=5e-6, atol=0, what='%s %s %s' % (chapter, impl, key))


# ---- saved models (from the `all` run's classifiers)

@pytest.mark.slow
@pytest.mark.parametrize('chapter', CLASSIFIERS)
def test_classifier_run_folder_holds_both_models_and_the_export_and_no_leftovers(all_out, chapter):
    folder = all_out / chapter
    names = set(os.listdir(str(folder)))
    assert {'scratch.params', 'gluon.params', 'gluon-symbol.json', 'gluon-0000.params',
            'model.json', 'metrics.json'} <= names
    assert checkpoint_files(folder) == [] and hidden_files(folder) == []
    description = read_json(folder / 'model.json')
    assert description['chapter'] == chapter
    shapes = {'softmax': [(784, 10), (10,)], 'mlp': [(784, 256), (256,), (256, 10), (10,)]}[chapter]
    assert [p.shape for p in nd.load(str(folder / 'scratch.params'))] == shapes


@pytest.mark.slow
@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('chapter', CLASSIFIERS)
def test_saved_model_is_the_trained_one(all_out, test_set, chapter, impl):
    # the saved parameters classify the test set exactly as the last epoch reported
    net, description = load_classifier(str(all_out / chapter / ('%s.params' % impl)))
    assert (description['chapter'], description['impl']) == (chapter, impl)
    expected = chapter_metrics(all_out, chapter)['runs'][impl]['epochs'][-1]['test_acc']
    assert accuracy_on(net, test_set) == expected


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore:Cannot decide type:UserWarning')  # mxnet's, on imports
@pytest.mark.parametrize('chapter', CLASSIFIERS)
def test_hybridized_export_loads_as_symbolblock_with_the_saved_nets_outputs(all_out, test_set, chapter):
    folder = all_out / chapter
    exported = gluon.SymbolBlock.imports(str(folder / 'gluon-symbol.json'), ['data'],
                                         str(folder / 'gluon-0000.params'))
    net, description = load_classifier(str(folder))
    assert description['impl'] == 'gluon'
    X = nd.array(test_set[0][:64, None].astype(np.float32) / 255)
    outputs = net(X)
    assert_close(exported(X), outputs, what='%s export vs gluon.params' % chapter)
    assert float(outputs.abs().max().asscalar()) > 1, 'trained logits, not near-zero initial ones'


# ---- predict

@pytest.fixture(scope='module')
def pngs(tmp_path_factory, test_set):
    """Four test images as 28x28 grayscale PNGs and one as a 56x56 RGB PNG; (paths, expected pixels)."""
    from PIL import Image
    folder = tmp_path_factory.mktemp('pngs')
    images = test_set[0]
    paths, pixels = [], []
    for i in range(4):
        path = str(folder / ('test%d.png' % i))
        Image.fromarray(images[i]).save(path)
        paths.append(path)
        pixels.append(images[i].astype(np.float32) / np.float32(255))
    rgb = Image.fromarray(images[4]).resize((56, 56), Image.NEAREST).convert('RGB')
    path = str(folder / 'rgb56.png')
    rgb.save(path)
    paths.append(path)
    # the documented conversion: to grayscale in [0, 1], then resized to 28x28 (in floats)
    gray = np.asarray(rgb.convert('L'), dtype=np.float32) / np.float32(255)
    pixels.append(np.asarray(Image.fromarray(gray, mode='F').resize((28, 28), Image.BILINEAR)))
    return paths, np.stack(pixels)


def parse_predictions(stdout):
    """Return the header line and [(name, [(label, probability)] * 3)] of predict's output."""
    header, *lines = stdout.strip().splitlines()
    parsed = []
    for line in lines:
        name, _, top = line.rpartition(': ')
        parsed.append((name, [(label, float(p)) for label, p in
                              (entry.rsplit(' ', 1) for entry in top.split(', '))]))
    return header, parsed


def assert_top3_is_the_models(parsed, probabilities):
    """Three distinct classes, probabilities in [0, 1] descending, the in-process model's top 3."""
    for (name, top), p in zip(parsed, probabilities):
        assert len(top) == 3 and len({label for label, _ in top}) == 3, name
        assert all(label in TEXT_LABELS for label, _ in top), top
        shown = [q for _, q in top]
        assert all(0 <= q <= 1 for q in shown) and shown == sorted(shown, reverse=True), top
        assert top[0][0] == TEXT_LABELS[int(np.argmax(p))], (name, top, p)
        for label, q in top:
            assert abs(q - p[TEXT_LABELS.index(label)]) <= 0.0005 + 1e-7, (name, label, q)


@pytest.mark.slow
@pytest.mark.parametrize('chapter, model_file, impl', [('mlp', '', 'gluon'),
                                                        ('softmax', 'scratch.params', 'scratch')])
def test_predict_prints_the_models_top_3_classes_of_written_pngs(all_out, pngs, chapter, model_file, impl):
    paths, pixels = pngs
    model = os.path.join(str(all_out / chapter), model_file)
    result = run_cli('predict', '--model', model, *paths)
    assert result.returncode == 0, result.stderr
    header, parsed = parse_predictions(result.stdout)
    assert '%s model (%s)' % (chapter, impl) in header
    assert len(parsed) == len(paths)
    net, _ = load_classifier(model)
    probabilities = softmax(net(nd.array(pixels[:, None]))).asnumpy()
    assert_top3_is_the_models(parsed, probabilities)
    names = [name for name, _ in parsed]
    assert names[:4] == paths[:4], 'no note for 28x28 grayscale images'
    rgb_name = names[4]
    assert rgb_name.startswith(paths[4]) and 'grayscale' in rgb_name and 'RGB' in rgb_name
    assert '56x56' in rgb_name and '28x28' in rgb_name


@pytest.mark.slow
def test_predict_from_test_prints_n_lines_with_the_true_labels(all_out, test_set):
    result = run_cli('predict', '--model', all_out / 'mlp', '--from-test', 3)
    assert result.returncode == 0, result.stderr
    header, parsed = parse_predictions(result.stdout)
    assert 'mlp model (gluon)' in header and len(parsed) == 3
    images, labels = test_set
    for i, (name, _) in enumerate(parsed):
        assert name == 'test image %d (%s)' % (i, TEXT_LABELS[labels[i]])
    net, _ = load_classifier(str(all_out / 'mlp'))
    X = nd.array(images[:3, None].astype(np.float32) / 255)
    assert_top3_is_the_models(parsed, softmax(net(X)).asnumpy())


def _model_folder(tmp_path, all_out, model_json_of, params_of):
    """A folder with model.json of one chapter beside the two .params files of another."""
    import shutil
    folder = tmp_path / 'model'
    folder.mkdir()
    shutil.copy(str(all_out / model_json_of / 'model.json'), str(folder))
    for name in ('scratch.params', 'gluon.params'):
        shutil.copy(str(all_out / params_of / name), str(folder))
    return folder


PREDICT_ERRORS = ['missing model', 'corrupt gluon.params', 'corrupt scratch.params',
                  'linreg run folder', 'mlp model.json beside softmax gluon.params',
                  'mlp model.json beside softmax scratch.params',
                  'softmax model.json beside mlp gluon.params', 'not an image', 'missing image',
                  'neither images nor --from-test', 'both images and --from-test']


@pytest.mark.slow
@pytest.mark.parametrize('case', PREDICT_ERRORS)
def test_predict_error_is_one_line_exit_2_without_traceback(all_out, pngs, tmp_path, case):
    image = pngs[0][0]
    if case == 'missing model':
        model = tmp_path / 'no-such-run'
        args, named = ['--model', model, image], str(model)
    elif case.startswith('corrupt'):
        folder = _model_folder(tmp_path, all_out, 'softmax', 'softmax')
        name = case.split()[1]
        (folder / name).write_bytes(b'not parameters at all' + bytes(range(256)) * 4)
        args, named = ['--model', folder / name, image], name
    elif case == 'linreg run folder':
        args, named = ['--model', all_out / 'linreg', image], 'linreg'
    elif 'beside' in case:
        json_of, params_of, name = re.match(r'(\w+) model.json beside (\w+) (\S+)', case).groups()
        folder = _model_folder(tmp_path, all_out, json_of, params_of)
        args, named = ['--model', folder / name, image], name
    elif case == 'not an image':
        text = tmp_path / 'picture.png'
        text.write_text('this is text, not a PNG\n')
        args, named = ['--model', all_out / 'mlp', text], str(text)
    elif case == 'missing image':
        missing = tmp_path / 'missing.png'
        args, named = ['--model', all_out / 'mlp', missing], str(missing)
    elif case == 'neither images nor --from-test':
        args, named = ['--model', all_out / 'mlp'], '--from-test'
    else:
        args, named = ['--model', all_out / 'mlp', '--from-test', 2, image], '--from-test'
    result = run_cli('predict', *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert line.startswith('d2l-gluon predict: error: ') and named in line, line
    assert result.stdout == '', 'no predictions after an error'


def test_read_image_reads_a_16_bit_grayscale_png_like_the_8_bit_one(tmp_path):
    from PIL import Image

    from d2l_gluon.data import read_image
    pixels = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    Image.fromarray(pixels).save(str(tmp_path / 'eight.png'))
    Image.fromarray(pixels.astype(np.uint16) * 257).save(str(tmp_path / 'sixteen.png'))  # 255 -> 65535
    require(Image.open(str(tmp_path / 'sixteen.png')).mode.startswith('I'), 'a 16-bit PNG')
    eight, _ = read_image(str(tmp_path / 'eight.png'))
    sixteen, _ = read_image(str(tmp_path / 'sixteen.png'))
    require(np.array_equal(eight, pixels / np.float32(255)), 'the 8-bit PNG reads exactly')
    # 65535 is white in 16 bits: a 16-bit pixel p * 257 is the 8-bit p, to one gray level
    assert_close(sixteen, eight, rtol=0, atol=1 / 255, what='16-bit vs 8-bit')


# ---- compare

COMPARE_RUNS = {'linreg': ['--num-epochs', 2], 'softmax': ['--num-epochs', 1],
                'logreg': ['--num-epochs', 5]}
SUMMARY_LINE = re.compile(r'largest relative difference: loss (\S+), parameters (\S+) \(tolerance (\S+)\)')


def parse_compare(stdout):
    """Return (column titles, rows of numbers per epoch, (loss diff, param diff, tolerance))."""
    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith('epoch'))
    titles = re.findall(r'(?:scratch|gluon) \w+|rel diff', header)
    rows = [[float(x) for x in line.split()] for line in lines if re.match(r'^\d+\s', line)]
    summary = [float(x) for x in SUMMARY_LINE.search(stdout).groups()]
    return titles, rows, summary


@pytest.mark.parametrize('chapter', [pytest.param(c, marks=pytest.mark.slow) if c == 'softmax' else c
                                     for c in COMPARE_RUNS])
def test_compare_prints_both_versions_side_by_side_and_exits_0_when_they_agree(chapter):
    result = run_cli('compare', chapter, *COMPARE_RUNS[chapter])
    assert result.returncode == 0, result.stdout + result.stderr
    titles, rows, (loss_diff, param_diff, tolerance) = parse_compare(result.stdout)
    assert titles[:3] == ['scratch loss', 'gluon loss', 'rel diff']
    assert len(titles) % 3 == 0 and all(t == 'rel diff' for t in titles[2::3])
    num_epochs = COMPARE_RUNS[chapter][1]
    assert [int(row[0]) for row in rows] == list(range(1, num_epochs + 1))
    assert all(len(row) == 1 + len(titles) for row in rows)
    for row in rows:
        for s, g, diff in zip(row[1::3], row[2::3], row[3::3]):
            assert np.isfinite(s) and diff <= tolerance
            assert abs(s - g) <= tolerance * abs(g) + 1e-6  # printed with 6 decimals
        assert row[1] > 0
    # the summary's loss difference is the largest of the loss column (printed to 2 and 3 digits)
    assert abs(max(row[3] for row in rows) - loss_diff) <= 0.051 * loss_diff
    assert max(loss_diff, param_diff) <= tolerance == cli.COMPARE_TOLERANCE[chapter]
    assert 'agree' in result.stdout and result.stderr == ''


@pytest.mark.parametrize('chapter', [pytest.param(c, marks=pytest.mark.slow) if c == 'softmax' else c
                                     for c in COMPARE_RUNS])
def test_compare_fails_when_one_side_is_perturbed(chapter):
    result = run_cli('compare', chapter, *COMPARE_RUNS[chapter], '--perturb', '1e-2')
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result.stderr)
    assert 'differ' in line and line.startswith('d2l-gluon compare: error:')
    _, rows, (loss_diff, param_diff, tolerance) = parse_compare(result.stdout)
    assert max(loss_diff, param_diff) > tolerance
    assert len(rows) == COMPARE_RUNS[chapter][1]
    if chapter != 'softmax':
        # the perturbed weight multiplies a feature that is never zero: the losses show it at once
        assert rows[0][3] > tolerance


@pytest.mark.slow
def test_compare_mlp_agrees_without_perturbation():
    result = run_cli('compare', 'mlp', '--num-epochs', 1)
    require(SUMMARY_LINE.search(result.stdout) and 'Traceback' not in result.stderr,
            'compare mlp trained both versions: ' + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- --resume

RESUME_EPOCHS = 3


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """An uninterrupted `softmax --num-epochs 3` (seed 0): what every resumed run must end with."""
    out = tmp_path_factory.mktemp('uninterrupted') / 'run'
    result = run_cli('softmax', '--num-epochs', RESUME_EPOCHS, '--out', out)
    assert result.returncode == 0, result.stderr
    return out


def assert_resumed_run_equals(out, reference):
    """Same epochs (except timings), same saved parameters, same files, no leftovers."""
    resumed, expected = read_json(out / 'metrics.json'), read_json(reference / 'metrics.json')
    assert resumed.get('finished') is True
    for impl in IMPLS:
        assert_same_epochs(resumed['runs'][impl]['epochs'], expected['runs'][impl]['epochs'], impl)
    for name in ('scratch.params', 'gluon.params', 'gluon-0000.params'):
        assert_same_params_files(out / name, reference / name)
    assert sorted(os.listdir(str(out))) == sorted(os.listdir(str(reference)))
    assert checkpoint_files(out) == [] and hidden_files(out) == []


def recorded_epochs(out, impl):
    """Return how many epochs of impl the run folder's metrics.json holds (0 before it exists)."""
    try:
        return len(read_json(out / 'metrics.json')['runs'][impl]['epochs'])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
@pytest.mark.parametrize('impl', IMPLS)
def test_ctrl_c_exits_130_and_resume_ends_like_an_uninterrupted_run(tmp_path, uninterrupted, impl):
    out = tmp_path / 'run'
    checkpoint = out / ('checkpoint-%s.json' % impl)
    with open(str(tmp_path / 'stdout'), 'w') as stdout, open(str(tmp_path / 'stderr'), 'w') as stderr:
        process = start_cli('softmax', '--num-epochs', RESUME_EPOCHS, '--out', out,
                            stdout=stdout, stderr=stderr)
        try:
            # wait for the first checkpoint and its epoch in metrics.json, so Ctrl-C lands during
            # training; a Ctrl-C between the two writes is tested further down
            deadline = time.monotonic() + 120
            while not (checkpoint.exists() and recorded_epochs(out, impl)) and \
                    process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert checkpoint.exists() and process.poll() is None, \
                'the run ended or took too long before its first %s checkpoint' % impl
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    err = (tmp_path / 'stderr').read_text()
    assert code == 130, 'exit %s (-2: no KeyboardInterrupt handler in the child): %s' % (code, err)
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].endswith('partial results are in %s' % out), err
    # every file there is complete: no temporary file, the JSON parses, the parameters load
    assert hidden_files(out) == []
    metrics = read_json(out / 'metrics.json')
    assert 'finished' not in metrics and not metrics['runs'].get(impl, {}).get('finished')
    state = read_json(checkpoint)
    assert state['epoch'] >= 1
    assert len(nd.load(str(out / state['params']))) > 0
    assert not (out / ('%s.params' % impl)).exists(), 'interrupted before %s finished' % impl

    result = run_cli('softmax', '--resume', out)
    assert result.returncode == 0, result.stderr
    assert re.search(r'^%s\s+resumed after epoch \d+$' % impl, result.stdout, re.M), result.stdout
    assert_resumed_run_equals(out, uninterrupted)


def _interrupting_start(impl, epoch, when):
    """A RunFolder.start that raises KeyboardInterrupt at impl's epoch, before or after recording it.

    run_classifier saves the epoch's checkpoint and then records the epoch
    (metrics.json): 'before' is a Ctrl-C that lands between the two.
    """
    original = cli.RunFolder.start

    def start(self, run_impl, *args, **kwargs):
        record = original(self, run_impl, *args, **kwargs)

        def on_epoch(epoch_record):
            hit = run_impl == impl and epoch_record['epoch'] == epoch
            if hit and when == 'before':
                raise KeyboardInterrupt
            record(epoch_record)
            if hit and when == 'after':
                raise KeyboardInterrupt
        return on_epoch
    return start


@pytest.mark.slow
@pytest.mark.parametrize('when', [
    'after',
    'before',
])
def test_interrupt_around_the_epoch_record_resumes_to_the_same_numbers(tmp_path, uninterrupted, monkeypatch,
                                                                       capsys, when):
    out = tmp_path / 'run'
    monkeypatch.setattr(cli.RunFolder, 'start', _interrupting_start('gluon', 1, when))
    code = cli.main(['softmax', '--num-epochs', str(RESUME_EPOCHS), '--out', str(out)])
    require(code == 130 and 'partial results are in %s' % out in capsys.readouterr().err,
            'Ctrl-C ends the run with exit 130 and says where the results are')
    assert hidden_files(out) == []
    monkeypatch.undo()
    require(cli.main(['softmax', '--resume', str(out)]) == 0, 'the resumed run finishes')
    assert_resumed_run_equals(out, uninterrupted)


@pytest.mark.slow
def test_resumed_run_leaves_no_checkpoint_of_an_implementation_finished_before_ctrl_c(tmp_path,
                                                                                      monkeypatch):
    from d2l_gluon import params
    out = tmp_path / 'run'

    def interrupted(folder, impl):
        raise KeyboardInterrupt
    monkeypatch.setattr(params, 'remove_checkpoint', interrupted)
    code = cli.main(['softmax', '--num-epochs', '1', '--impl', 'scratch', '--out', str(out)])
    require(code == 130 and read_json(out / 'metrics.json')['runs']['scratch'].get('finished'),
            'interrupted with scratch marked finished')
    monkeypatch.undo()
    require(cli.main(['softmax', '--resume', str(out)]) == 0, 'the resumed run finishes')
    require(read_json(out / 'metrics.json').get('finished'), 'the resumed run finishes')
    assert checkpoint_files(out) == []


@pytest.mark.slow
def test_ctrl_c_during_the_gluon_export_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'run'
    original = gluon.HybridBlock.export

    def export(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        raise KeyboardInterrupt  # a Ctrl-C just after net.export wrote its files
    monkeypatch.setattr(gluon.HybridBlock, 'export', export)
    code = cli.main(['softmax', '--num-epochs', '1', '--impl', 'gluon', '--out', str(out)])
    require(code == 130 and 'partial results are in' in capsys.readouterr().err, 'interrupted')
    assert hidden_files(out) == []


# ---- divergence

@pytest.mark.slow
def test_softmax_lr_100_diverges_with_exit_3_naming_epoch_and_batch_and_keeps_the_metrics(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('softmax', '--lr', 100, '--num-epochs', 2, '--out', out)
    assert result.returncode == 3, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    where = re.search(r'epoch (\d+), batch (\d+)', line)
    assert where and 'smaller --lr' in line and str(out / 'metrics.json') in line, line
    epoch, batch = int(where.group(1)), int(where.group(2))
    metrics = read_json(out / 'metrics.json')
    assert metrics['diverged'] == {'impl': 'scratch', 'epoch': epoch, 'batch': batch}
    assert 'finished' not in metrics and batch >= 2  # the first batch is the reference
    # only completed epochs, as printed; the unfinished version's all before the one that diverged
    recorded = [(impl, e['epoch']) for impl, run in metrics['runs'].items() for e in run['epochs']]
    printed = [(m.group(1), int(m.group(2))) for m in map(EPOCH_LINE.match, result.stdout.splitlines()) if m]
    assert printed == recorded
    for impl, run in metrics['runs'].items():
        assert all(np.isfinite(e['loss']) and 'test_acc' in e for e in run['epochs'])
        if not run.get('finished'):
            assert all(e['epoch'] < epoch for e in run['epochs'])
            assert not (out / ('%s.params' % impl)).exists()
    assert hidden_files(out) == []


def constant_batches(num_batches=4):
    """The same small regression batch num_batches times: with a no-op updater every batch loss is equal."""
    X = nd.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    y = nd.array([[1.0], [2.0], [3.0]])
    return [(X, y)] * num_batches


def spoiled_loss(epoch, batch, num_batches, spoil):
    """A squared loss that applies spoil to its value in the given epoch and batch (1-based)."""
    calls = []

    def loss(y_hat, y):
        calls.append(None)
        l = (y_hat - y) ** 2 / 2
        if len(calls) == (epoch - 1) * num_batches + batch:
            l = spoil(l)
        return l
    return loss


def tiny_net():
    w, b = nd.array([[0.1], [-0.2]]), nd.zeros(1)
    for p in (w, b):
        p.attach_grad()
    return lambda X: nd.dot(X, w) + b


@pytest.mark.parametrize('bad', [float('nan'), float('inf')], ids=['nan', 'inf'])
def test_train_raises_divergence_error_naming_the_epoch_and_batch_of_a_bad_loss(bad):
    records = []
    with pytest.raises(DivergenceError) as caught:
        train(tiny_net(), constant_batches(), spoiled_loss(2, 3, 4, lambda l: l * bad),
              lambda n: None, num_epochs=3, on_epoch=records.append)
    error = caught.value
    assert (error.epoch, error.batch) == (2, 3)
    assert 'epoch 2, batch 3' in str(error) and 'smaller --lr' in str(error)
    assert error.exit_code == 3
    # the completed epoch is kept; nothing of the one that diverged
    assert [r['epoch'] for r in error.history] == [1] and records == error.history


@pytest.mark.parametrize('factor, diverges', [(101.0, True), (99.0, False)])
def test_a_batch_loss_over_100_times_the_first_counts_as_divergence(factor, diverges):
    args = (tiny_net(), constant_batches(), spoiled_loss(1, 4, 4, lambda l: l * factor),
            lambda n: None, 2)
    if diverges:
        with pytest.raises(DivergenceError) as caught:
            train(*args)
        assert (caught.value.epoch, caught.value.batch) == (1, 4)
    else:
        assert [r['epoch'] for r in train(*args)] == [1, 2]
