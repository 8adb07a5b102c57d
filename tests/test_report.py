"""`d2l-gluon all` and d2l_gluon.report: progress lines, summary.json, the summary table, report.html.

One `d2l-gluon all` run (the book's defaults on the real Fashion-MNIST, a
minute or two) feeds the slow tests; the fast ones summarize chapter runs
on a small fake Fashion-MNIST with the same checks.
"""
import base64
import glob
import html.parser
import json
import re
import time

import numpy as np
import pytest
from mxnet import nd

from d2l_gluon import cli
from d2l_gluon import report as reporting
from d2l_gluon.chapters import MODULES
from d2l_gluon.chapters import chapter as chapter_module
from d2l_gluon.config import make_config

from .helpers import assert_close, run_main, write_fashion_mnist

CHAPTERS = list(MODULES)
# the chapters of book 3.2-3.10, one run per version; the later ones name their runs per case
# (polyfit 'normal scratch', ...) or measure rather than train (initialization)
BOOK = ['linreg', 'softmax', 'mlp', 'logreg']
IMPLS = ['scratch', 'gluon']
CLASSIFIERS = ['softmax', 'mlp']
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PROGRESS = re.compile(r'\[(\d+) s elapsed, about (\S+) s left\]$')
EPOCH_LINE = re.compile(r'^(scratch|gluon)\s+epoch (\d+), ')


def hidden_files(folder):
    """Names starting with '.': the temporary files of atomic writes."""
    import os
    return [n for n in os.listdir(str(folder)) if n.startswith('.')]


def assert_shows(text, value):
    """Assert the printed number text is value rounded to the digits shown (e.g. '0.4838', '2.4e-07')."""
    mantissa, _, exponent = text.partition('e')
    decimals = len(mantissa.split('.')[1]) if '.' in mantissa else 0
    half_unit = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    assert abs(float(text) - value) <= half_unit * (1 + 1e-9), '%s does not show %r' % (text, value)


def read_json(path):
    with open(str(path)) as f:
        return json.load(f)


# ---- d2l-gluon all

@pytest.fixture(scope='module')
def all_run(tmp_path_factory):
    """One `d2l-gluon all` run (book defaults, every chapter, both versions), shared below."""
    out = tmp_path_factory.mktemp('all') / 'run'
    start = time.perf_counter()
    result = run_main('all', '--out', out)
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
    for chapter in BOOK:
        metrics = chapter_metrics(out, chapter)
        assert list(metrics['runs']) == IMPLS
        # the book's defaults, not something smaller
        module = chapter_module(chapter)
        defaults = module.complete(make_config(module.options))  # logreg's depend on its data
        for key in ('num_epochs', 'lr', 'batch_size'):
            assert metrics['config'][key] == defaults[key], (chapter, key)
        for impl in IMPLS:
            epochs = metrics['runs'][impl]['epochs']
            assert [e['epoch'] for e in epochs] == list(range(1, metrics['config']['num_epochs'] + 1))
    assert (out / 'summary.json').is_file() and (out / 'report.html').is_file()
    assert all_run.stdout.rstrip().splitlines()[-1].startswith('all results in %s' % out)
    assert hidden_files(out) == [] and all(hidden_files(out / c) == [] for c in CHAPTERS)
    # the classifiers' saved models have the book's sizes
    assert [p.shape for p in nd.load(str(out / 'softmax' / 'scratch.params'))] == [(784, 10), (10,)]
    assert [p.shape for p in nd.load(str(out / 'mlp' / 'scratch.params'))] == [
        (784, 256), (256,), (256, 10), (10,)]


