//! mlctl: ship ML models to live traffic, prove them better, undo them in a second.
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit codes;
//! everything else lives here so tests and benches call the same code.
//!
//! Layers, bottom to top. A module imports only from layers below it — never from a layer
//! above, nor from a peer in its own layer — and inside a module its files import each
//! other without cycles (`tests/layers.rs` holds both rules):
//!
//! 1. `error` — the error type and its exit codes
//! 2. `stats` `output` `parse` `wire` — pure statistics; rendering and styling; flag-value parsers; wire formats (V2, headers, log records)
//! 3. `data` `store` — streaming file readers (CSV, JSONL, gzip, the gateway's logs); the SQLite state
//! 4. `drift` `abtest` `loadtest` `rollout` `features` — the domains, each on its own
//! 5. `serving` — the gateway: data plane, admin API, routes, logs; hosts the rollout controller
//! 6. `client` — typed HTTP client of the gateway
//! 7. `cli` — flag declarations (clap)
//! 8. `commands` — one module per command, returns a report
//! 9. `main` — parse, dispatch, print, exit code

pub mod abtest;
pub mod cli;
pub mod client;
pub mod commands;
pub mod data;
pub mod drift;
pub mod error;
pub mod features;
pub mod loadtest;
pub mod output;
pub mod parse;
pub mod rollout;
pub mod serving;
pub mod stats;
pub mod store;
pub mod wire;
