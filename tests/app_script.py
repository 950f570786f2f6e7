"""The app's entry script, for `AppTest.from_file`. Its own module: `from conftest import APP` finds
whichever conftest.py was imported first under that name (tests/datasets/ has one too)."""

from pathlib import Path

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
