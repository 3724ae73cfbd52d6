//! A scrolled page: paragraphs and tables under one scroll position.
//!
//! A step page is taller than its pane and has tables (ratatui `Table`)
//! between its paragraphs. Text is wrapped here rather than by `Paragraph`
//! for two reasons: a wrapped line keeps its indent (it hangs two columns
//! further in, so it reads as one item), and the page knows its height, so
//! scrolling stops at the end instead of running into empty space.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, StatefulWidget, Table, TableState, Widget};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// What was drawn, for the model: how far the page can scroll and how many
/// rows it shows (a page up or down moves by that much).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub max_scroll: u16,
    pub rows: u16,
}

#[derive(Default)]
pub(crate) struct Page<'a> {
    parts: Vec<Part<'a>>,
}

enum Part<'a> {
    Text(Vec<Line<'a>>),
    /// A table drawn whole (`height` rows, header included) at its place.
    Table {
        table: Box<Table<'a>>,
        height: u16,
    },
}

impl<'a> Page<'a> {
    /// The text after the last table, where lines are added.
    pub(crate) fn lines(&mut self) -> &mut Vec<Line<'a>> {
        if !matches!(self.parts.last(), Some(Part::Text(_))) {
            self.parts.push(Part::Text(Vec::new()));
        }
        match self.parts.last_mut() {
            Some(Part::Text(lines)) => lines,
            // Pushed just above.
            _ => unreachable!("the last part is text"),
        }
    }

    pub(crate) fn push(&mut self, line: impl Into<Line<'a>>) {
        self.lines().push(line.into());
    }

    /// A table `height` rows high, header included.
    pub(crate) fn table(&mut self, table: Table<'a>, height: u16) {
        self.parts.push(Part::Table {
            table: Box::new(table),
            height,
        });
    }

    /// Draw the page from row `scroll` (clamped so the last row ends the
    /// pane) into `area`.
    pub(crate) fn render(self, area: Rect, buf: &mut Buffer, scroll: u16) -> Extent {
        let width = area.width;
        let parts: Vec<(Part, u16)> = self
            .parts
            .into_iter()
            .map(|p| match p {
                Part::Text(lines) => {
                    let wrapped: Vec<Line> =
                        lines.into_iter().flat_map(|l| wrap(l, width)).collect();
                    let height = u16::try_from(wrapped.len()).unwrap_or(u16::MAX);
                    (Part::Text(wrapped), height)
                }
                Part::Table { table, height } => (Part::Table { table, height }, height),
            })
            .collect();
        let total = parts
            .iter()
            .fold(0u16, |sum, (_, h)| sum.saturating_add(*h));
        let max_scroll = total.saturating_sub(area.height);
        let scroll = scroll.min(max_scroll);
        let (view_top, view_end) = (scroll, scroll.saturating_add(area.height));
        let mut top = 0u16;
        for (part, height) in parts {
            let end = top.saturating_add(height);
            let (from, to) = (top.max(view_top), end.min(view_end));
            if from < to {
                let skip = from - top;
                let rect = Rect::new(area.x, area.y + (from - view_top), width, to - from);
                match part {
                    Part::Text(lines) => {
                        let shown: Vec<Line> = lines
                            .into_iter()
                            .skip(usize::from(skip))
                            .take(usize::from(to - from))
                            .collect();
                        Paragraph::new(shown).render(rect, buf);
                    }
                    Part::Table { table, height } => {
                        draw_table(table, height, skip, rect, buf);
                    }
                }
            }
            top = end;
        }
        Extent {
            max_scroll,
            rows: area.height,
        }
    }
}

/// A table drawn whole off screen, then its rows from `skip` copied into
/// `rect`: a table half scrolled out of the pane shows its lower half
/// rather than scrolling its own rows.
fn draw_table(table: Box<Table>, height: u16, skip: u16, rect: Rect, buf: &mut Buffer) {
    let mut whole = Buffer::empty(Rect::new(0, 0, rect.width, height));
    let area = whole.area;
    StatefulWidget::render(*table, area, &mut whole, &mut TableState::default());
    for row in 0..rect.height {
        for col in 0..rect.width {
            if let (Some(from), Some(to)) = (
                whole.cell((col, row + skip)),
                buf.cell_mut((rect.x + col, rect.y + row)),
            ) {
                *to = from.clone();
            }
        }
    }
}

