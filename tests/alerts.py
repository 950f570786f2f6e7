"""What an alert (st.error, st.warning, st.toast) says, as a person reads it.

Pages pass messages through `plain_text.markdown`, so text a person typed shows as itself; AppTest
hands tests the markdown source, escapes included. `alert_text` reads it as rendered text.
"""

import re


def alert_text(element) -> str:
    """The element's text with markdown's backslash escapes read as the characters they stand for."""
    return re.sub(r"\\(.)", r"\1", element.value)