@pytest.mark.slow
def test_all_shows_progress_per_chapter_with_elapsed_and_remaining_time(all_run):
    lines = all_run.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith('== ')]
    assert [lines[i].split()[1] for i in headers] == CHAPTERS, lines[:3]
    progress = []
    for begin, end in zip(headers, headers[1:] + [len(lines)]):
        chapter_lines = lines[begin:end]
        epoch_lines = [line for line in chapter_lines if EPOCH_LINE.match(line)]
        if chapter_lines[0].split()[1] not in BOOK:
            progress.append((int(PROGRESS.search(chapter_lines[0]).group(1)), None))
            continue
        # every version of every chapter reports its epochs, each line with the time
        assert {EPOCH_LINE.match(line).group(1) for line in epoch_lines} == set(IMPLS), chapter_lines
        for line in [chapter_lines[0]] + epoch_lines:
            match = PROGRESS.search(line)
            assert match, 'no elapsed and remaining time in %r' % line
            progress.append((int(match.group(1)), match.group(2)))
    elapsed = [e for e, _ in progress]
    assert elapsed == sorted(elapsed) and elapsed[-1] <= all_run.wall_seconds
    assert elapsed[-1] >= 1, 'the chapters take more than a second together'
    lefts = [left for _, left in progress[1:] if left is not None]
    # once the book's chapters are done, the estimate is small; it is a number of seconds
    assert all(re.fullmatch(r'\d+', left) for left in lefts), progress


@pytest.mark.slow
def test_all_progress_never_shows_nan_seconds_left(all_run):
    lefts = [PROGRESS.search(line).group(2) for line in all_run.stdout.splitlines()
             if PROGRESS.search(line)]
    assert all_run.returncode == 0 and lefts, 'precondition: all ran and printed its progress'
    assert lefts and all(re.fullmatch(r'\d+', left) for left in lefts), lefts[:3]


def check_summary_json(all_out, chapters=CHAPTERS):
    summary = read_json(all_out / 'summary.json')
    assert list(summary['chapters']) == chapters
    assert summary['seconds'] > 0
    for chapter in BOOK:
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


def check_summary_table(all_run, all_out):
    lines = all_run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ['chapter', 'impl'])
    rows = parse_text_table(lines[start:start + 1 + len(BOOK) * len(IMPLS)])
    assert {'final loss', 'test acc', 'param error', 'seconds', '|scratch - gluon|'} <= set(rows[0])
    assert [(r['chapter'], r['impl']) for r in rows] == [(c, i) for c in BOOK for i in IMPLS]
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
    return parse_report(all_out)


def check_self_contained(report):
    assert report.images, 'the report shows the figures'
    # nothing to fetch: every src/href is an embedded data: URI or a link within the page
    outside = [link for link in report.links if not link[2].startswith(('data:', '#'))]
    assert outside == []
    for _, src in report.images:
        assert src.startswith('data:image/png;base64,'), src[:40]
        assert base64.b64decode(src.split(',', 1)[1], validate=True).startswith(PNG_SIGNATURE)


def check_embeds_every_png(report, all_out, chapters=CHAPTERS):
    embedded = {}
    for chapter, src in report.images:
        embedded.setdefault(chapter, []).append(base64.b64decode(src.split(',', 1)[1]))
    for chapter in chapters:
        pngs = sorted(glob.glob(str(all_out / chapter / '*.png')))
        assert pngs, chapter
        for png in pngs:
            with open(png, 'rb') as f:
                assert f.read() in embedded.get(chapter, []), '%s is not in the report' % png


def check_tables(report, all_run, all_out):
    keys = [[c, i] for c in BOOK for i in IMPLS]
    summary_rows = [row for table in report.tables for row in table['rows'] if row[:2] in keys]
    # the same cells as the printed summary table
    lines = all_run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ['chapter', 'impl'])
    printed = parse_text_table(lines[start:start + 1 + len(BOOK) * len(IMPLS)])
    assert summary_rows == [list(row.values()) for row in printed]
    for chapter in BOOK:
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


# the checks, on the real `all` run (slow) and on a small one (fast)

