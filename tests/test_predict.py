"""Saved models (d2l_gluon.predict.load_model) and `d2l-gluon predict`, on runs of a small fake Fashion-MNIST.

Split from test_runs.py, whose readers of a run folder it shares, so that the two files
run side by side under ``pytest -n 2 --dist loadfile``.
"""
import os
import re
import shutil

import numpy as np
import pytest
from mxnet import gluon, nd

from d2l_gluon import cli, predict
from d2l_gluon.chapters.softmax_regression import softmax
from d2l_gluon.data import TEXT_LABELS, read_fashion_mnist

from .helpers import assert_close, one_line, write_fashion_mnist
from .test_runs import IMPLS, checkpoint_files, hidden_files, main, read_json


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    """A small fake Fashion-MNIST: 600 training and 100 test images (3 batches of 256 per epoch)."""
    folder = tmp_path_factory.mktemp('fake-fashion-mnist')
    write_fashion_mnist(folder, num_train=600, num_test=100)
    return folder


# ---- saved models and load_model

MODELS = {'softmax': ([], [(784, 10), (10,)]),
          'mlp': (['--num-hiddens', 64], [(784, 64), (64,), (64, 10), (10,)])}


@pytest.fixture(scope='module')
def models(tmp_path_factory, fake_data):
    """One-epoch softmax and `mlp --num-hiddens 64` runs on the fake data, and a linreg run: {name: folder}."""
    base = tmp_path_factory.mktemp('models')
    folders = {}
    for chapter, (more, _) in MODELS.items():
        folders[chapter] = base / chapter
        args = [chapter, '--num-epochs', 1, '--data-dir', fake_data, '--out', folders[chapter]] + more
        assert cli.main([str(a) for a in args]) == 0
    folders['linreg'] = base / 'linreg'
    assert cli.main(['linreg', '--num-epochs', '1', '--out', str(folders['linreg'])]) == 0
    return folders


@pytest.fixture(scope='module')
def test_set(fake_data):
    """The fake test images (uint8, N x 28 x 28) and labels."""
    return read_fashion_mnist(str(fake_data))[2:]


def as_input(images):
    return nd.array(images[:, None].astype(np.float32) / np.float32(255))


@pytest.mark.parametrize('chapter', MODELS)
def test_classifier_run_folder_holds_both_models_of_its_size_and_the_export_and_no_leftovers(models, chapter):
    folder = models[chapter]
    names = set(os.listdir(str(folder)))
    assert {'scratch.params', 'gluon.params', 'gluon-symbol.json', 'gluon-0000.params',
            'model.json', 'metrics.json'} <= names
    assert checkpoint_files(folder) == [] and hidden_files(folder) == []
    assert read_json(folder / 'model.json')['chapter'] == chapter
    shapes = MODELS[chapter][1]
    assert [p.shape for p in nd.load(str(folder / 'scratch.params'))] == shapes
    # Dense stores its weight as (units, in_units)
    gluon_shapes = [s[::-1] for s in shapes]
    assert [p.shape for p in nd.load(str(folder / 'gluon.params')).values()] == gluon_shapes


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('chapter', MODELS)
def test_saved_model_is_the_trained_one(models, test_set, chapter, impl):
    # the saved parameters classify the test set exactly as the last epoch reported
    net, description = predict.load_model(str(models[chapter] / ('%s.params' % impl)))
    assert (description['chapter'], description['impl']) == (chapter, impl)
    expected = read_json(models[chapter] / 'metrics.json')['runs'][impl]['epochs'][-1]['test_acc']
    images, labels = test_set
    assert float((net(as_input(images)).argmax(axis=1).asnumpy() == labels).mean()) == expected


@pytest.mark.filterwarnings('ignore:Cannot decide type:UserWarning')  # mxnet's, on imports


@pytest.mark.parametrize('chapter', MODELS)
def test_hybridized_export_loads_as_symbolblock_with_the_saved_nets_outputs(models, test_set, chapter):
    folder = models[chapter]
    exported = gluon.SymbolBlock.imports(str(folder / 'gluon-symbol.json'), ['data'],
                                         str(folder / 'gluon-0000.params'))
    net, description = predict.load_model(str(folder))
    assert description['impl'] == 'gluon'
    X = as_input(test_set[0][:64])
    assert_close(exported(X), net(X), what='%s export vs gluon.params' % chapter)


# ---- predict (load_model through the CLI)

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


@pytest.mark.parametrize('chapter, model_file, impl', [('mlp', '', 'gluon'),
                                                        ('softmax', 'scratch.params', 'scratch')])
def test_predict_prints_the_models_top_3_classes_of_written_pngs(models, pngs, capsys, chapter,
                                                                 model_file, impl):
    paths, pixels = pngs
    model = os.path.join(str(models[chapter]), model_file)
    code, stdout, err = main(capsys, 'predict', '--model', model, *paths)
    assert code == 0, err
    header, parsed = parse_predictions(stdout)
    assert '%s model (%s)' % (chapter, impl) in header
    assert len(parsed) == len(paths)
    net, _ = predict.load_model(model)
    probabilities = softmax(net(nd.array(pixels[:, None]))).asnumpy()
    assert_top3_is_the_models(parsed, probabilities)
    names = [name for name, _ in parsed]
    assert names[:4] == paths[:4], 'no note for 28x28 grayscale images'
    rgb_name = names[4]
    assert rgb_name.startswith(paths[4]) and 'grayscale' in rgb_name and 'RGB' in rgb_name
    assert '56x56' in rgb_name and '28x28' in rgb_name


