//! Aggregation, on its own thread: workers hand over batches of samples, the collector
//! records them into histograms and counters, keeps the live view current and writes
//! one-second interval histograms to the `--save-hdr` log as they complete.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};

use super::histogram::{self, HIGHEST_US, LOWEST_US};
use super::sample::{Live, NO_VARIANT, Outcome, Sample};
use crate::error::{Error, Result};

/// Everything measured in the measured window.
#[derive(Debug)]
pub struct Collected {
    /// Latency of every answered request (any HTTP status).
    pub latency: Histogram<u64>,
    /// Time from the send to the answer (no correction).
    pub service: Histogram<u64>,
    /// The generator's own lateness per request (open loop).
    pub lag: Histogram<u64>,
    /// Per variant id: (requests, latency of answered ones).
    pub variants: Vec<(u64, Histogram<u64>)>,
    /// HTTP status → count.
    pub status: BTreeMap<u16, u64>,
    pub connect_errors: u64,
    pub timeouts: u64,
    pub io_errors: u64,
    /// Requests that queued for a free connection.
    pub waited: u64,
    /// Measured requests that ended (any outcome).
    pub requests: u64,
    /// Of those, the ones that went out before the measured window closed.
    pub started_in_window: u64,
    /// Completion time of the last measured request, µs since the schedule started.
    pub last_end_us: u64,
}

impl Default for Collected {
    fn default() -> Self {
        Collected {
            latency: histogram::new(),
            service: histogram::new(),
            lag: histogram::new(),
            variants: Vec::new(),
            status: BTreeMap::new(),
            connect_errors: 0,
            timeouts: 0,
            io_errors: 0,
            waited: 0,
            requests: 0,
            started_in_window: 0,
            last_end_us: 0,
        }
    }
}

fn record_us(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(LOWEST_US, HIGHEST_US));
}

/// Where the interval log goes and when the measured window began.
pub struct HdrLog {
    pub path: PathBuf,
    pub started: SystemTime,
}

/// Receive batches until every worker has hung up. `window_us` is the measured window in
/// µs since the schedule started.
pub fn collect(
    rx: mpsc::Receiver<Vec<Sample>>,
    window_us: (u64, u64),
    live: Arc<Live>,
    hdr_log: Option<HdrLog>,
) -> Result<Collected> {
    let mut out = Collected::default();
    let mut recent = histogram::new();
    let mut recent_since = Instant::now();
    // Measured intervals still open to late samples: second index → histogram.
    let mut open: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    let io = |path: &PathBuf, e: std::io::Error| Error::io(path, e);
    let mut file = match &hdr_log {
        Some(h) => Some(std::io::BufWriter::new(
            std::fs::File::create(&h.path).map_err(|e| io(&h.path, e))?,
        )),
        None => None,
    };
    let mut serializer = V2DeflateSerializer::new();
    let mut log = match (&hdr_log, file.as_mut()) {
        (Some(h), Some(f)) => Some(
            IntervalLogWriterBuilder::new()
                .add_comment("mlctl loadtest: latency in microseconds from the intended send time; max in ms")
                .with_start_time(h.started)
                .with_base_time(h.started)
                .with_max_value_divisor(1000.0)
                .begin_log_with(f, &mut serializer)
                .map_err(|e| io(&h.path, e))?,
        ),
        _ => None,
    };
    let log_error = |e: &dyn std::fmt::Debug| match &hdr_log {
        Some(h) => io(&h.path, std::io::Error::other(format!("{e:?}"))),
        None => Error::Usage(format!("{e:?}")),
    };
    // Seconds below this index have been written; late samples join the oldest open one.
    let mut written_upto = 0u64;
    while let Ok(batch) = rx.recv() {
        live.finished.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for s in &batch {
            let answered = matches!(s.outcome, Outcome::Status(_));
            let error = !matches!(s.outcome, Outcome::Status(c) if c < 400);
            if error {
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
            if answered {
                record_us(&mut recent, s.latency_us);
            }
            if !s.measured {
                continue;
            }
            out.requests += 1;
            if s.end_us.saturating_sub(s.service_us) <= window_us.1 {
                out.started_in_window += 1;
            }
            out.last_end_us = out.last_end_us.max(s.end_us);
            if s.waited {
                out.waited += 1;
            }
            record_us(&mut out.lag, s.lag_us);
            match s.outcome {
                Outcome::Status(code) => *out.status.entry(code).or_default() += 1,
                Outcome::Connect => out.connect_errors += 1,
                Outcome::Timeout => out.timeouts += 1,
                Outcome::Io => out.io_errors += 1,
            }
            if s.variant != NO_VARIANT {
                let i = s.variant as usize;
                while out.variants.len() <= i {
                    out.variants.push((0, histogram::new()));
                }
                out.variants[i].0 += 1;
                if answered {
                    record_us(&mut out.variants[i].1, s.latency_us);
                }
            }
            if !answered {
                continue;
            }
            record_us(&mut out.latency, s.latency_us);
            record_us(&mut out.service, s.service_us);
            if let Some(w) = log.as_mut() {
                let second = s.end_us.saturating_sub(window_us.0) / 1_000_000;
                record_us(
                    open.entry(second.max(written_upto)).or_insert_with(histogram::new),
                    s.latency_us,
                );
                // Samples arrive at most ~200 ms late: intervals two seconds old are complete.
                while let Some((&first, _)) = open.first_key_value() {
                    if first + 2 > second {
                        break;
                    }
                    if let Some((k, h)) = open.pop_first() {
                        write_interval(w, k, &h).map_err(|e| log_error(&e))?;
                        written_upto = k + 1;
                    }
                }
            }
        }
        if recent_since.elapsed() >= Duration::from_secs(1) {
            if !recent.is_empty() {
                live.recent_p99_us
                    .store(recent.value_at_quantile(0.99), Ordering::Relaxed);
            }
            recent.reset();
            recent_since = Instant::now();
        }
    }
    if let Some(w) = log.as_mut() {
        while let Some((k, h)) = open.pop_first() {
            write_interval(w, k, &h).map_err(|e| log_error(&e))?;
        }
    }
    drop(log);
    if let (Some(f), Some(h)) = (file.as_mut(), &hdr_log) {
        std::io::Write::flush(f).map_err(|e| io(&h.path, e))?;
        f.get_ref().sync_all().map_err(|e| io(&h.path, e))?;
    }
    Ok(out)
}

fn write_interval<W: std::io::Write>(
    w: &mut IntervalLogWriter<'_, '_, W, V2DeflateSerializer>,
    second: u64,
    h: &Histogram<u64>,
) -> std::result::Result<(), impl std::fmt::Debug> {
    w.write_histogram(
        h,
        Duration::from_secs(second),
        Duration::from_secs(1),
        Tag::new("latency"),
    )
}
