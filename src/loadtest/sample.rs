//! What the workers hand to the collector (one `Sample` per request) and the live
//! counters the progress display reads.

use std::sync::atomic::AtomicU64;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer with this status (any status; ≥ 400 counts as an error).
    Status(u16),
    /// The TCP connection (or HTTP handshake) could not be made.
    Connect,
    /// No complete answer within `--timeout`.
    Timeout,
    /// The connection broke mid-request (reset, closed, malformed answer).
    Io,
}

/// What one request measured. Durations in microseconds (they fit: ≤ 60 s is recorded).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Completion time, µs since the schedule started.
    pub end_us: u64,
    /// Open loop: from the intended send time (minus the client's own lateness);
    /// closed loop: from the send.
    pub latency_us: u64,
    /// From the moment the request was written to the last byte of the answer.
    pub service_us: u64,
    /// The generator's own lateness: how long after the slot was due *and* a connection
    /// was free the request actually went out (timer granularity, a busy client).
    pub lag_us: u64,
    /// The slot was due while every connection was busy (it queued for one).
    pub waited: bool,
    pub measured: bool,
    pub outcome: Outcome,
    /// Index into the variant names (`NO_VARIANT` when the answer carried none).
    pub variant: u16,
}

pub const NO_VARIANT: u16 = u16::MAX;

/// Numbers the progress display reads while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    /// Requests started (warm-up included).
    pub started: AtomicU64,
    /// Requests finished (warm-up included).
    pub finished: AtomicU64,
    pub errors: AtomicU64,
    /// p99 of the answers that arrived in the last full second, µs.
    pub recent_p99_us: AtomicU64,
}
