"""What a page shows when its code fails: one line for the person, the traceback for the server log."""

import contextlib
import logging
import uuid

import streamlit as st
from streamlit.errors import FragmentHandledException

from cnnkit.explorer import plain_text
from cnnkit.errors import InputError

log = logging.getLogger("cnnkit.app")
MESSAGE_CHARS = 200  # the error's own message is cut to this many characters on the page


@contextlib.contextmanager
def guarded(where: str, slot=None):
    """Run the block (a page, or a fragment when used as a decorator); an `InputError` shows its
    message, any other exception one line naming a reference that the log repeats with the traceback.

    `slot`: a placeholder for the line (e.g. at the top of the page), else it goes where the block stopped.
    Streamlit's st.stop, st.rerun and st.switch_page raise BaseExceptions, which pass through, as
    does a failure Streamlit's own fragment handling has already shown.
    """
    try:
        yield
    except FragmentHandledException:
        raise
    except InputError as error:
        (slot or st).error(plain_text.markdown(error), icon=":material/error:")
    except Exception as error:
        reference = uuid.uuid4().hex[:8]
        log.exception("Error %s in %s", reference, where)
        message = " ".join(str(error).split())
        if len(message) > MESSAGE_CHARS:
            message = message[: MESSAGE_CHARS - 1] + "…"
        (slot or st).error(f"Something went wrong, so this stopped here: {type(error).__name__}"
                           + (f": {plain_text.markdown(message)}" if message else "")
                           + f" (logged on the server as error {reference}).",
                           icon=":material/error:")
