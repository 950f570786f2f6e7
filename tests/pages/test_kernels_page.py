"""The Kernels page, through Streamlit's AppTest: its pictures, the Canny option, uploads."""

import io

import pytest
from alerts import alert_text


@pytest.fixture()
def kernels(app):
    """The Kernels page, rendered once, on a throwaway tracking store."""
    return app.switch_page("app_pages/kernels.py").run()


def grid_titles(at) -> list[str]:
    """The captions of the pictures shown, in order."""
    return [caption for image in at.image for caption in image.captions]


def test_every_result_is_a_png_picture_two_to_a_row_and_no_plotly_pixels(kernels):
    assert grid_titles(kernels) == ["original", "sharpen", "blur", "blur_sharpen", "edges", "canny", "your kernel"]
    assert not kernels.get("plotly_chart")
    assert all(url.endswith(".png") for image in kernels.image for url in image.value)
    rows = [block for block in kernels.main.children.values() if block.type == "flex_container"
            and any(child.children and next(iter(child.children.values())).type == "image"
                    for child in block.children.values())]
    assert [len(row.children) for row in rows] == [2, 2, 2, 2]


def test_a_big_upload_is_filtered_scaled_down_and_says_so(kernels):
    from PIL import Image

    photo = io.BytesIO()
    Image.new("RGB", (3000, 1500), (90, 120, 200)).save(photo, format="PNG")
    kernels.file_uploader(key="kernels.upload").upload("big.png", photo.getvalue(), "image/png").run()
    assert not kernels.exception and not kernels.error
    assert any(caption.value == "Filtered at 1024×512, scaled down from 3000×1500." for caption in kernels.caption)


def test_canny_is_offered_next_to_sobel_and_shown_in_the_grid(kernels):
    assert not kernels.exception
    assert kernels.multiselect(key="kernels.edges").value == ["Sobel", "Canny"]
    for title in ("original", "edges", "canny", "your kernel"):
        assert title in grid_titles(kernels), title
    sliders = {slider.key: slider for slider in kernels.slider}
    assert {"kernels.canny_sigma", "kernels.canny_low", "kernels.canny_high"} <= set(sliders)
    assert all(sliders[key].help for key in ("kernels.canny_sigma", "kernels.canny_low", "kernels.canny_high"))


def test_canny_settings_rerender_the_grid(kernels):
    kernels.slider(key="kernels.canny_sigma").set_value(2.5)
    kernels.slider(key="kernels.canny_high").set_value(0.5).run()
    assert not kernels.exception and not kernels.error
    assert "canny" in grid_titles(kernels)


def test_a_low_threshold_above_the_high_one_is_explained_not_drawn(kernels):
    kernels.slider(key="kernels.canny_low").set_value(0.6)
    kernels.slider(key="kernels.canny_high").set_value(0.3).run()
    assert not kernels.exception
    assert any("low threshold" in alert_text(error) for error in kernels.error)
    assert "canny" not in grid_titles(kernels)
    assert "your kernel" in grid_titles(kernels)  # the other filters still show


def test_leaving_out_canny_hides_its_sliders_and_its_picture(kernels):
    kernels.multiselect(key="kernels.edges").set_value(["Sobel"]).run()
    assert not kernels.exception
    assert "canny" not in grid_titles(kernels) and "edges" in grid_titles(kernels)
    assert not any(slider.key.startswith("kernels.canny") for slider in kernels.slider)


def test_the_picture_shown_is_the_last_one_chosen_a_sample_after_an_upload_included(kernels):
    from PIL import Image

    photo = io.BytesIO()
    Image.new("RGB", (3000, 1500), (90, 120, 200)).save(photo, format="PNG")
    kernels.file_uploader(key="kernels.upload").upload("big.png", photo.getvalue(), "image/png").run()
    assert kernels.radio(key="kernels.sample").value == "your upload"  # an upload picks itself
    assert any(caption.value.startswith("Filtered at 1024×512") for caption in kernels.caption)
    kernels.radio(key="kernels.sample").set_value("flower").run()  # did nothing while the upload was there
    assert not kernels.exception
    assert not any(caption.value.startswith("Filtered at") for caption in kernels.caption)
    assert kernels.file_uploader(key="kernels.upload").value is not None  # kept, to pick again
    kernels.radio(key="kernels.sample").set_value("your upload").run()
    assert any(caption.value.startswith("Filtered at 1024×512") for caption in kernels.caption)


def test_choosing_your_upload_without_one_asks_for_it(kernels):
    kernels.radio(key="kernels.sample").set_value("your upload").run()
    assert not kernels.exception and not kernels.image
    assert [alert_text(info) for info in kernels.info] == ["Upload a picture on the right, or pick a sample."]
