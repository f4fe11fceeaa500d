//! Presentation: every report is a plain serde struct that can also describe itself as
//! titled grids; one file per format renders those (`json`, `markdown`, `table`). Number
//! formatting for people and the one "is this stream styled" check live here too.

pub mod html;
pub mod json;
pub mod markdown;
pub mod table;

/// Report format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Markdown,
}

/// A titled grid of cells, format-neutral.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub title: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A report renders as JSON (its serde form) or as grids for people.
pub trait Report: serde::Serialize {
    fn grids(&self) -> Vec<Grid>;
}

/// Render `report` in `format` to a string (ending in a newline).
pub fn render<R: Report>(report: &R, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => json::render(report),
        OutputFormat::Table => table::render(&report.grids(), styled(Stream::Stdout)),
        OutputFormat::Markdown => markdown::render(&report.grids()),
    }
}

/// An output stream of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Whether `stream` may carry colour, box drawing, progress bars and screen redraws: it is
/// a terminal and `NO_COLOR` is unset or empty (<https://no-color.org>). A stream redirected
/// to a file or a pipe is never styled, whatever the other stream is.
pub fn styled(stream: Stream) -> bool {
    use std::io::IsTerminal;
    let tty = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Format a float for people: up to 6 significant digits, no trailing noise.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{:.6}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "0" || s == "-0" {
        format!("{x:.3e}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::output::fmt_num;

    #[test]
    fn numbers_for_people() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.1234567), "0.123457");
        assert_eq!(fmt_num(1.5e-9), "1.500e-9");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(fmt_num(-2.50), "-2.5");
    }
}
