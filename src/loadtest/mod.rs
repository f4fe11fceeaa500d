//! `mlctl loadtest`: constant-rate (open loop) and closed-loop HTTP load with
//! coordinated-omission-correct latency, per-variant breakdown and SLO gates.
//!
//! Split by job, as oha is: `target` (what is sent), `scheduler` (when), `worker` (sending,
//! one keep-alive connection each), `sample` (what a request measured, handed from the
//! workers to the `collector`, which aggregates on its own thread), `histogram`, `slo`,
//! and `report` (plain structs; their grids are drawn by `output`).

pub(crate) mod collector;
pub(crate) mod h1;
pub(crate) mod histogram;
pub mod report;
pub(crate) mod sample;
pub mod scheduler;
pub mod slo;
pub mod target;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use crate::error::{Error, Result};
use collector::{Collected, HdrLog};
use sample::Live;
use scheduler::{LoadModel, Schedule};
use target::Target;
use worker::{Shared, VariantNames, Worker};

/// One run's settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub model: LoadModel,
    pub warmup: Duration,
    /// Measured window (closed loop with `requests`: an upper bound is not applied).
    pub duration: Duration,
    /// Open loop: connections (one worker each). Closed loop: the concurrency.
    pub connections: usize,
    pub timeout: Duration,
    pub save_hdr: Option<PathBuf>,
}

/// What a run measured, before it is summarised.
#[derive(Debug)]
pub struct RunOutput {
    pub config: RunConfig,
    pub collected: Collected,
    pub variant_names: Vec<String>,
    /// Lateness of a 1 ms timer in the generator's runtime (jHiccup's idea): a busy or
    /// starved client shows here, not in the server's latency.
    pub hiccups: Histogram<u64>,
    /// Open loop: measured slots that never went out (the run ended with them queued).
    pub unsent: u64,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
}

