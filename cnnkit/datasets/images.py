"""Image decoding and conversion: the only place that turns untrusted bytes into pixels.

Everything here is numpy + Pillow, so it works with any Keras backend.
"""

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

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
    allowed format, or that has more than MAX_PIXELS pixels. A file whose first bytes show an
    allowed format that Pillow still can't read is named as such, with the reason (for a TIFF:
    its compression or its kind of pixels).
    """
    if not data:
        raise InputError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # Pillow's own limits (a warning, then an error at twice its MAX_IMAGE_PIXELS) are far above
            # MAX_PIXELS: its warning is left to the check below, its error is said in cnnkit's limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if img.width * img.height > MAX_PIXELS:
                raise InputError(
                    f"{name} is {img.width}x{img.height} = {img.width * img.height:,} pixels, "
                    f"more than the {MAX_PIXELS:,} allowed."
                )
            img.load()
            return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as err:
        raise InputError(f"{name} has more than the {MAX_PIXELS:,} pixels allowed.") from err
    except UnidentifiedImageError as err:
        raise _unidentified(data, name) from err
    except InputError:
        raise
    except Exception as err:  # any decoder failure on untrusted bytes is the file's fault
        raise _undecodable(data, name, err) from err


def _unidentified(data: bytes, name: str) -> InputError:
    """What to say about a file no allowed decoder opened: what it is, and why it can't be read."""
    kind = _format_from_header(data)
    if kind in ALLOWED_FORMATS:
        return InputError(f"{name} is {_a(_pages(data, kind))} that Pillow can't decode: {_why_not(data, kind)}.")
    found = f" It is {_a(kind)} file." if kind else ""
    return InputError(f"{name} is not an image in a supported format ({', '.join(ALLOWED_FORMATS)}).{found}")


def _undecodable(data: bytes, name: str, err: Exception) -> InputError:
    """What to say about a file that opened but whose pixels failed to decode."""
    if _format_from_header(data) == "TIFF":
        return InputError(f"{name} is {_a(_pages(data, 'TIFF'))} that Pillow can't decode: its {_tiff_compression(data)} "
                          f"pixel data fails to decode ({err}), so the file is probably damaged.")
    return InputError(f"{name} is damaged or truncated and cannot be decoded ({err}).")


# What a file is, from its first bytes: (offset, signature, format). Pillow names for the formats
# it decodes; the others are named so a person learns what they uploaded.
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"), (0, b"II*\0", "TIFF"), (0, b"MM\0*", "TIFF"), (0, b"II+\0", "TIFF"), (0, b"MM\0+", "TIFF"),
    (8, b"WEBP", "WEBP"), (4, b"ftypheic", "HEIC"), (4, b"ftypheix", "HEIC"), (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"), (0, b"%PDF", "PDF"), (0, b"<svg", "SVG"), (0, b"\0\0\0\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"), (0, b"8BPS", "Photoshop"),
)


def _format_from_header(data: bytes) -> str | None:
    """The file format its first bytes announce (Pillow's name where Pillow reads it), or None."""
    for offset, signature, kind in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature and (kind != "WEBP" or data.startswith(b"RIFF")):
            return kind  # a WebP file is a RIFF container whose type, at byte 8, is WEBP
    return None


def _a(noun: str) -> str:
    """`noun` with its article, as said aloud: an HEIC, an SVG, an 8-page TIFF, a PNG, a 2-page TIFF."""
    return f"{'an' if noun[0] in 'AEFHILMNORSX8' or noun.startswith(('11', '18')) else 'a'} {noun}"


def _why_not(data: bytes, kind: str) -> str:
    """Why Pillow's decoder for `kind` refuses these bytes, for a person."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about cut-off headers; the message says what is wrong
        complaint = _decoder_complaint(data, kind)
        return _tiff_problem(data, complaint) if kind == "TIFF" else complaint


def _decoder_complaint(data: bytes, kind: str) -> str:
    """The error Pillow's decoder for `kind` raises on these bytes (Image.open only says it failed)."""
    factory, _ = Image.OPEN[kind]
    try:
        factory(io.BytesIO(data), "")
    except Exception as err:
        return str(err) or type(err).__name__
    return "its header is not one Pillow understands"


# TIFF tags and codes read to describe a TIFF Pillow can't decode.
_COMPRESSION, _BITS, _SAMPLES, _SAMPLE_FORMAT = 259, 258, 277, 339
_TIFF_COMPRESSIONS = {1: "uncompressed", 5: "LZW", 7: "JPEG", 8: "Deflate", 32773: "PackBits", 34712: "JPEG 2000",
                      34887: "LERC", 34925: "LZMA", 50000: "Zstandard", 50001: "WebP", 50002: "JPEG XL"}
