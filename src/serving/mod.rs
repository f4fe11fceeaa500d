//! The gateway behind `mlctl serve`.

pub mod admin;
pub mod dataplane;
pub mod log;
pub mod metrics;
pub mod protocol;
pub mod router;
pub mod runtime;
pub mod server;
pub mod shadow;
pub mod state;
