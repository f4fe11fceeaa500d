//! mlctl: ship ML models to live traffic, prove them better, undo them in a second.
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit codes;
//! everything else lives here so tests and benches call the same code.

pub mod abtest;
pub mod cli;
pub mod client;
pub mod commands;
pub mod data;
pub mod drift;
pub mod error;
pub mod loadtest;
pub mod output;
pub mod rollout;
pub mod serving;
pub mod stats;
pub mod store;
