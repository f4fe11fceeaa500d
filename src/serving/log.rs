//! Writers of the prediction and outcome logs: daily JSONL files under `<data>/logs/`
//! (names and record types in `wire::log`).
//!
//! Records are serialised on the request path and handed to one writer task per log
//! through a bounded channel (a full channel makes the request wait). The writer buffers,
//! flushes at least every `flush` (100 ms) and fsyncs at least every `fsync` (1 s). Loss
//! window: a crash of the machine (not of mlctl) can lose at most the last `fsync`
//! interval; a killed mlctl loses at most the last `flush` interval; a graceful shutdown
//! (SIGINT/SIGTERM) loses nothing.
//!
//! `append_durable` (outcomes) answers only once its records are written and fsync'd, or
//! with the error that kept them out. When a write, flush or fsync fails (a full disk, an
//! unwritable directory) the records since the last good flush are counted as dropped,
//! the buffer is discarded, the file reopened on the next record, and the log's `LogHealth`
//! reports the failure (readiness, metrics) until a flush succeeds again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::wire::log::LogKind;

/// Flush/fsync policy.
#[derive(Debug, Clone, Copy)]
pub struct LogPolicy {
    pub flush: Duration,
    pub fsync: Duration,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            flush: Duration::from_millis(100),
            fsync: Duration::from_secs(1),
        }
    }
}

/// Whether a log is being written, and what failed when it is not.
#[derive(Debug, Default)]
pub struct LogHealth {
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Failed writes, flushes and fsyncs (`mlctl_log_write_errors_total`).
    pub write_errors: Counter,
    /// Records lost to those failures (`mlctl_log_dropped_total`).
    pub dropped: Counter,
}

impl LogHealth {
    /// Report into these counters (shared with the metrics registry).
    pub fn new(write_errors: Counter, dropped: Counter) -> LogHealth {
        LogHealth {
            write_errors,
            dropped,
            ..Default::default()
        }
    }

    /// The last error while the log is failing; `None` when it writes.
    pub fn failure(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .or_else(|| Some("write failed".into()))
    }

    fn failed(&self, what: String, lost: u64) {
        self.write_errors.inc();
        self.dropped.inc_by(lost);
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(what);
        self.failing.store(true, Ordering::Release);
    }

    fn recovered(&self) {
        self.failing.store(false, Ordering::Release);
    }
}

enum Msg {
    Line {
        day: String,
        bytes: Vec<u8>,
    },
    /// Write, flush and fsync these lines, then answer.
    Durable {
        day: String,
        lines: Vec<Vec<u8>>,
        ack: oneshot::Sender<Result<(), String>>,
    },
    /// Flush, fsync, acknowledge, and stop.
    Stop(oneshot::Sender<()>),
}

/// How long the writer gathers records after a wake: a twentieth of the flush interval, at
/// most 5 ms (so the loss window of a killed process stays the flush interval).
fn gather(policy: &LogPolicy) -> Duration {
    (policy.flush / 20).min(Duration::from_millis(5))
}

/// Records in flight to the writer; a full channel makes the request wait.
const CHANNEL: usize = 16_384;

/// Handle for appending to one daily log.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::Sender<Msg>,
}

fn line<T: Serialize>(record: &T) -> Option<Vec<u8>> {
    match serde_json::to_vec(record) {
        Ok(mut b) => {
            b.push(b'\n');
            Some(b)
        }
        Err(e) => {
            tracing::error!("log record could not be serialised: {e}");
            None
        }
    }
}

impl LogSink {
    /// Start the writer task for `<dir>/<kind>-YYYYMMDD[.<replica>].jsonl`, reporting to
    /// `health`.
    pub fn start(
        dir: &Path,
        kind: LogKind,
        replica: Option<&str>,
        policy: LogPolicy,
        health: std::sync::Arc<LogHealth>,
    ) -> std::io::Result<(LogSink, tokio::task::JoinHandle<()>)> {
        crate::store::private_dir(dir)?;
        let (tx, rx) = mpsc::channel(CHANNEL);
        let writer = Writer {
            dir: dir.to_path_buf(),
            kind,
            replica: replica.map(str::to_string),
            day: String::new(),
            file: None,
            unflushed: 0,
            health,
        };
        let handle = tokio::spawn(writer.run(rx, policy));
        Ok((LogSink { tx }, handle))
    }

    /// Append one record (serialised here, written by the writer task within the flush
    /// interval).
    pub async fn append<T: Serialize>(&self, day: String, record: &T) {
        let Some(bytes) = line(record) else { return };
        if self.tx.send(Msg::Line { day, bytes }).await.is_err() {
            tracing::error!("log writer has stopped; record lost");
        }
    }

