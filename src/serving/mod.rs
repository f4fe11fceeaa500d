//! The gateway behind `mlctl serve`.

pub(crate) mod admin;
pub mod api;
pub(crate) mod dataplane;
pub(crate) mod features;
pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod infer;
pub mod listener;
pub mod loading;
pub mod log;
pub(crate) mod metrics;
pub(crate) mod monitor;
pub(crate) mod monitor_api;
pub(crate) mod monitor_tick;
pub mod notify;
pub(crate) mod outcomes;
pub(crate) mod pipeline;
pub mod replica;
pub(crate) mod replication;
pub(crate) mod repoll;
pub mod router;
pub mod runtime;
pub mod server;
pub(crate) mod shadow;
pub mod state;
pub(crate) mod ui;
