"""`LinesView`: the line-API base of the views that can grow without bound.

A subclass says how many lines it has (`line_count`) and how to draw one (`make_line`);
`LinesView` renders only the lines on screen, caches their `Strip`s until `reset`, and keeps
`virtual_size` in step so the scrollbars are right. Repainting costs O(visible lines) however
long the content is: an fd table of a million rows costs what one of ten does.

While `frozen` is set (a worker is moving the runner, so the model must not be read) the cached
lines are kept even across a resize and lines not in the cache are drawn blank; `frozen` is
cleared by the next `reset`. Only views that read the model lazily need freezing.

A new line count (`virtual_size`) asks Textual for a layout, which reflows the whole screen,
only when it can move something: a view whose height follows its content (``height: auto``),
a new width, or a scrollbar that comes or goes. Otherwise (a table or a trace of fixed height
whose scrollbar stays) the view updates its scrollbar and scroll range itself, as the layout
would have (`_set_canvas`): the fd table and the micro-steps change their line count at almost
every step, and each such layout was a reflow of every widget. And `reset` repaints only the
lines on screen that changed: it draws the new ones at once and compares them with those drawn
before (`_changed_rows`), so a step that changes two rows of the fd table repaints two rows; a
line whose text and style are those its strip was drawn from keeps the strip (an animation's
tick changes a row or two of the fd table, and each row drawn again cost a rendering).

`hanging_wrap` breaks a text into lines of a width, the lines after the first indented: the
views wrap their text with it rather than cut it short.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

#: Cached strips beyond this many are dropped (a long scroll should not grow memory).
_CACHE_LIMIT = 2048


def hanging_wrap(text: Text, width: int, indent: int) -> list[Text]:
    """`text` in lines of at most `width` cells, broken at spaces where it can be, the lines
    after the first indented by `indent` (a word longer than a line is split).

    >>> [line.plain for line in hanging_wrap(Text("12 list.splice rdllist to txlist"), 20, 3)]
    ['12 list.splice', '   rdllist to txlist']
    """
    plain = text.plain
    lines: list[Text] = []
    start, room = 0, width
    while True:
        rest = plain[start:]
        if cell_len(rest) <= room:
            lines.append(text[start:])
            break
        end = start + _fitting(rest, room)
        space = plain.rfind(" ", start + 1, end + 1)
        if space > start:
            end = space
        line = text[start:end]
        line.rstrip()
        lines.append(line)
        start = end
        while start < len(plain) and plain[start] == " ":
            start += 1
        room = max(1, width - indent)
    for line in lines[1:]:
        line.pad_left(indent)
    return lines


def _fitting(text: str, room: int) -> int:
    """How many characters of `text` fit in `room` cells (at least one)."""
    if text.isascii() and text.isprintable():
        return max(1, min(len(text), room))
    used = 0
    for count, char in enumerate(text):
        used += cell_len(char)
        if used > room:
            return max(1, count)
    return len(text)


def _same(source: tuple[Text, Style], text: Text, style: Style) -> bool:
    """Whether a line drawn from `source` is the one `text` on `style` would draw (a `Text`
    compares its characters and spans, not its own style)."""
    before, before_style = source
    return before == text and before.style == text.style and before_style == style


class LinesView(ScrollView, can_focus=True):
    """Line-API base class (see the module docstring)."""

    DEFAULT_CSS = """
    LinesView {
        background: transparent;
        height: auto;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._strips: dict[int, Strip] = {}
        self._sources: dict[int, tuple[Text, Style]] = {}  # what each strip was drawn from
        self._strips_width = -1
        self.frozen = False

    # --- what subclasses provide ---------------------------------------------------------

    def line_count(self) -> int:
        """How many lines the content has."""
        return 0

    def make_line(self, index: int, width: int) -> Text:
        """Line `index` of the content, for a view `width` cells wide."""
        return Text()

    # --- machinery -----------------------------------------------------------------------

    def reset(self) -> None:
        """The content changed: forget cached lines, resize the virtual canvas, and repaint
        the lines on screen that changed (all of them when what is on screen is not known).
        O(lines on screen)."""
        self.frozen = False
        painted, painted_count, sources = self._strips, self.virtual_size.height, self._sources
        self._strips, self._sources = {}, {}
        self._set_canvas(Size(self._content_width(), self.line_count()))
        changed = self._changed_rows(painted, painted_count, sources)
        if changed is None:
            self.refresh()
            return
        width = self._content_width()
        for row in changed:
            self.refresh(Region(0, row, width, 1))

    def _changed_rows(
        self,
        painted: dict[int, Strip],
        painted_count: int,
        sources: dict[int, tuple[Text, Style]],
    ) -> list[int] | None:
        """The rows on screen whose line differs from the one `painted` (the lines drawn
        before a `reset`, by index, of `painted_count`, from `sources`), drawing the new ones;
        None when what is on screen is not known (a new width, a line drawn but no longer
        kept). A line whose text and style are those it was drawn from keeps its strip: most
        rows of the fd table are the same from one micro-step to the next."""
        width = self._content_width()
        if width != self._strips_width:
            return None
        top = self.scroll_offset.y
        style = self.rich_style  # once for all the rows: it walks every ancestor's styles
        count = self.line_count()
        changed = []
        for row in range(self.scrollable_content_region.height):
            index = top + row
            old = painted.get(index)
            if old is None and index < painted_count:
                return None
            strip = None
            if index < count:
                text = self._fit(self.make_line(index, width), width)
                source = sources.get(index)
                if old is not None and source is not None and _same(source, text, style):
                    strip = old
                else:
                    strip = self._draw(text, width, style)
                self._keep(index, strip, text, style)
            if strip != old:
                changed.append(row)
        return changed

    def _strip_at(self, index: int, width: int, style: Style) -> Strip | None:
        """Line `index` drawn `width` cells wide on the widget's `style` (kept until the next
        `reset`); None past the last line (drawn blank)."""
        strip = self._strips.get(index)
        if strip is None and index < self.line_count():
            text = self._fit(self.make_line(index, width), width)
            strip = self._draw(text, width, style)
            self._keep(index, strip, text, style)
        return strip

    def _keep(self, index: int, strip: Strip, text: Text, style: Style) -> None:
        """Cache line `index`'s strip and what it was drawn from (see `_CACHE_LIMIT`)."""
        if len(self._strips) >= _CACHE_LIMIT:
            self._strips.clear()
            self._sources.clear()
        self._strips[index] = strip
        self._sources[index] = (text, style)

    def fit_canvas(self) -> None:
        """The line count changed without the content changing (lines that wrap at a new
        width): resize the virtual canvas, keeping the cached lines."""
        if not self.frozen:
            self.virtual_size = Size(self._content_width(), self.line_count())
            self.refresh(layout=True)

    def _set_canvas(self, size: Size) -> None:
        """Make `size` the virtual canvas; ask for a layout only when it can move something
        (see the module docstring). Without one, do what the layout would: the scrollbar's
        range and the scroll offset follow the new height."""
        old = self.virtual_size
        if size == old:
            return
        styles = self.styles
        bar = size.height > self.container_size.height  # Textual's rule for overflow-y: auto
        if (
            styles.is_auto_height
            or styles.overflow_y != "auto"
            or styles.overflow_x != "hidden"
            or size.width != old.width
            or bar != self.show_vertical_scrollbar
        ):
            self.virtual_size = size
            return
        self.set_reactive(Widget.virtual_size, size)
        if bar:
            self.vertical_scrollbar.window_virtual_size = size.height
        self.scroll_y = self.scroll_y  # validated: kept within the new range

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.line_count()

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def on_resize(self) -> None:
        if not self.frozen:
            self._strips.clear()
            self._sources.clear()
            self._set_canvas(Size(self._content_width(), self.line_count()))

    def strip_of(self, text: Text, width: int, style: Style | None = None) -> Strip:
        """`text` as one line of `width` cells (cut with an ellipsis if it is longer), on
        `style` (the widget's `rich_style` if not given: a caller drawing many lines at once
        passes it, as computing it walks the styles of every ancestor)."""
        return self._draw(
            self._fit(text, width), width, self.rich_style if style is None else style
        )

    @staticmethod
    def _fit(text: Text, width: int) -> Text:
        """`text` made one line of at most `width` cells, cut with an ellipsis (in place)."""
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.truncate(width, overflow="ellipsis")
        return text

    def _draw(self, text: Text, width: int, style: Style) -> Strip:
        """A fitted `text` as a strip of `width` cells on `style`."""
        # The widget's own style goes under the line, so cells without a colour of their own
        # get the widget's background (not the terminal's default).
        segments = list(text.render(self.app.console))
        strip = Strip(segments).apply_style(style).extend_cell_length(width, style)
        return strip.crop(0, width)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self._content_width()
        if width != self._strips_width and not self.frozen:
            self._strips.clear()
            self._sources.clear()
            self._strips_width = width
        style = self.rich_style
        strip = self._strips.get(index) if self.frozen else self._strip_at(index, width, style)
        if strip is None:
            return Strip.blank(width, style)
        return strip.extend_cell_length(scroll_x + width, style).crop(scroll_x, scroll_x + width)
