from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def test_the_app_renders_the_registries_without_errors():
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "cnnkit"
    names = set(app.dataframe[0].value["name"])
    assert {"mnist_cnn", "resnet_small"} <= names
