"""Text from a scenario file, made safe for the pages `muxlab site` writes.

A scenario and its lesson text may come from anyone (a teacher's folder, a download), and the
site is HTML that other people open: nothing from the file may become markup, a script or a
link the reader cannot see. MkDocs' Markdown (Python-Markdown) passes raw HTML through and
keeps ``javascript:`` links, so file text never reaches it as Markdown. Two forms instead:

- `prose` (narration, questions, summaries, lesson texts, recap lines): rendered to HTML here
  by markdown-it (what rich, and so the terminal, reads the same text with) with raw HTML off,
  so ``<script>`` is shown as text; only ``https://`` links stay links (others become their
  text, which also drops relative links that would not resolve on the site); an image becomes
  its alt text (no request to someone else's server when a page opens); headings move down two
  levels, under the page's own. The page holds the result as a raw HTML block.
- `literal` (a title in a heading or a link's text): Markdown that shows exactly the characters
  given -- every character Markdown or HTML could read is escaped.

`without_title` drops the heading a lesson text opens with when it repeats the page's title.
All three cost O(len(text)).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

#: Characters Python-Markdown reads as syntax and takes back with a backslash (its
#: ``ESCAPED_CHARS``, with the tables extension's ``|``); escaping any other shows the backslash.
_MARKDOWN = frozenset("\\`*_{}[]()>#+-.!|")
#: Characters that are HTML: written as character references.
_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


def literal(text: str) -> str:
    """Inline Markdown that shows `text` as it is (one line; newlines become spaces).

    >>> literal("<b>*x*</b>")
    '&lt;b&gt;\\\\*x\\\\*&lt;/b&gt;'
    """
    out = []
    for char in " ".join(text.splitlines()):
        if char in _HTML:
            out.append(_HTML[char])
        elif char in _MARKDOWN:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def attribute(text: str) -> str:
    """`text` for an HTML attribute's or element's content (``html.escape``)."""
    return html.escape(text, quote=True)


def prose(text: str, *, inline: bool = False) -> str:
    """The HTML of Markdown `text` from a file: no raw HTML, https links only, no images,
    headings two levels down. `inline`: one paragraph's content, without the ``<p>``."""
    env: dict[str, object] = {}
    tokens = _md.parseInline(text, env) if inline else _md.parse(text, env)
    for token in tokens:
        if token.type == "heading_open" or token.type == "heading_close":
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
        if token.children:
            token.children = _safe_inline(token.children)
    return str(_md.renderer.render(tokens, _md.options, env))


def without_title(text: str, title: str) -> str:
    """`text` without the heading it opens with, if that heading says `title` (``# Title`` or
    ``Title`` underlined with ``===``; case and spacing aside): the page already has the title
    as its own heading. Any other text is returned as it is. O(len(text))."""
    tokens = _md.parse(text)
    if len(tokens) < 2 or tokens[0].type != "heading_open" or tokens[0].map is None:
        return text
    said = "".join(child.content for child in tokens[1].children or ())
    if _words(said) != _words(title):
        return text
    return "\n".join(text.splitlines()[tokens[0].map[1] :]).lstrip("\n")


def _words(text: str) -> list[str]:
    return text.casefold().split()


def _safe_inline(children: Sequence[Token]) -> list[Token]:
    """Inline tokens with non-https links unwrapped and images replaced by their alt text."""
    kept: list[Token] = []
    dropped: list[bool] = []  # for each open link: whether it was unwrapped
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            unwrap = not href.startswith("https://")
            dropped.append(unwrap)
            if unwrap:
                continue
            token.attrSet("rel", "noopener noreferrer")
        elif token.type == "link_close":
            if dropped.pop():
                continue
        elif token.type == "image":
            alt = Token("text", "", 0)
            alt.content = token.content
            token = alt
        kept.append(token)
    return kept