@pytest.fixture(scope='module')
def small_all(tmp_path_factory):
    """What `all` writes, from short chapter runs (fake Fashion-MNIST): .out, .stdout, .returncode."""
    class Run:
        pass
    base = tmp_path_factory.mktemp('small-all')
    data = base / 'fake'
    write_fashion_mnist(data, num_train=600, num_test=100)
    out = base / 'run'
    short = {'linreg': [], 'softmax': ['--num-epochs', 2, '--data-dir', data],
             'mlp': ['--num-epochs', 1, '--data-dir', data], 'logreg': ['--num-epochs', 30]}
    for chapter in BOOK:
        assert cli.main([str(a) for a in [chapter, '--out', out / chapter] + short[chapter]]) == 0
    summary = reporting.summarize(str(out), BOOK)
    summary['seconds'] = 1.0
    with open(str(out / 'summary.json'), 'w') as f:
        json.dump(summary, f)
    reporting.write_html(str(out / 'report.html'), str(out), summary)
    run = Run()
    run.out, run.returncode, run.stdout = out, 0, reporting.summary_table(summary) + '\n'
    return run


def parse_report(out):
    parser = _ReportParser()
    with open(str(out / 'report.html'), encoding='utf-8') as f:
        parser.feed(f.read())
    parser.close()
    return parser


@pytest.mark.slow
def test_summary_json_of_all_has_every_chapter_and_version_consistent_with_their_metrics(all_out):
    check_summary_json(all_out)


def test_summary_has_every_chapter_and_version_consistent_with_their_metrics(small_all):
    check_summary_json(small_all.out, BOOK)


@pytest.mark.slow
def test_all_prints_a_summary_table_of_every_chapter_and_version(all_run, all_out):
    check_summary_table(all_run, all_out)


def test_summary_table_shows_every_chapter_and_version_as_summarized(small_all):
    check_summary_table(small_all, small_all.out)


@pytest.mark.slow
def test_all_report_html_is_self_contained_embeds_every_png_and_holds_every_table(report, all_run, all_out):
    check_self_contained(report)
    check_embeds_every_png(report, all_out)
    check_tables(report, all_run, all_out)


def test_report_html_is_self_contained_embeds_every_png_and_holds_every_table(small_all):
    parsed = parse_report(small_all.out)
    check_self_contained(parsed)
    check_embeds_every_png(parsed, small_all.out, BOOK)
    check_tables(parsed, small_all, small_all.out)


# ---- what a reader sees: the chapters after 3.10 (cases, references of many numbers, nothing trained)

LATER = ['polyfit', 'weight-decay', 'initialization']


@pytest.fixture(scope='module')
def later_all(tmp_path_factory):
    """The report of short runs of polyfit, weight decay and initialization (random data)."""
    out = tmp_path_factory.mktemp('later-all') / 'run'
    short = {'polyfit': ['--num-epochs', 3], 'weight-decay': ['--num-epochs', 3],
             'initialization': ['--data', 'random', '--num-layers', 3, '--num-hiddens', 32]}
    for chapter in LATER:
        assert cli.main([str(a) for a in [chapter, '--out', out / chapter] + short[chapter]]) == 0
    summary = reporting.summarize(str(out), LATER)
    reporting.write_html(str(out / 'report.html'), str(out), summary)
    with open(str(out / 'report.html'), encoding='utf-8') as f:
        text = f.read()
    return out, summary, parse_report(out), text


def test_summary_has_no_empty_row_or_cell_and_names_the_chapter_that_trains_nothing(later_all):
    out, summary, parsed, _ = later_all
    table = parsed.tables[0]
    assert table['h2'] == 'Summary' and len(table['rows']) == 1 + 5 * 2  # polyfit's 3 cases, λ 0 and 3
    for row in table['rows']:
        assert all(cell.strip() for cell in row), row
    assert 'initialization' not in [row[0] for row in table['rows']]
    text = reporting.summary_table(summary).splitlines()
    assert text[-1].startswith('initialization trains nothing')
    assert all(len(line.split()) >= 3 for line in text)


