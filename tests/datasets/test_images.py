"""cnnkit.datasets.images: decoding untrusted bytes safely, converting modes, resizing with padding."""

import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnkit.errors import InputError
from cnnkit.datasets.images import (
    DIGIT_FILL,
    MAX_DATA_URL_CHARS,
    MAX_PIXELS,
    decode_data_url,
    decode_image,
    frame_drawing,
    image_channels,
    resize_with_pad,
    to_array,
    transparency_backdrop,
)
from files import encode, tiff


def png_declaring_size(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR chunk (with a correct CRC) claims width x height pixels."""
    png = encode(Image.new("L", (8, 8)), "PNG")
    ihdr = struct.pack(">II", width, height) + png[24:29]  # keep depth, color type, etc.
    chunk = b"IHDR" + ihdr
    return png[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


# --- decode_image ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "MPO"])
def test_every_allowed_format_decodes_to_a_loaded_image(fmt):
    img = decode_image(encode(Image.new("RGB", (30, 20), (200, 40, 10)), fmt), "photo")
    assert img.size == (30, 20)
    assert to_array(img, 3).shape == (20, 30, 3)


def test_a_format_outside_the_allowlist_is_refused_with_the_file_name():
    ppm = encode(Image.new("RGB", (4, 4)), "PPM")
    with pytest.raises(InputError, match="picture.ppm is not an image in a supported format"):
        decode_image(ppm, "picture.ppm")


def test_empty_bytes_are_refused_with_the_file_name():
    with pytest.raises(InputError, match="empty.png is empty"):
        decode_image(b"", "empty.png")


def test_text_pretending_to_be_a_png_is_refused():
    with pytest.raises(InputError, match="notes.png is not an image"):
        decode_image(b"just some text, not pixels", "notes.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_file_is_reported_as_damaged(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(InputError, match="cut.img is damaged or truncated"):
        decode_image(data[: len(data) // 2], "cut.img")


@pytest.mark.parametrize(
    "width, height",
    [
        (7_000, 7_000),  # above MAX_PIXELS, below Pillow's own warning threshold
        (10_000, 10_000),  # above Pillow's warning threshold
        (20_000, 20_000),  # above Pillow's error threshold
    ],
)
def test_a_decompression_bomb_is_refused_without_decoding_it_in_cnnkits_limit_only(width, height):
    assert width * height > MAX_PIXELS
    with pytest.raises(InputError, match="bomb.png .*more than") as refused:
        decode_image(png_declaring_size(width, height), "bomb.png")
    numbers = {int(number.replace(",", "")) for number in re.findall(r"\d[\d,]*\d", str(refused.value))}
    assert numbers <= {width, height, width * height, MAX_PIXELS} and MAX_PIXELS in numbers  # not Pillow's limits
    assert "bomb" not in str(refused.value).replace("bomb.png", "")  # nor Pillow's "decompression bomb DOS attack"


def test_an_image_under_the_pixel_limit_is_not_refused_for_its_size():
    # The header is fine, so the failure is about the missing pixel data, not the size.
    with pytest.raises(InputError, match="damaged or truncated"):
        decode_image(png_declaring_size(6_000, 6_000), "big.png")


def test_the_tiff_writer_makes_files_pillow_reads():
    img = decode_image(tiff(pages=2, bits=(8, 8, 8), photometric=2), "plain.tif")
    assert img.mode == "RGB" and img.size == (4, 3)


def test_a_multipage_float_rgb_tiff_is_named_with_what_pillow_cannot_read():
    data = tiff(pages=3, bits=(32, 32, 32), sample_format=3, photometric=2)
    with pytest.raises(InputError) as refused:
        decode_image(data, "scan.tif")
    message = str(refused.value)
    assert message.startswith("scan.tif is a 3-page TIFF that Pillow can't decode: its pixels are 3 samples of "
                              "32-bit floating-point, a layout Pillow doesn't read")
    assert "only as one 32-bit gray channel" in message and "not an image in a supported format" not in message


def test_a_tiff_compressed_in_a_way_pillow_lacks_names_the_compression():
    with pytest.raises(InputError, match=r"^slide.tif is a 2-page TIFF that Pillow can't decode: it is compressed "
                                         r"with JPEG 2000 \(TIFF compression 34712\), which Pillow can't decompress\.$"):
        decode_image(tiff(pages=2, compression=34712), "slide.tif")
    with pytest.raises(InputError, match=r"an unknown scheme \(TIFF compression 99\)"):
        decode_image(tiff(compression=99), "odd.tif")


def test_a_cut_off_tiff_is_said_to_be_cut_short_and_damaged_pixels_to_be_damaged():
    with pytest.raises(InputError, match="cut.tif is a TIFF that Pillow can't decode: .*probably cut short"):
        decode_image(tiff(pages=2)[:60], "cut.tif")
    with pytest.raises(InputError, match="packed.tif is a TIFF that Pillow can't decode: its Zstandard pixel data "
                                         "fails to decode .*probably damaged"):
        decode_image(tiff(compression=50000), "packed.tif")  # zeros are no Zstandard stream


@pytest.mark.parametrize("header, kind", [(b"\0\0\0\x18ftypheic", "an HEIC"), (b"%PDF-1.7", "a PDF")])
def test_a_known_unsupported_format_is_named(header, kind):
    with pytest.raises(InputError, match=f"photo is not an image in a supported format .*It is {kind} file."):
        decode_image(header + bytes(64), "photo")


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    landscape = Image.new("RGB", (40, 20))
    img = decode_image(encode(landscape, "JPEG", exif=exif.tobytes()), "phone.jpg")
    assert img.size == (20, 40)


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (6, 6), color) for color in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    pixel = to_array(decode_image(data, "anim.gif"), 3)[0, 0]
    assert tuple(pixel) == (255, 0, 0)


# --- to_array ------------------------------------------------------------------------------


def test_gray_becomes_one_channel_or_three_equal_channels():
    gray = Image.fromarray(np.array([[0, 100], [200, 255]], dtype=np.uint8), "L")
    assert to_array(gray, 1)[..., 0].tolist() == [[0, 100], [200, 255]]
    rgb = to_array(gray, 3)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert (rgb == to_array(gray, 1)).all()


def test_color_becomes_gray_by_luminance():
    red = Image.new("RGB", (1, 1), (255, 0, 0))
    assert to_array(red, 1)[0, 0, 0] == 76  # ITU-R 601-2 luma of pure red


def test_transparent_areas_behind_a_light_shape_become_black():
    rgba = Image.new("RGBA", (2, 1), (250, 200, 150, 255))
    rgba.putpixel((1, 0), (250, 200, 150, 0))
    result = to_array(rgba, 3)
    assert tuple(result[0, 0]) == (250, 200, 150)
    assert tuple(result[0, 1]) == (0, 0, 0)
    assert transparency_backdrop(rgba) == "black"


def test_half_transparent_light_pixels_are_composited_onto_black():
    assert tuple(to_array(Image.new("RGBA", (1, 1), (250, 200, 150, 128)), 3)[0, 0]) == (125, 100, 75)
    assert to_array(Image.new("LA", (1, 1), (200, 128)), 1)[0, 0, 0] == 100


def test_black_ink_on_a_transparent_sheet_is_composited_onto_white():
    """A digit drawn in black on a transparent PNG: composited onto black it would be all black."""
    sheet = np.zeros((8, 8, 4), dtype=np.uint8)
    sheet[2:6, 3:5] = (0, 0, 0, 255)  # the ink; everything else is transparent black
    img = decode_image(encode(Image.fromarray(sheet, "RGBA")), "digit.png")
    gray = to_array(img, 1)[..., 0]
    assert (gray[2:6, 3:5] == 0).all() and (gray[0] == 255).all()
    assert transparency_backdrop(img) == "white"
    assert transparency_backdrop(Image.new("RGB", (1, 1))) is None
    half = Image.new("LA", (1, 1), (0, 128))  # half-transparent black ink
    assert to_array(half, 1)[0, 0, 0] == 127


def test_palette_images_with_and_without_a_transparent_index():
    img = Image.new("P", (2, 1))
    img.putpalette([10, 20, 30, 250, 0, 0])
    img.putpixel((1, 0), 1)
    assert to_array(img, 3)[0].tolist() == [[10, 20, 30], [250, 0, 0]]
    transparent = decode_image(encode(img, "PNG", transparency=1), "p.png")
    assert to_array(transparent, 3)[0].tolist() == [[10, 20, 30], [255, 255, 255]]  # dark ink: white behind


def test_cmyk_becomes_rgb():
    cyan_free_red = Image.new("CMYK", (1, 1), (0, 255, 255, 0))
    decoded = decode_image(encode(cyan_free_red, "TIFF"), "print.tif")
    assert decoded.mode == "CMYK"
    assert tuple(to_array(decoded, 3)[0, 0]) == (255, 0, 0)


def test_bilevel_images_become_black_and_white():
    img = Image.new("1", (2, 1))
    img.putpixel((1, 0), 1)
    assert to_array(img, 1)[0, :, 0].tolist() == [0, 255]


def test_16_bit_images_are_scaled_to_8_bits_by_their_range_not_clipped():
    values = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(values), "PNG"), "scan.png")
    assert decoded.mode.startswith("I;16")
    assert to_array(decoded, 1)[..., 0].tolist() == [[0, 64], [128, 255]]


def test_32_bit_and_float_images_are_scaled_to_8_bits():
    ints = Image.fromarray(np.array([[0, 70000]], dtype=np.int32), "I")
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    assert to_array(ints, 1)[..., 0].tolist() == [[0, 255]]
    assert to_array(floats, 3)[0, :, 0].tolist() == [0, 128, 255]


def test_negative_and_non_finite_float_pixels_are_scaled_without_warnings():
    floats = Image.fromarray(np.array([[-1.0, 0.0, 1.0, np.nan, np.inf]], dtype=np.float32), "F")
    assert to_array(floats, 1)[0, :, 0].tolist() == [0, 128, 255, 128, 128]


def test_only_one_or_three_channels_can_be_asked_for():
    with pytest.raises(InputError, match="channels must be 1 or 3"):
        to_array(Image.new("RGB", (2, 2)), 4)


# --- image_channels --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I", "F", "I;16"])
def test_gray_modes_have_one_channel(mode):
    assert image_channels(Image.new(mode, (2, 2))) == 1


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "CMYK"])
def test_color_modes_have_three_channels(mode):
    assert image_channels(Image.new(mode, (2, 2))) == 3


def test_a_palette_image_is_gray_only_if_the_colors_it_uses_are_gray():
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 90, 90, 90, 255, 0, 0])
    img.putpixel((1, 0), 1)
    assert image_channels(img) == 1
    img.putpixel((1, 0), 2)
    assert image_channels(img) == 3


# --- resize_with_pad -------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_a_wide_image_is_fitted_to_the_width_and_padded_above_and_below(channels):
    wide = np.full((20, 40, channels), 200, dtype=np.uint8)
    out = resize_with_pad(wide, 16)
    assert out.shape == (16, 16, channels) and out.dtype == np.uint8
    assert (out[:4] == 0).all() and (out[12:] == 0).all()
    assert (out[4:12] == 200).all()


def test_a_tall_image_is_fitted_to_the_height_and_padded_left_and_right():
    tall = np.full((30, 10, 3), 255, dtype=np.uint8)
    out = resize_with_pad(tall, 12)
    assert (out[:, :4] == 0).all() and (out[:, 8:] == 0).all()
    assert (out[:, 4:8] == 255).all()


def test_a_square_image_is_scaled_up_or_down_without_padding():
    square = np.full((5, 5, 1), 77, dtype=np.uint8)
    assert (resize_with_pad(square, 20) == 77).all()
    assert (resize_with_pad(np.full((100, 100, 1), 77, dtype=np.uint8), 7) == 77).all()


def test_downscaling_is_antialiased():
    stripes = np.zeros((64, 64, 1), dtype=np.uint8)
    stripes[:, ::2] = 255
    out = resize_with_pad(stripes, 8)
    assert 100 < out.min() and out.max() < 156  # point sampling would give only 0 and 255


# --- drawings from the canvas ------------------------------------------------------------


def canvas_png(strokes) -> bytes:
    """A 280x280 white canvas with black filled rectangles (top, left, bottom, right)."""
    canvas = np.full((280, 280), 255, dtype=np.uint8)
    for top, left, bottom, right in strokes:
        canvas[top:bottom, left:right] = 0
    return encode(Image.fromarray(canvas), "PNG")


def test_a_png_data_url_decodes_to_its_bytes():
    import base64

    png = canvas_png([(10, 10, 20, 20)])
    assert decode_data_url("data:image/png;base64," + base64.b64encode(png).decode()) == png


@pytest.mark.parametrize("url, message", [
    (None, "PNG data URL"),
    ("data:text/html;base64,PGI+", "PNG data URL"),
    ("data:image/png;base64,not base64!", "not valid base64"),
    ("data:image/png;base64," + "A" * MAX_DATA_URL_CHARS, "more than the"),
])
def test_anything_but_a_reasonable_png_data_url_is_refused(url, message):
    with pytest.raises(InputError, match=message):
        decode_data_url(url)


def test_a_small_off_centre_drawing_is_cropped_and_centred_like_an_mnist_digit():
    framed = to_array(decode_image(frame_drawing(canvas_png([(200, 20, 260, 50)]))), 1)[..., 0]
    side = framed.shape[0]
    assert framed.shape == (side, side) and side == round(60 / DIGIT_FILL)  # the 60 px tall stroke fills 20/28
    rows, columns = np.nonzero(framed < 128)
    assert rows.max() - rows.min() + 1 == 60 and columns.max() - columns.min() + 1 == 30
    assert abs(rows.mean() - (side - 1) / 2) <= 1 and abs(columns.mean() - (side - 1) / 2) <= 1
    assert framed[0].min() == 255  # the background stays white: dark ink on light paper


def test_the_centre_of_mass_not_the_box_is_centred():
    framed = to_array(decode_image(frame_drawing(canvas_png([(100, 100, 160, 110), (100, 110, 110, 160)]))), 1)[..., 0]
    rows, columns = np.nonzero(framed < 128)
    centre = (framed.shape[0] - 1) / 2
    assert abs(rows.mean() - centre) <= 1 and abs(columns.mean() - centre) <= 1
    assert rows.min() > 0 and columns.min() > 0  # but the ink stays inside the frame


def test_an_empty_or_barely_marked_canvas_is_refused():
    blank = np.full((280, 280), 250, dtype=np.uint8)
    blank[5, 5] = 240
    for png in (canvas_png([]), encode(Image.fromarray(blank), "PNG")):
        with pytest.raises(InputError, match="empty: draw something"):
            frame_drawing(png)
