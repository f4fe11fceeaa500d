//! One module per command: `run(args) -> Result<Report>`; `main.rs` renders.

pub mod abtest;
pub mod completions;
pub mod demo;
pub mod deploy;
pub mod drift;
pub mod loadtest;
pub mod predict;
pub mod rollout;
pub mod serve;
pub mod status;

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::client::{GatewayClient, default_data_dir, resolve_token};
use crate::error::Result;

/// Data dir from the flag/env, else the XDG default.
pub fn data_dir(g: &GlobalArgs) -> PathBuf {
    g.data_dir.clone().unwrap_or_else(default_data_dir)
}

/// A client for `--endpoint` with the resolved token.
pub fn client(g: &GlobalArgs) -> Result<GatewayClient> {
    GatewayClient::new(&g.endpoint, resolve_token(g.token.as_deref(), &data_dir(g)))
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
