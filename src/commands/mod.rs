//! One module per command. Each takes its parsed flags and returns a report (or, for
//! gating commands, the report and the gate's error); `main.rs` renders and exits.

pub mod abtest;
pub mod completions;
pub mod dashboard;
pub mod demo;
pub mod demo_features;
pub mod demo_monitor;
pub mod deploy;
pub mod drift;
pub mod features;
pub mod guards;
pub mod loadtest;
pub mod monitor;
pub mod monitors;
pub mod predict;
pub mod quality;
pub mod rollout;
pub mod serve;
pub mod skew;
pub mod spec_file;
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
