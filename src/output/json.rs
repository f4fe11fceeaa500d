//! `-o json`: the report's serde form, pretty-printed.

pub fn render<R: serde::Serialize>(report: &R) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"report could not be serialised: {e}\"}}\n"),
    }
}