/// One line as rows of at most `width` columns, broken at spaces where it
/// can be. Continuation rows of an indented line hang two columns deeper
/// than its indent (at most half the width); an unindented line wraps flush.
/// Rows keep the line's style and each span's style. Widths are measured per
/// grapheme, as ratatui draws them (an emoji with its variation selector is
/// two columns and never split).
pub(crate) fn wrap(line: Line<'_>, width: u16) -> Vec<Line<'static>> {
    let indent = line
        .spans
        .iter()
        .flat_map(|s| s.content.chars())
        .take_while(|c| *c == ' ')
        .count();
    // Prose (no indent) wraps flush; an indented item hangs under its text.
    let hang = if indent == 0 { 0 } else { indent + 2 };
    wrap_hanging(line, width, hang)
}

/// Like [`wrap`], every continuation row `hang` columns in (at most half the
/// width): for lists of items that are not indented themselves.
pub(crate) fn wrap_hanging(line: Line<'_>, width: u16, hang: usize) -> Vec<Line<'static>> {
    let width = usize::from(width);
    if width == 0 || line.width() <= width {
        // Most lines fit: no need to take them apart.
        let spans: Vec<Span<'static>> = line
            .spans
            .iter()
            .map(|s| Span::styled(s.content.to_string(), s.style))
            .collect();
        return vec![Line::from(spans).style(line.style)];
    }
    let graphemes: Vec<Grapheme> = line
        .spans
        .iter()
        .flat_map(|s| {
            s.content.graphemes(true).map(move |g| Grapheme {
                text: g,
                cols: g.width(),
                space: g == " ",
                style: s.style,
            })
        })
        .collect();
    wrap_graphemes(&graphemes, width, hang.min(width / 2), line.style)
}

struct Grapheme<'a> {
    text: &'a str,
    cols: usize,
    space: bool,
    style: Style,
}

fn wrap_graphemes(g: &[Grapheme], width: usize, hang: usize, style: Style) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < g.len() {
        let lead = if out.is_empty() { 0 } else { hang };
        let room = width - lead;
        let (mut end, mut used, mut text_seen, mut space) = (start, 0, false, None);
        while end < g.len() && used + g[end].cols <= room {
            if g[end].space && text_seen {
                space = Some(end);
            }
            text_seen |= !g[end].space;
            used += g[end].cols;
            end += 1;
        }
        // Cut mid-word: back to the last space (a word that ends the room fits).
        if end < g.len() && !g[end].space {
            if let Some(at) = space {
                end = at;
            }
        }
        // A grapheme wider than the room still moves the line on.
        let end = end.max(start + 1);
        // An indent as wide as the row makes no row of its own.
        if text_seen || end >= g.len() {
            out.push(row(&g[start..end], lead, style));
        }
        start = end;
        while start < g.len() && g[start].space {
            start += 1;
        }
    }
    if out.is_empty() {
        // Nothing but spaces: one empty row.
        out.push(Line::default().style(style));
    }
    out
}