def test_report_holds_no_empty_section_and_no_python_repr(later_all):
    out, _, parsed, text = later_all
    body = re.sub(r'<img [^>]*>', '', text)
    assert not re.search(r"\{'|>\s*\[|</h3>\s*<h[23]", body), 'a raw dict, a list in a cell or an empty heading'
    for table in parsed.tables:
        assert len(table['rows']) > 1, (table['h2'], table['h3'])
        assert all(cell.strip() for row in table['rows'][1:] for cell in row[1:])
    assert [t['h3'] for t in parsed.tables if t['h2'] == 'initialization'] == ['Configuration', 'Reference']
    assert '||dl/dW|| per layer at initialisation' in text  # its measurements, as printed


def test_reference_is_a_small_table_of_key_figures(later_all):
    out, _, parsed, _ = later_all
    metrics = read_json(out / 'weight-decay' / 'metrics.json')
    tables = [t for t in parsed.tables if t['h2'] == 'weight-decay' and t['h3'] == 'Reference']
    assert len(tables) == 2  # one per λ
    header, *rows = tables[1]['rows']
    assert header == ['', '||w||', 'b', 'max |θ - reference|', 'train loss', 'test loss']
    assert [r[0] for r in rows] == ['true', 'lambda=3 scratch', 'lambda=3 gluon',
                                    metrics['reference']['lambda=3']['method']]
    assert_shows(rows[0][1], 0.01 * np.sqrt(200))
    assert_shows(rows[1][1], metrics['runs']['lambda=3 scratch']['epochs'][-1]['w_norm'])
    assert_shows(rows[3][5], metrics['reference']['lambda=3']['test_loss'])
    header, *rows = [t for t in parsed.tables if t['h2'] == 'polyfit' and t['h3'] == 'Reference'][0]['rows']
    assert header[1:5] == ['w[0]', 'w[1]', 'w[2]', 'b'] and rows[0][:5] == ['true', '1.2', '-3.4', '5.6', '5']


def test_caption_says_where_scratch_and_gluon_curves_overlap(later_all):
    out, _, _, text = later_all
    metrics = read_json(out / 'polyfit' / 'metrics.json')
    gap = max(abs(a['loss'] - b['loss']) for case in ('normal', 'underfit', 'overfit')
              for a, b in zip(metrics['runs'][case + ' scratch']['epochs'],
                              metrics['runs'][case + ' gluon']['epochs']))
    caption = re.search(r'<figcaption>(loss.png[^<]*)</figcaption>', text.split('id="polyfit"')[1]).group(1)
    assert 'lies on scratch' in caption
    assert_shows(re.search(r'at most loss (\S+),', caption).group(1), gap)


def test_per_epoch_table_shows_the_epochs_the_command_prints():
    run = {'epochs': [{'epoch': k, 'loss': 1.0 / k} for k in range(1, 1001)]}
    parser = _ReportParser()
    parser.feed(reporting._epoch_table(run, every=100))
    shown = [int(row[0]) for row in parser.tables[0]['rows'][1:]]
    assert shown == [1] + list(range(100, 1001, 100))


@pytest.mark.slow
def test_all_prints_at_most_150_lines_and_ends_with_the_summary_table_on_one_screen(all_run):
    lines = all_run.stdout.rstrip().splitlines()
    assert all_run.returncode == 0 and len(lines) <= 150, len(lines)
    # the summary table follows the last chapter and fits on one screen of 40 lines
    header = max(i for i, line in enumerate(lines) if line.startswith('chapter '))
    assert lines[header - 2].startswith('results in ') and len(lines) - header <= 40


@pytest.mark.slow
def test_all_writes_each_chapters_summary_lines_into_its_folder(all_out):
    linreg = (all_out / 'linreg' / 'summary.txt').read_text()
    assert linreg.startswith(' ') and 'closed form' in linreg
    assert 'summary.txt' in chapter_metrics(all_out, 'linreg')['files']
