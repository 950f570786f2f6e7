"""Image decoding and conversion: the only place that turns untrusted bytes into pixels.

Everything here is numpy + Pillow, so it works with any Keras backend.
"""

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnkit.errors import InputError

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"})

# Pillow decoders allowed to see untrusted bytes (an MPO file opens through the JPEG decoder).
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")

# Larger images are refused before their pixels are decoded (40 MP is about 7300 x 5500).
MAX_PIXELS = 40_000_000

_GRAY_MODES = frozenset({"1", "L", "LA", "I", "F"})


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode one image file fully, first frame only, upright according to its EXIF orientation.

    Raises InputError naming `name` for anything that is not a complete image in an
    allowed format, or that has more than MAX_PIXELS pixels.
    """
    if not data:
        raise InputError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if img.width * img.height > MAX_PIXELS:
                raise InputError(
                    f"{name} is {img.width}x{img.height} = {img.width * img.height:,} pixels, "
                    f"more than the {MAX_PIXELS:,} allowed."
                )
            img.load()
            return ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is too large to decode safely ({err}).") from err
    except UnidentifiedImageError as err:
        raise InputError(
            f"{name} is not an image in a supported format ({', '.join(ALLOWED_FORMATS)})."
        ) from err
    except InputError:
        raise
    except Exception as err:  # any decoder failure on untrusted bytes is the file's fault
        raise InputError(f"{name} is damaged or truncated and cannot be decoded ({err}).") from err


def image_channels(img: Image.Image) -> int:
    """1 if the image holds only gray levels by construction (gray modes, gray palette), else 3."""
    if img.mode in _GRAY_MODES or img.mode.startswith("I;16"):
        return 1
    if img.mode == "P":
        palette = np.asarray(img.getpalette("RGB"), dtype=np.uint8).reshape(-1, 3)
        used = np.unique(np.asarray(img))
        colors = palette[used[used < len(palette)]]
        return 1 if (colors == colors[:, :1]).all() else 3
    return 3


def to_array(img: Image.Image, channels: int) -> np.ndarray:
    """Pixels as uint8 (H, W, channels), channels 1 (gray) or 3 (RGB).

    Transparent areas are composited onto black. 16-bit, 32-bit and float images are
    rescaled linearly so that their largest value (or 0, whichever is larger) maps to 255
    and their smallest value (or 0, whichever is smaller) maps to 0; NaN and infinities
    count as 0.
    """
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, not {channels}.")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        gray = _rescale_to_uint8(np.asarray(img))
        return np.repeat(gray[..., None], channels, axis=2)
    if img.has_transparency_data:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
        rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255
        img = Image.fromarray(rgb.astype(np.uint8), "RGB")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    array = np.asarray(img.convert("L" if channels == 1 else "RGB"))
    return array[..., None] if channels == 1 else array


def _rescale_to_uint8(values: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low = values.min(initial=0.0)  # initial=0: zero is always inside the range
    span = values.max(initial=0.0) - low
    if span == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / span)).astype(np.uint8)


def resize_with_pad(array: np.ndarray, side: int) -> np.ndarray:
    """Fit uint8 (H, W, C) into (side, side, C): keep the aspect ratio, center, pad with zeros.

    Like tf.image.resize_with_pad: the longer edge becomes `side`, resampled bilinearly
    (antialiased when shrinking).
    """
    height, width, channels = array.shape
    scale = side / max(height, width)
    new_height = max(1, round(height * scale))
    new_width = max(1, round(width * scale))
    resized = Image.fromarray(array[..., 0] if channels == 1 else array).resize(
        (new_width, new_height), Image.Resampling.BILINEAR
    )
    out = np.zeros((side, side, channels), dtype=np.uint8)
    top = (side - new_height) // 2
    left = (side - new_width) // 2
    out[top : top + new_height, left : left + new_width] = np.asarray(resized).reshape(
        new_height, new_width, channels
    )
    return out


# A drawing is sent by the browser as a data URL; 4 MB of PNG is far more than a canvas needs.
MAX_DATA_URL_CHARS = 4_000_000
# MNIST digits fill a 20x20 box centred by mass in 28x28 pixels; drawings are framed the same way.
DIGIT_FILL = 20 / 28


def decode_data_url(url: str, name: str = "the drawing") -> bytes:
    """The bytes of a base64 `data:image/png` URL, as a browser canvas sends it."""
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise InputError(f"{name} did not arrive as a PNG data URL.")
    if len(url) > MAX_DATA_URL_CHARS:
        raise InputError(f"{name} is {len(url):,} characters long, more than the {MAX_DATA_URL_CHARS:,} allowed.")
    try:
        return base64.b64decode(url.removeprefix(prefix), validate=True)
    except binascii.Error as err:
        raise InputError(f"{name} is not valid base64 ({err}).") from None


def frame_drawing(data: bytes, name: str = "the drawing") -> bytes:
    """A dark-on-light drawing cropped to its ink and framed like an MNIST digit.

    The ink's bounding box fills DIGIT_FILL of a square white canvas, with the ink's centre of
    mass at the centre (as far as the box allows). Returns a gray PNG; raises InputError when
    there is no ink.
    """
    ink = 255.0 - to_array(decode_image(data, name), 1)[..., 0]
    if ink.max() < 32:  # nothing darker than a light gray
        raise InputError(f"{name} is empty: draw something first.")
    rows, columns = np.nonzero(ink > 0.1 * ink.max())
    crop = ink[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    height, width = crop.shape
    side = max(round(max(height, width) / DIGIT_FILL), height + 2, width + 2)
    centre_row = (crop.sum(axis=1) @ np.arange(height)) / crop.sum()
    centre_column = (crop.sum(axis=0) @ np.arange(width)) / crop.sum()
    top = int(np.clip(round((side - 1) / 2 - centre_row), 0, side - height))
    left = int(np.clip(round((side - 1) / 2 - centre_column), 0, side - width))
    framed = np.zeros((side, side))
    framed[top : top + height, left : left + width] = crop
    buffer = io.BytesIO()
    Image.fromarray((255 - framed).astype(np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()
