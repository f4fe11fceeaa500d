//! Writers of the prediction and outcome logs: daily JSONL files under `<data>/logs/`
//! (names and record types in `wire::log`).
//!
//! Records are serialised on the request path and handed to one writer task per log
//! through a bounded channel (a full channel makes the request wait: records are never
//! dropped). The writer buffers, flushes at least every `flush` (100 ms) and fsyncs at
//! least every `fsync` (1 s). Loss window: a crash of the machine (not of mlctl) can lose
//! at most the last `fsync` interval; a killed mlctl loses at most the last `flush`
//! interval; a graceful shutdown (SIGINT/SIGTERM) loses nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

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

struct Line {
    day: String,
    bytes: Vec<u8>,
}

enum Msg {
    Line(Line),
    /// Flush, fsync, acknowledge, and stop.
    Stop(tokio::sync::oneshot::Sender<()>),
}

/// Handle for appending to one daily log.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::Sender<Msg>,
}

impl LogSink {
    /// Start the writer task for `<dir>/<kind>-YYYYMMDD.jsonl`.
    pub fn start(
        dir: &Path,
        kind: LogKind,
        policy: LogPolicy,
    ) -> std::io::Result<(LogSink, tokio::task::JoinHandle<()>)> {
        crate::store::private_dir(dir)?;
        let (tx, rx) = mpsc::channel(16_384);
        let writer = Writer {
            dir: dir.to_path_buf(),
            kind,
            day: String::new(),
            file: None,
        };
        let handle = tokio::spawn(writer.run(rx, policy));
        Ok((LogSink { tx }, handle))
    }

    /// Append one record (serialised here, written by the writer task).
    pub async fn append<T: Serialize>(&self, day: String, record: &T) {
        let mut bytes = match serde_json::to_vec(record) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("log record could not be serialised: {e}");
                return;
            }
        };
        bytes.push(b'\n');
        if self.tx.send(Msg::Line(Line { day, bytes })).await.is_err() {
            tracing::error!("log writer has stopped; record lost");
        }
    }
}

impl LogSink {
    /// Write out everything sent so far (flush + fsync) and stop the writer.
    pub async fn stop(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

struct Writer {
    dir: PathBuf,
    kind: LogKind,
    day: String,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Writer {
    fn file_for(&mut self, day: &str) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.day != day || self.file.is_none() {
            if let Some(mut old) = self.file.take() {
                old.flush()?;
                old.get_ref().sync_data()?;
            }
            let path = self.dir.join(self.kind.file_name(day));
            let f = crate::store::private_file().create(true).append(true).open(&path)?;
            self.file = Some(std::io::BufWriter::with_capacity(256 * 1024, f));
            self.day = day.to_string();
        }
        // Just set above when missing.
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("log file not open"))
    }

    fn flush(&mut self, sync: bool) {
        if let Some(f) = self.file.as_mut() {
            let r = f
                .flush()
                .and_then(|_| if sync { f.get_ref().sync_data() } else { Ok(()) });
            if let Err(e) = r {
                tracing::error!("{}: {e}", self.kind.file_name(&self.day));
            }
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, policy: LogPolicy) {
        let mut flush_tick = tokio::time::interval(policy.flush);
        let mut sync_tick = tokio::time::interval(policy.fsync);
        let mut dirty = false;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Stop(ack)) => {
                        self.flush(true);
                        let _ = ack.send(());
                        return;
                    }
                    Some(Msg::Line(line)) => {
                        let day = line.day.clone();
                        match self.file_for(&day).and_then(|f| f.write_all(&line.bytes)) {
                            Ok(()) => dirty = true,
                            Err(e) => tracing::error!("{}: {e}", self.kind.file_name(&day)),
                        }
                    }
                    None => break,
                },
                _ = flush_tick.tick() => if dirty { self.flush(false); },
                _ = sync_tick.tick() => if dirty { self.flush(true); dirty = false; },
            }
        }
        self.flush(true);
    }
}
