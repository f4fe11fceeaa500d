//! The integration tests, as one test binary: each module was a binary of its own, and each
//! binary linked the whole crate with tract, tonic and parquet (≈ 200 MB apiece, 6 GB for a
//! clean `cargo test`, which once filled CI's disk). One binary links once. Run one file's
//! tests with `cargo test --test integration <module>::`, e.g. `cargo test --test integration
//! layers::`.
//!
//! `tests/loadtest.rs` stays a binary of its own: its tests measure latency to ±10% and take
//! turns with each other; run beside the rest, another file's test would be their jitter.

mod common;

mod abtest;
mod backtest;
mod cli;
mod drift;
mod drift_stats;
mod features;
mod features_redis;
mod features_serve;
mod fuzz_infer;
mod gates;
mod grpc;
mod hardening;
mod layers;
mod matching;
mod monitor;
mod monitoring;
mod notify;
mod onnx_fixtures;
mod parquet;
mod prometheus;
mod replicas;
mod rollout;
mod serve;
mod spec_file;
mod store_backends;
mod ui;
mod upstream;
