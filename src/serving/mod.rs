//! The gateway behind `mlctl serve`.

pub mod admin;
pub mod api;
pub mod dataplane;
pub mod http;
pub mod infer;
pub mod log;
pub mod metrics;
pub mod router;
pub mod runtime;
pub mod server;
pub mod shadow;
pub mod state;
