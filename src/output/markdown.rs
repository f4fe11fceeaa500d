//! `-o markdown`: GitHub-flavoured pipe tables (for CI summaries and PR comments).

use super::Grid;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(grids: &[Grid]) -> String {
    let mut out = String::new();
    for (i, g) in grids.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(t) = &g.title {
            out.push_str(&format!("### {}\n\n", cell(t)));
        }
        out.push_str(&format!(
            "| {} |\n",
            g.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
        ));
        out.push_str(&format!("|{}\n", "---|".repeat(g.headers.len())));
        for r in &g.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_are_escaped() {
        let g = Grid {
            title: Some("t".into()),
            headers: vec!["a".into()],
            rows: vec![vec!["x|y".into()]],
        };
        assert_eq!(render(&[g]), "### t\n\n| a |\n|---|\n| x\\|y |\n");
    }
}
