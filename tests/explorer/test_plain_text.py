"""cnnkit.explorer.plain_text: typed text shown as itself in Streamlit markdown and in Plotly's HTML subset."""

import re

import pytest
from markdown_it import MarkdownIt

from cnnkit.explorer import plain_text

HOSTILE = ["<img src=x onerror=alert(1)>", "**bold**", "[link](http://x)", "# heading", "$x$", "`code`",
           ":red[red] :material/home:", "a_b_c *i* ~~s~~", "1. list", "12) list", "> quote", "- item", "+ item", "---",
           "back\\slash", "two\nlines", "&amp; &#60;", "a | b", "![img](x)", "<http://x>", "digits-best v1.0 (run 2)"]


@pytest.mark.parametrize("text", [*HOSTILE, "    indented"])
def test_markdown_escaped_text_renders_as_one_paragraph_of_exactly_its_characters(text):
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(plain_text.markdown(text))
    flat = " ".join(text.splitlines()).strip()
    html_escaped = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert rendered == f"<p>{html_escaped}</p>\n"


def test_plotly_escaped_text_holds_no_tag_and_no_bare_entity():
    escaped = plain_text.plotly("<b>bold</b> & <a href='x'>link</a> &lt;")
    assert "<" not in escaped and ">" not in escaped
    assert escaped == "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href='x'&gt;link&lt;/a&gt; &amp;lt;"
    assert not re.search(r"&(?!amp;|lt;|gt;)", escaped)


def test_markdown_escapes_only_what_could_format_so_plain_names_read_as_typed():
    assert plain_text.markdown("digits-best v1.0 (run 2)") == "digits-best v1.0 (run 2)"
    assert plain_text.markdown("**bold**") == "\\*\\*bold\\*\\*"
