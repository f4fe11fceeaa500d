//! Report rendering: every report is a plain serde struct that can also describe
//! itself as titled tables; one file per format renders those.

pub mod json;
pub mod markdown;
pub mod table;

use crate::cli::OutputFormat;

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
        OutputFormat::Table => table::render(&report.grids()),
        OutputFormat::Markdown => markdown::render(&report.grids()),
    }
}

/// Whether colour and bars may be used on stderr/stdout (`NO_COLOR`, not a TTY → no).
pub fn colour_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}
