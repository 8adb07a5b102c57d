"""Pictures to classify: image files as the model sees them, or the first test images."""
import warnings

import numpy as np

from .errors import D2LError
from .fashion_mnist import read_fashion_mnist_test

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
    from PIL import Image
    image = _open_image(path)
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


def _open_image(path):
    """Return the decoded Pillow image at path; raise D2LError when missing, unreadable or too large."""
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
                return image
    except FileNotFoundError:
        raise D2LError('no image at %s' % path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's message: "Image size (N pixels) exceeds limit of M pixels, could be ..."
        raise D2LError('%s is too large to decode (%s); %s'
                       % (path, str(e).split(',')[0], fix)) from None
    except (UnidentifiedImageError, OSError) as e:
        raise D2LError('cannot read %s as an image (%s); pass a PNG file' % (path, e)) from None


def images_to_classify(paths=(), from_test=None, root=None):
    """Return (names, images (n, 1, 28, 28) float32 in [0, 1]) of image files or the first test images."""
    if from_test:
        # data re-exports this function, so its helpers are imported on call
        from .data import get_fashion_mnist_labels, to_tensor
        images, labels = read_fashion_mnist_test(root)
        if from_test > len(images):
            raise D2LError('--from-test %d: the test set holds %d images; pass --from-test %d or '
                           'fewer' % (from_test, len(images), len(images)))
        return (['test image %d (%s)' % (i, label) for i, label in
                 enumerate(get_fashion_mnist_labels(labels[:from_test]))],
                to_tensor(images[:from_test]))
    pictures = [read_image(path) for path in paths]
    return (['%s%s' % (path, ' (%s)' % '; '.join(notes) if notes else '')
             for path, (_, notes) in zip(paths, pictures)],
            np.stack([image for image, _ in pictures])[:, None])