    /// Append records and return once they are written and fsync'd, or with why not.
    pub async fn append_durable<T: Serialize>(&self, day: String, records: &[T]) -> Result<(), String> {
        let lines: Vec<Vec<u8>> = records.iter().filter_map(line).collect();
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Msg::Durable { day, lines, ack })
            .await
            .map_err(|_| "the log writer has stopped".to_string())?;
        done.await.map_err(|_| "the log writer has stopped".to_string())?
    }

    /// Write out everything sent so far (flush + fsync) and stop the writer.
    pub async fn stop(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

struct Writer {
    dir: PathBuf,
    kind: LogKind,
    replica: Option<String>,
    day: String,
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// Records written to the buffer since the last successful flush.
    unflushed: u64,
    health: std::sync::Arc<LogHealth>,
}

impl Writer {
    fn name(&self, day: &str) -> String {
        self.kind.file_name_of(day, self.replica.as_deref())
    }

    fn file_for(&mut self, day: &str) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.day != day || self.file.is_none() {
            if self.file.is_some() {
                self.flush(true)?;
            }
            let path = self.dir.join(self.name(day));
            let mut f = crate::store::private_file().create(true).append(true).open(&path)?;
            // After a failed write a partial line may end the file: start on a new line,
            // so readers skip the torn record instead of failing on the next one.
            if f.metadata().is_ok_and(|m| m.len() > 0) {
                use std::io::{Read, Seek, SeekFrom};
                let mut last = [0u8; 1];
                let mut r = std::fs::File::open(&path)?;
                r.seek(SeekFrom::End(-1))?;
                r.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    f.write_all(b"\n")?;
                }
            }
            self.file = Some(std::io::BufWriter::with_capacity(256 * 1024, f));
            self.day = day.to_string();
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("log file not open"))
    }

    /// Flush (and fsync when `sync`); on failure count the buffered records as lost and
    /// drop the buffer so the next record reopens the file.
    fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        let r = f
            .flush()
            .and_then(|_| if sync { f.get_ref().sync_data() } else { Ok(()) });
        self.settle(r)
    }

    /// Account for the outcome of a flush: recovered, or failed with its records lost.
    fn settle(&mut self, r: std::io::Result<()>) -> std::io::Result<()> {
        match r {
            Ok(()) => {
                self.unflushed = 0;
                self.health.recovered();
                Ok(())
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    /// [`flush`](Self::flush)`(true)` with the fsync on the blocking pool (the periodic
    /// fsync and durable appends): an fsync can take milliseconds, and on a runtime worker
    /// it would stall the requests queued there.
    async fn sync_off_thread(&mut self) -> std::io::Result<()> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        let r = match f.flush().and_then(|()| f.get_ref().try_clone()) {
            Ok(file) => match tokio::task::spawn_blocking(move || file.sync_data()).await {
                Ok(r) => r,
                Err(e) => Err(std::io::Error::other(e)),
            },
            Err(e) => Err(e),
        };
        self.settle(r)
    }

    fn fail(&mut self, e: &std::io::Error) {
        let name = self.name(&self.day);
        // Loud when records are lost or the log starts failing; a failed probe of a log
        // already known to fail is only a debug line (one per fsync interval).
        if self.unflushed > 0 || !self.health.failing.load(Ordering::Acquire) {
            tracing::error!("{name}: {e}; {} record(s) lost", self.unflushed);
        } else {
            tracing::debug!("{name}: still failing: {e}");
        }
        self.health.failed(format!("{name}: {e}"), self.unflushed);
        self.unflushed = 0;
        if let Some(f) = self.file.take() {
            // Discard the buffer: writing it again could only fail again or tear lines.
            let _ = f.into_parts();
        }
    }

    /// While failing with nothing to write (e.g. `--on-log-failure refuse` stopped the
    /// traffic), try an empty line — readers skip blank lines — so the log notices when
    /// space is back.
    fn probe(&mut self) {
        let day = crate::wire::log::day_of(&chrono::Utc::now());
        if self.write(&day, b"\n").is_ok() {
            self.unflushed = 0;
            let _ = self.flush(true);
        }
    }

    fn write(&mut self, day: &str, bytes: &[u8]) -> std::io::Result<()> {
        let r = self.file_for(day).and_then(|f| f.write_all(bytes));
        match r {
            Ok(()) => {
                self.unflushed += 1;
                Ok(())
            }
            Err(e) => {
                self.unflushed += 1;
                if self.file.is_some() {
                    self.fail(&e);
                } else {
                    // No file (it could not be opened, or a flush before it failed).
                    let name = self.name(day);
                    tracing::error!("{name}: {e}; record lost");
                    self.health.failed(format!("{name}: {e}"), self.unflushed);
                    self.unflushed = 0;
                }
                Err(e)
            }
        }
    }

    /// Write one message; `false` once the writer must stop.
    async fn handle(&mut self, msg: Msg, dirty: &mut bool) -> bool {
        match msg {
            Msg::Stop(ack) => {
                let _ = self.flush(true);
                let _ = ack.send(());
                return false;
            }
            Msg::Line { day, bytes } => {
                if self.write(&day, &bytes).is_ok() {
                    *dirty = true;
                }
            }
            Msg::Durable { day, lines, ack } => {
                let mut r = Ok(());
                for l in &lines {
                    if let Err(e) = self.write(&day, l) {
                        r = Err(e);
                        break;
                    }
                }
                let r = match r {
                    Ok(()) => self.sync_off_thread().await,
                    Err(e) => Err(e),
                };
                *dirty = r.is_err() && self.file.is_some();
                let _ = ack.send(r.map_err(|e| format!("{}: {e}", self.name(&day))));
            }
        }
        true
    }

    /// Waits for a record, then gathers what comes within [`gather`] before writing: one
    /// wake of this task per window instead of one per record (a wake from the request's
    /// worker is a cross-thread wake-up, the largest cost of a record at low rates).
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, policy: LogPolicy) {
        let mut flush_tick = tokio::time::interval(policy.flush);
        let mut sync_tick = tokio::time::interval(policy.fsync);
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let window = gather(&policy);
        let mut dirty = false;
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    if !self.handle(msg, &mut dirty).await {
                        return;
                    }
                    // While this task sleeps it is not registered with the channel (the
                    // wake that brought this record consumed its waker): records sent
                    // meanwhile queue without waking it. At most one channel's worth is
                    // drained before the flush and fsync ticks are looked at again.
                    tokio::time::sleep(window).await;
                    for _ in 0..CHANNEL {
                        let Ok(msg) = rx.try_recv() else { break };
                        if !self.handle(msg, &mut dirty).await {
                            return;
                        }
                    }
                }
                _ = flush_tick.tick() => if dirty { let _ = self.flush(false); },
                _ = sync_tick.tick() => {
                    if dirty {
                        let _ = self.sync_off_thread().await;
                        dirty = false;
                    } else if self.health.failing.load(Ordering::Acquire) {
                        self.probe();
                    }
                }
            }
        }
        let _ = self.flush(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Records sent while the writer gathers are all written, in each sender's order, by
    /// the periodic flush; a durable append is in the file when it is acknowledged;
    /// stop writes out the rest.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gathered_records_are_written_within_the_flush_interval() {
        let dir = tempfile::tempdir().unwrap();
        let policy = LogPolicy {
            flush: Duration::from_millis(40),
            fsync: Duration::from_millis(200),
        };
        let health = Arc::new(LogHealth::new(Counter::default(), Counter::default()));
        let (sink, task) = LogSink::start(dir.path(), LogKind::Outcomes, None, policy, health).unwrap();
        let day = "20261128".to_string();
        let path = dir.path().join(LogKind::Outcomes.file_name_of(&day, None));
        let mut senders = Vec::new();
        for s in 0..4u32 {
            let (sink, day) = (sink.clone(), day.clone());
            senders.push(tokio::spawn(async move {
                for i in 0..500u32 {
                    sink.append(day.clone(), &serde_json::json!({"s": s, "i": i})).await;
                    if i % 50 == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }));
        }
        for s in senders {
            s.await.unwrap();
        }
        // 2000 short records are far below the 256 KiB buffer: only the periodic flush
        // (every 40 ms here) brings them to the file. 2 s is slack for a loaded machine.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let mut got = lines(&path);
        while got.len() < 2000 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            got = lines(&path);
        }
        assert_eq!(got.len(), 2000, "all records flushed");
        for s in 0..4 {
            let order: Vec<u64> = got
                .iter()
                .filter(|v| v["s"] == s)
                .map(|v| v["i"].as_u64().unwrap())
                .collect();
            assert_eq!(order, (0..500).collect::<Vec<u64>>());
        }
        sink.append_durable(day.clone(), &[serde_json::json!({"durable": 1})])
            .await
            .unwrap();
        assert_eq!(lines(&path).last().unwrap()["durable"], 1);
        sink.append(day.clone(), &serde_json::json!({"last": 1})).await;
        sink.stop().await;
        assert_eq!(lines(&path).last().unwrap()["last"], 1);
        task.await.unwrap();
    }
}
