"""Image and zip files made in memory, as uploads arrive."""

import io
import struct
import zipfile

from PIL import Image


def encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tiff(pages: int = 1, bits: tuple[int, ...] = (8,), sample_format: int = 1, compression: int = 1,
         photometric: int = 1, width: int = 4, height: int = 3) -> bytes:
    """A little-endian TIFF written tag by tag, so it can hold what Pillow won't write (or read):
    several pages of `bits` per sample (one entry per sample) in `sample_format` (1 unsigned,
    3 floating point), compressed with `compression` (1: none; the pixels are zeros either way)."""
    samples = len(bits)
    pixels = bytes(width * height * samples * bits[0] // 8)
    entries = 10
    page_size = 2 + 12 * entries + 4 + 2 * samples + len(pixels)
    out = b"II*\0" + struct.pack("<I", 8)
    for page in range(pages):
        start = 8 + page * page_size
        bits_at, pixels_at = start + 2 + 12 * entries + 4, start + 2 + 12 * entries + 4 + 2 * samples

        def short(tag, value):
            return struct.pack("<HHIHH", tag, 3, 1, value, 0)

        def long(tag, value, kind=4, count=1):
            return struct.pack("<HHII", tag, kind, count, value)

        tags = [short(256, width), short(257, height),
                short(258, bits[0]) if samples == 1 else long(258, bits_at, kind=3, count=samples),
                short(259, compression), short(262, photometric), long(273, pixels_at), short(277, samples),
                short(278, height), long(279, len(pixels)), short(339, sample_format)]
        following = start + page_size if page < pages - 1 else 0
        out += struct.pack("<H", entries) + b"".join(tags) + struct.pack("<I", following)
        out += struct.pack(f"<{samples}H", *bits) + pixels
    return out
