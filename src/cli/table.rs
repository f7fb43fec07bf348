//! Tables: on a terminal, aligned columns with a header row, measured in display width (CJK
//! and emoji count two), the widest flexible columns cut with an ellipsis to fit, detail lines
//! under a row; for scripts, one tab-separated line per row with values in full. Every cell is
//! escaped when it is made, so feed text cannot act on the terminal and a tab cannot split a
//! field. Rendering is pure; [`Table::print`] hands the lines to [`super::out`].

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::out::{Tone, Ui, raw_line};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column: its header, alignment, and whether it may be cut to fit the terminal.
#[derive(Debug, Clone)]
pub struct Column {
    header: &'static str,
    align: Align,
    flexible: bool,
}

impl Column {
    pub fn left(header: &'static str) -> Self {
        Self {
            header,
            align: Align::Left,
            flexible: false,
        }
    }

    pub fn right(header: &'static str) -> Self {
        Self {
            header,
            align: Align::Right,
            flexible: false,
        }
    }

    /// A column that gives up width when the row is too long (names, titles, URLs, errors).
    pub fn flexible(mut self) -> Self {
        self.flexible = true;
        self
    }
}

/// One value, escaped; `None` shows as `-` on a terminal and as an empty field for scripts.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    text: Option<String>,
    tone: Tone,
}

impl Cell {
    pub fn new(text: impl AsRef<str>) -> Self {
        Self {
            text: Some(feedwatch::text::for_terminal(text.as_ref()).into_owned()),
            tone: Tone::Plain,
        }
    }

    pub fn none() -> Self {
        Self::default()
    }

    pub fn opt<T: AsRef<str>>(text: Option<T>) -> Self {
        text.map_or_else(Self::none, Self::new)
    }

    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = tone;
        self
    }

    fn shown(&self, ui: &Ui) -> &str {
        match &self.text {
            Some(t) => t,
            None if ui.terminal => "-",
            None => "",
        }
    }
}

impl<T: std::fmt::Display> From<T> for Cell {
    fn from(v: T) -> Self {
        Cell::new(v.to_string())
    }
}

struct Row {
    cells: Vec<Cell>,
    /// Shown in full under the row, on a terminal only (scripts have the value in a column).
    details: Vec<String>,
}

pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Row>,
}