_SAMPLE_KINDS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "untyped", 5: "complex integer",
                 6: "complex floating-point"}


def _tiff_header(data: bytes) -> TiffImagePlugin.ImageFileDirectory_v2:
    """A TIFF's byte order and first page's offset (`.next`), classic or BigTIFF."""
    return TiffImagePlugin.ImageFileDirectory_v2(data[:16] if data[2:4] in (b"+\0", b"\0+") else data[:8])


def _tiff_tags(data: bytes, offset: int | None = None) -> TiffImagePlugin.ImageFileDirectory_v2:
    """The tags of the TIFF page at `offset` (default: the first), read by Pillow without decoding pixels."""
    ifd = _tiff_header(data)
    file = io.BytesIO(data)
    file.seek(ifd.next if offset is None else offset)
    ifd.load(file)
    return ifd


def _pages(data: bytes, kind: str, most: int = 1000) -> str:
    """`kind`, as "2-page TIFF" when a TIFF holds several complete pages (counted up to `most`)."""
    if kind != "TIFF":
        return kind
    pages, seen = 0, set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            offset = _tiff_header(data).next
            while 0 < offset < len(data) and offset not in seen and pages < most:
                seen.add(offset)
                tags = _tiff_tags(data, offset)
                if not _has_size(tags):
                    break
                pages, offset = pages + 1, tags.next
        except Exception:  # a damaged page chain: the pages read so far
            pass
    return f"{pages}-page TIFF" if pages > 1 else kind


def _has_size(tags) -> bool:
    return {256, 257} <= set(tags)  # width and height: a page's header read in full, or close to


def _tiff_compression(data: bytes) -> str:
    """The name of a TIFF's compression, as in "its LZW pixel data" ("TIFF" when the header is unreadable)."""
    try:
        code = _tiff_tags(data).get(_COMPRESSION, 1)
    except Exception:
        return "TIFF"
    return _TIFF_COMPRESSIONS.get(code, f"compression-{code}")


def _tiff_problem(data: bytes, complaint: str) -> str:
    """What in a TIFF Pillow can't read (its compression, or its kind of pixels), else Pillow's `complaint`."""
    try:
        tags = _tiff_tags(data)
    except Exception as err:  # the header itself is unreadable
        return f"its header is damaged ({err})"
    if not _has_size(tags) or not {273, 324} & set(tags):  # where the pixels are: strips or tiles
        return "its first page's header is incomplete, so the file is probably cut short"
    code = tags.get(_COMPRESSION, 1)
    if code not in TiffImagePlugin.COMPRESSION_INFO:
        name = _TIFF_COMPRESSIONS.get(code, "an unknown scheme")
        return f"it is compressed with {name} (TIFF compression {code}), which Pillow can't decompress"
    if complaint != "unknown pixel mode":
        return complaint
    bits, samples = tuple(tags.get(_BITS, (1,))), tags.get(_SAMPLES, 1)
    sample_format = tuple(tags.get(_SAMPLE_FORMAT, (1,)))[0]
    kind = _SAMPLE_KINDS.get(sample_format, f"sample format {sample_format}")
    problem = f"its pixels are {samples} sample{'s' * (samples != 1)} of {bits[0]}-bit {kind}, a layout Pillow doesn't read"
    if sample_format == 3:
        problem += " (it reads floating-point TIFFs only as one 32-bit gray channel)"
    return problem + "; save it with 8- or 16-bit integers, or as PNG"


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

    Transparent areas are composited onto `transparency_backdrop`'s colour: white behind dark
    ink, black behind light shapes, so the shape stays visible either way. 16-bit, 32-bit and float images are
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
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint32)
        alpha = rgba[..., 3:]
        rgb = (rgba[..., :3] * alpha + _BACKDROPS[_backdrop(rgba)] * (255 - alpha) + 127) // 255
        img = Image.fromarray(rgb.astype(np.uint8), "RGB")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    array = np.asarray(img.convert("L" if channels == 1 else "RGB"))
    return array[..., None] if channels == 1 else array


_BACKDROPS = {"white": 255, "black": 0}


def transparency_backdrop(img: Image.Image) -> str | None:
    """What `to_array` puts behind an image's transparent areas ("white" or "black"), or None
    when it has none."""
    return _backdrop(np.asarray(img.convert("RGBA"))) if img.has_transparency_data else None


def _backdrop(rgba: np.ndarray) -> str:
    """White when the visible pixels (weighted by opacity) are dark on average, as black ink on a
    transparent sheet is; black when they are light; white when nothing is visible."""
    alpha = rgba[..., 3].astype(np.float64)
    if not alpha.any():
        return "white"
    luma = rgba[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return "white" if (luma * alpha).sum() / alpha.sum() < 128 else "black"


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