/// Resolve the target and make sure something listens there: an endpoint that cannot be
/// reached at all is exit 3 before any load is generated.
pub async fn reach(target: &Target, timeout: Duration) -> Result<SocketAddr> {
    let addr = tokio::net::lookup_host(target.authority.as_str())
        .await
        .map_err(|e| Error::Endpoint(format!("cannot resolve {}: {e}", target.authority)))?
        .next()
        .ok_or_else(|| Error::Endpoint(format!("cannot resolve {}: no addresses", target.authority)))?;
    match tokio::time::timeout(
        timeout.min(Duration::from_secs(5)),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    {
        Ok(Ok(_)) => Ok(addr),
        Ok(Err(e)) => Err(Error::Endpoint(format!("cannot reach {}: {e}", target.url))),
        Err(_) => Err(Error::Endpoint(format!(
            "cannot reach {}: connect timed out",
            target.url
        ))),
    }
}

/// Generate the load and measure it. `live` is updated as the run goes (progress display).
pub async fn run(target: Arc<Target>, addr: SocketAddr, cfg: &RunConfig, live: Arc<Live>) -> Result<RunOutput> {
    // Start a little ahead so every worker is spawned before the first slot is due.
    let start = Instant::now() + Duration::from_millis(20);
    let schedule = Arc::new(Schedule::new(cfg.model, start, cfg.warmup, cfg.duration));
    let variants = Arc::new(VariantNames::default());
    let shared = Arc::new(Shared {
        target,
        addr,
        schedule: schedule.clone(),
        timeout: cfg.timeout,
        variants: variants.clone(),
        live: live.clone(),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let window_us = (
        cfg.warmup.as_micros() as u64,
        (cfg.warmup + cfg.duration).as_micros() as u64,
    );
    let hdr_log = cfg.save_hdr.as_ref().map(|path| HdrLog {
        path: path.clone(),
        started: SystemTime::now() + Duration::from_millis(20) + cfg.warmup,
    });
    let collector_live = live.clone();
    let collector = std::thread::Builder::new()
        .name("mlctl-loadtest-collector".into())
        .spawn(move || collector::collect(rx, window_us, collector_live, hdr_log))
        .map_err(|e| Error::Usage(format!("cannot start the collector thread: {e}")))?;

    // One single-threaded runtime per core, each driving its share of the connections
    // (wrk's model): no work stealing and no cross-thread wake-ups on the hot path.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(cfg.connections.max(1));
    let mut load_threads = Vec::with_capacity(threads);
    for t in 0..threads {
        let n = cfg.connections / threads + usize::from(t < cfg.connections % threads);
        let workers: Vec<Worker> = (0..n)
            .map(|i| {
                let id = (t + i * threads) as u64;
                Worker::new(shared.clone(), tx.clone(), id, cfg.connections as u64)
            })
            .collect();
        let handle = std::thread::Builder::new()
            .name(format!("mlctl-loadtest-{t}"))
            .spawn(move || load_thread(workers))
            .map_err(|e| Error::Usage(format!("cannot start a load thread: {e}")))?;
        load_threads.push(handle);
    }
    drop(tx);

    // Open loop: due slots may still be queued when the window ends; they get `timeout`
    // to go out, then the run stops. Ctrl-C stops at once; what was measured is reported.
    let drain_until = schedule.end() + cfg.timeout;
    let stopper = {
        let schedule = schedule.clone();
        let open = matches!(cfg.model, LoadModel::Open { .. });
        tokio::spawn(async move {
            let deadline = async {
                if open {
                    tokio::time::sleep_until(drain_until.into()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = deadline => { schedule.stop(); false }
                r = tokio::signal::ctrl_c() => { if r.is_ok() { schedule.stop(); } r.is_ok() }
            }
        })
    };
    let joined = tokio::task::spawn_blocking(move || {
        let mut all = histogram::new();
        let mut failure = None;
        for h in load_threads {
            match h.join() {
                Ok(Ok(h)) => {
                    let _ = all.add(&h);
                }
                Ok(Err(e)) => failure = Some(format!("cannot start a load runtime: {e}")),
                // A panicking load thread would be a bug; say so rather than report less.
                Err(_) => failure = Some("a load thread panicked".into()),
            }
        }
        (all, failure)
    })
    .await;
    let (hiccups, failure) = joined.unwrap_or_else(|e| (histogram::new(), Some(format!("load threads: {e}"))));
    let interrupted = if stopper.is_finished() {
        stopper.await.unwrap_or(false)
    } else {
        stopper.abort();
        false
    };
    let collected = tokio::task::spawn_blocking(move || collector.join())
        .await
        .map_err(|e| Error::Usage(format!("collector: {e}")))?
        .map_err(|_| Error::Usage("the collector thread panicked".into()))??;
    if let Some(f) = failure {
        return Err(Error::Usage(f));
    }
    Ok(RunOutput {
        config: cfg.clone(),
        collected,
        variant_names: variants.names(),
        hiccups,
        unsent: schedule.unsent_measured(),
        interrupted,
    })
}

/// Run `workers` to the end on a current-thread runtime, with a hiccup probe beside them.
fn load_thread(workers: Vec<Worker>) -> std::io::Result<Histogram<u64>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let probe_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    rt.block_on(async move {
        let probe = tokio::spawn(hiccup_probe(probe_stop.clone()));
        let tasks: Vec<_> = workers.into_iter().map(|w| tokio::spawn(w.run())).collect();
        for t in tasks {
            let _ = t.await;
        }
        probe_stop.store(true, Ordering::Relaxed);
        Ok(probe.await.unwrap_or_else(|_| histogram::new()))
    })
}

/// Sleep 1 ms again and again and record how late each wake-up is (minus the timer's
/// 1 ms granularity). A saturated generator shows up as large lateness.
async fn hiccup_probe(stop: Arc<std::sync::atomic::AtomicBool>) -> Histogram<u64> {
    let mut h = histogram::new();
    let tick = Duration::from_millis(1);
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        tokio::time::sleep(tick).await;
        let late = t.elapsed().saturating_sub(tick * 2);
        histogram::record(&mut h, late);
    }
    h
}
