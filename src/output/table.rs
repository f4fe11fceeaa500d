//! `-o table` (default): comfy-table grids for people.

use comfy_table::{ContentArrangement, Table, presets};

use super::Grid;

/// Box-drawn when `styled` (a terminal), plain ASCII markdown-like grids otherwise.
pub fn render(grids: &[Grid], styled: bool) -> String {
    let mut out = String::new();
    for (i, g) in grids.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(t) = &g.title {
            out.push_str(t);
            out.push('\n');
        }
        let mut table = Table::new();
        table.load_preset(if styled {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_MARKDOWN
        });
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if !styled {
            table.force_no_tty();
        }
        table.set_header(g.headers.clone());
        for r in &g.rows {
            table.add_row(r.clone());
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    out
}