def test_predict_from_test_prints_n_lines_with_the_true_labels(models, test_set, fake_data, capsys):
    code, stdout, err = main(capsys, 'predict', '--model', models['mlp'], '--from-test', 3,
                             '--data-dir', fake_data)
    assert code == 0, err
    header, parsed = parse_predictions(stdout)
    assert 'mlp model (gluon)' in header and len(parsed) == 3
    images, labels = test_set
    for i, (name, _) in enumerate(parsed):
        assert name == 'test image %d (%s)' % (i, TEXT_LABELS[labels[i]])
    net, _ = predict.load_model(str(models['mlp']))
    assert_top3_is_the_models(parsed, softmax(net(as_input(images[:3]))).asnumpy())


def _model_folder(tmp_path, models, model_json_of, params_of):
    """A folder with model.json of one chapter beside the two .params files of another."""
    folder = tmp_path / 'model'
    folder.mkdir()
    shutil.copy(str(models[model_json_of] / 'model.json'), str(folder))
    for name in ('scratch.params', 'gluon.params'):
        shutil.copy(str(models[params_of] / name), str(folder))
    return folder


PREDICT_ERRORS = ['missing model', 'corrupt gluon.params', 'corrupt scratch.params',
                  'linreg run folder', 'mlp model.json beside softmax gluon.params',
                  'mlp model.json beside softmax scratch.params',
                  'softmax model.json beside mlp gluon.params', 'not an image', 'missing image',
                  'neither images nor --from-test', 'both images and --from-test']


@pytest.mark.parametrize('case', PREDICT_ERRORS)
def test_predict_error_is_one_line_exit_2_without_traceback(models, pngs, tmp_path, capsys, case):
    image = pngs[0][0]
    if case == 'missing model':
        model = tmp_path / 'no-such-run'
        args, named = ['--model', model, image], str(model)
    elif case.startswith('corrupt'):
        folder = _model_folder(tmp_path, models, 'softmax', 'softmax')
        name = case.split()[1]
        (folder / name).write_bytes(b'not parameters at all' + bytes(range(256)) * 4)
        args, named = ['--model', folder / name, image], name
    elif case == 'linreg run folder':
        args, named = ['--model', models['linreg'], image], 'linreg'
    elif 'beside' in case:
        json_of, params_of, name = re.match(r'(\w+) model.json beside (\w+) (\S+)', case).groups()
        folder = _model_folder(tmp_path, models, json_of, params_of)
        args, named = ['--model', folder / name, image], name
    elif case == 'not an image':
        text = tmp_path / 'picture.png'
        text.write_text('this is text, not a PNG\n')
        args, named = ['--model', models['mlp'], text], str(text)
    elif case == 'missing image':
        missing = tmp_path / 'missing.png'
        args, named = ['--model', models['mlp'], missing], str(missing)
    elif case == 'neither images nor --from-test':
        args, named = ['--model', models['mlp']], '--from-test'
    else:
        args, named = ['--model', models['mlp'], '--from-test', 2, image], '--from-test'
    code, stdout, err = main(capsys, 'predict', *args)
    assert code == 2, (code, err)
    line = one_line(err)
    assert line.startswith('d2l-gluon predict: error: ') and named in line, line
    assert stdout == '', 'no predictions after an error'


def test_read_image_reads_a_16_bit_grayscale_png_like_the_8_bit_one(tmp_path):
    from PIL import Image

    from d2l_gluon.images import read_image
    pixels = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    Image.fromarray(pixels).save(str(tmp_path / 'eight.png'))
    Image.fromarray(pixels.astype(np.uint16) * 257).save(str(tmp_path / 'sixteen.png'))  # 255 -> 65535
    assert Image.open(str(tmp_path / 'sixteen.png')).mode.startswith('I'), 'precondition: a 16-bit PNG'
    eight, _ = read_image(str(tmp_path / 'eight.png'))
    sixteen, _ = read_image(str(tmp_path / 'sixteen.png'))
    assert np.array_equal(eight, pixels / np.float32(255)), 'the 8-bit PNG reads exactly'
    # 65535 is white in 16 bits: a 16-bit pixel p * 257 is the 8-bit p, to one gray level
    assert_close(sixteen, eight, rtol=0, atol=1 / 255, what='16-bit vs 8-bit')


def test_predict_from_test_beyond_the_test_set_is_refused_naming_its_size(models, fake_data, capsys):
    code, stdout, err = main(capsys, 'predict', '--model', models['mlp'], '--from-test', 99999999,
                             '--data-dir', fake_data)
    assert code == 2 and stdout == '' and len(err.strip().splitlines()) == 1, err
    assert 'holds 100 images' in err and '--from-test 100' in err


def test_predict_without_images_names_both_ways_and_reads_as_english(models, capsys):
    code, _, err = main(capsys, 'predict', '--model', models['mlp'])
    assert code == 2 and 'give IMAGE files or --from-test N' in err
    assert 'neither' not in err


def test_predict_from_test_needs_only_the_test_set(models, fake_data, tmp_path, capsys):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(str(fake_data), str(data))
    damaged = [p for p in data.iterdir() if p.name.startswith('train-images')][0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    code, stdout, err = main(capsys, 'predict', '--model', models['mlp'], '--from-test', 2,
                             '--data-dir', data)
    assert code == 0, err
    assert len(parse_predictions(stdout)[1]) == 2