/// Graphemes as a line of spans (one per run of one style), after `lead`
/// spaces.
fn row(g: &[Grapheme], lead: usize, style: Style) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    if lead > 0 {
        spans.push(Span::raw(" ".repeat(lead)));
    }
    let mut run = String::new();
    let mut run_style = g.first().map(|x| x.style).unwrap_or_default();
    for x in g {
        if x.style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = x.style;
        run.push_str(x.text);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    Line::from(spans).style(style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Constraint;
    use ratatui::style::{Color, Modifier};
    use ratatui::widgets::{Cell, Row};

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_wrapped_line_keeps_its_indent() {
        let rows = wrap(Line::from("   one two three four five six"), 14);
        let rows: Vec<String> = rows.iter().map(text).collect();
        assert_eq!(
            rows,
            ["   one two", "     three", "     four five", "     six"]
        );
        for r in &rows {
            assert!(r.chars().count() <= 14, "{r:?}");
        }
    }

    #[test]
    fn an_emoji_with_its_selector_is_two_columns_and_never_split() {
        // U+263A with VS16 draws two columns wide, as ratatui measures it.
        let line = Line::from("ab \u{263a}\u{fe0f}\u{263a}\u{fe0f} cd");
        for width in 2..10 {
            let rows = wrap(line.clone(), width);
            assert!(
                rows.iter().all(|r| r.width() <= usize::from(width)),
                "{width}: {rows:?}"
            );
            let joined: String = rows.iter().map(text).collect();
            assert_eq!(
                joined.matches("\u{263a}\u{fe0f}").count(),
                2,
                "{width}: {rows:?}"
            );
        }
    }

    #[test]
    fn an_indent_as_wide_as_the_row_makes_no_empty_row() {
        let rows: Vec<String> = wrap(Line::from("        abc def"), 6)
            .iter()
            .map(text)
            .collect();
        assert!(rows.iter().all(|r| !r.trim().is_empty()), "{rows:?}");
        assert_eq!(
            rows.concat().split_whitespace().collect::<Vec<_>>(),
            ["abc", "def"]
        );
        // Only spaces: one row, kept as it is.
        assert_eq!(wrap(Line::from("          "), 4).len(), 1);
    }

    #[test]
    fn prose_wraps_flush() {
        let rows: Vec<String> = wrap(Line::from("one two three"), 8)
            .iter()
            .map(text)
            .collect();
        assert_eq!(rows, ["one two", "three"]);
    }

    #[test]
    fn short_lines_and_empty_lines_stay_one_row() {
        assert_eq!(wrap(Line::from("fits"), 10).len(), 1);
        assert_eq!(wrap(Line::default(), 10).len(), 1);
        assert_eq!(text(&wrap(Line::from("abc"), 0)[0]), "abc");
    }

    #[test]
    fn a_word_longer_than_the_width_is_cut_and_wide_characters_count_twice() {
        let rows: Vec<String> = wrap(Line::from("abcdefghij"), 4).iter().map(text).collect();
        assert_eq!(rows, ["abcd", "efgh", "ij"]);
        let rows: Vec<String> = wrap(Line::from(" abcdefgh"), 4).iter().map(text).collect();
        assert_eq!(rows, [" abc", "  de", "  fg", "  h"]);
        // Each CJK character takes two columns: three per six-column row.
        let rows = wrap(Line::from("日本語のテキスト"), 6);
        assert!(rows.iter().all(|r| r.width() <= 6), "{rows:?}");
        assert_eq!(
            rows.iter().map(text).collect::<String>().replace(' ', ""),
            "日本語のテキスト"
        );
    }

    #[test]
    fn styles_survive_the_wrap() {
        let red = Style::default().fg(Color::Red);
        let line = Line::from(vec![
            Span::raw(" ok "),
            Span::styled("alpha beta gamma", red),
        ])
        .style(Style::default().add_modifier(Modifier::BOLD));
        let rows = wrap(line, 12);
        assert!(rows.len() > 1);
        for r in &rows {
            assert!(r.style.add_modifier.contains(Modifier::BOLD));
        }
        let last = rows.last().unwrap();
        assert_eq!(last.spans.last().unwrap().style, red);
    }

    fn screen(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    fn sample() -> Page<'static> {
        let mut page = Page::default();
        page.push("first");
        page.push("second");
        let rows = (1..=3).map(|i| Row::new(vec![Cell::from(format!("row{i}"))]));
        page.table(
            Table::new(rows, [Constraint::Length(8)]).header(Row::new(vec![Cell::from("HEAD")])),
            4,
        );
        page.push("after");
        page
    }

    #[test]
    fn tables_sit_between_paragraphs_and_scroll_with_them() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        let extent = sample().render(buf.area, &mut buf, 0);
        assert_eq!(
            extent,
            Extent {
                max_scroll: 3,
                rows: 4
            }
        );
        assert_eq!(screen(&buf), ["first", "second", "HEAD", "row1"]);

        // Half the table scrolled out: its lower rows, not its own scrolling.
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        sample().render(buf.area, &mut buf, 3);
        assert_eq!(screen(&buf), ["row1", "row2", "row3", "after"]);
    }

    #[test]
    fn the_scroll_stops_at_the_end() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        let extent = sample().render(buf.area, &mut buf, u16::MAX);
        assert_eq!(extent.max_scroll, 3);
        assert_eq!(screen(&buf), ["row1", "row2", "row3", "after"]);

        // A page shorter than the pane does not scroll at all.
        let mut page = Page::default();
        page.push("only");
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        assert_eq!(page.render(buf.area, &mut buf, 9).max_scroll, 0);
        assert_eq!(screen(&buf)[0], "only");
    }
}