const GAP: usize = 2;
/// A flexible column is never cut below this (or its header, if wider).
const MIN_FLEX: usize = 8;
const DETAIL_INDENT: &str = "    ";

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(Row {
            cells,
            details: Vec::new(),
        });
    }

    /// A line under the last row (an error, a repair), escaped here.
    pub fn detail(&mut self, text: impl AsRef<str>) {
        if let Some(r) = self.rows.last_mut() {
            r.details
                .push(feedwatch::text::for_terminal(text.as_ref()).into_owned());
        }
    }

    pub fn print(&self, ui: &Ui) {
        for line in self.render(ui) {
            raw_line(&line);
        }
    }

    /// [`print`](Self::print), but a person sees `empty` instead of a bare header when there
    /// are no rows (scripts still get the header).
    pub fn print_or(&self, ui: &Ui, empty: &str) {
        if ui.terminal && self.rows.is_empty() {
            raw_line(empty);
        } else {
            self.print(ui);
        }
    }

    pub fn render(&self, ui: &Ui) -> Vec<String> {
        if ui.terminal {
            self.aligned(ui)
        } else {
            self.separated(ui)
        }
    }

    fn separated(&self, ui: &Ui) -> Vec<String> {
        let header = self.columns.iter().map(|c| c.header).collect::<Vec<_>>();
        let mut out = vec![header.join("\t")];
        for r in &self.rows {
            let cells: Vec<&str> = r.cells.iter().map(|c| c.shown(ui)).collect();
            out.push(cells.join("\t"));
        }
        out
    }

    fn aligned(&self, ui: &Ui) -> Vec<String> {
        let widths = self.widths(ui);
        let last = self.columns.len().saturating_sub(1);
        let line = |cells: Vec<(&str, Tone)>| -> String {
            let mut s = String::new();
            for (i, ((text, tone), col)) in cells.into_iter().zip(&self.columns).enumerate() {
                let cut = truncate(text, widths[i]);
                let pad = widths[i].saturating_sub(cut.width());
                let painted = tone.paint(&cut, ui.colour);
                match col.align {
                    Align::Right => {
                        s.push_str(&" ".repeat(pad));
                        s.push_str(&painted);
                    }
                    // The last column is not padded: no trailing blanks.
                    Align::Left if i == last => s.push_str(&painted),
                    Align::Left => {
                        s.push_str(&painted);
                        s.push_str(&" ".repeat(pad));
                    }
                }
                if i != last {
                    s.push_str(&" ".repeat(GAP));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = vec![line(
            self.columns
                .iter()
                .map(|c| (c.header, Tone::Heading))
                .collect(),
        )];
        for r in &self.rows {
            out.push(line(
                r.cells.iter().map(|c| (c.shown(ui), c.tone)).collect(),
            ));
            for d in &r.details {
                out.push(format!("{DETAIL_INDENT}{d}"));
            }
        }
        out
    }

    /// Each column's width: what its widest value needs, then the widest flexible columns
    /// narrowed one step at a time until the row fits the terminal (or none can give more).
    fn widths(&self, ui: &Ui) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r.cells[i].shown(ui).width())
                    .chain(std::iter::once(c.header.width()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let floor: Vec<usize> = self
            .columns
            .iter()
            .map(|c| c.header.width().max(MIN_FLEX))
            .collect();
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
        while total(&widths) > ui.width {
            let widest = (0..widths.len())
                .filter(|&i| self.columns[i].flexible && widths[i] > floor[i])
                .max_by_key(|&i| widths[i]);
            let Some(i) = widest else { break };
            widths[i] -= 1;
        }
        widths
    }
}

/// `text` cut to `max` display columns, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.width() <= max {
        return text.into();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(width: usize) -> Ui {
        Ui {
            terminal: true,
            colour: false,
            width,
        }
    }

    const PIPED: Ui = Ui {
        terminal: false,
        colour: false,
        width: 100,
    };

    fn sample() -> Table {
        let mut t = Table::new(vec![
            Column::left("NAME").flexible(),
            Column::left("STATE"),
            Column::right("ITEMS"),
        ]);
        t.row(vec!["agency-wire".into(), "ok".into(), 41.into()]);
        t.row(vec!["北京新闻".into(), "failing".into(), Cell::none()]);
        t.detail("error: HTTP 500");
        t
    }

    #[test]
    fn columns_line_up_by_display_width() {
        let lines = sample().render(&terminal(80));
        assert_eq!(
            lines,
            [
                "NAME         STATE    ITEMS",
                "agency-wire  ok          41",
                "北京新闻     failing      -",
                "    error: HTTP 500",
            ]
        );
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis_to_fit() {
        let mut t = Table::new(vec![Column::right("ID"), Column::left("TITLE").flexible()]);
        t.row(vec![
            7.into(),
            "China Emphasises Strategic Partnership With Russia".into(),
        ]);
        t.row(vec![8.into(), "🇨🇳 中俄战略伙伴关系 🇷🇺 Lavrov".into()]);
        let lines = t.render(&terminal(24));
        assert_eq!(lines[1], " 7  China Emphasises St…");
        for l in &lines {
            assert!(l.width() <= 24, "{l:?} is {} wide", l.width());
        }
        assert!(lines[2].ends_with('…'), "{:?}", lines[2]);
    }

    #[test]
    fn for_scripts_rows_are_tab_separated_and_whole() {
        let mut t = sample();
        t.row(vec!["tab\there".into(), "ok".into(), 1.into()]);
        assert_eq!(
            t.render(&PIPED),
            [
                "NAME\tSTATE\tITEMS",
                "agency-wire\tok\t41",
                "北京新闻\tfailing\t",
                "tab\\there\tok\t1",
            ]
        );
    }

    #[test]
    fn cells_are_escaped_and_colour_does_not_count_as_width() {
        let mut t = Table::new(vec![Column::left("A"), Column::left("B")]);
        t.row(vec![
            Cell::new("\u{1b}[2Jx").tone(Tone::Bad),
            Cell::new("y"),
        ]);
        let ui = Ui {
            colour: true,
            ..terminal(80)
        };
        let lines = t.render(&ui);
        assert_eq!(lines[1], "\u{1b}[31m\\u{1b}[2Jx\u{1b}[0m  y");
    }

    #[test]
    fn truncate_keeps_short_text_and_respects_wide_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("北京北京", 5), "北京…");
        assert_eq!(truncate("北京北京", 4), "北…");
    }
}
