//! Sending. One worker owns one HTTP/1.1 keep-alive connection (hyper's connection-level
//! client, no pool in the way), claims slots from the schedule, sends, drains the answer
//! and hands a compact `Sample` to the collector in batches. Workers never format or
//! aggregate; the collector never sends.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http2::{Connection, SendRequest};
use hyper::header::HOST;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::h1;
use super::sample::{Live, NO_VARIANT, Outcome, Sample};
use super::scheduler::{LoadModel, Schedule, Slot};
use super::target::{Protocol, ROUTING_KEY_HEADER, Target, VARIANT_HEADER};
use crate::wire::grpc::status_of_code;

/// Distinct `x-mlctl-variant` values tracked; further ones are counted as "other".
pub const MAX_VARIANTS: usize = 64;
/// Samples a worker buffers before handing them over (or after 200 ms).
const BATCH: usize = 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(200);
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Variant names seen by any worker; each worker caches the header bytes → id mapping.
#[derive(Debug, Default)]
pub struct VariantNames(Mutex<Vec<String>>);

impl VariantNames {
    pub fn names(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn intern(&self, value: &[u8]) -> u16 {
        let Ok(mut names) = self.0.lock() else {
            return NO_VARIANT;
        };
        let name = String::from_utf8_lossy(value).into_owned();
        if let Some(i) = names.iter().position(|n| *n == name) {
            return i as u16;
        }
        if names.len() >= MAX_VARIANTS {
            let other = "(other)".to_string();
            return match names.iter().position(|n| *n == other) {
                Some(i) => i as u16,
                None => {
                    names.push(other);
                    (names.len() - 1) as u16
                }
            };
        }
        names.push(name);
        (names.len() - 1) as u16
    }
}

/// Everything a worker shares with the others.
pub struct Shared {
    pub target: Arc<Target>,
    pub addr: SocketAddr,
    pub schedule: Arc<Schedule>,
    pub timeout: Duration,
    pub variants: Arc<VariantNames>,
    pub live: Arc<Live>,
}

/// A worker's connection.
enum Conn {
    /// The raw HTTP/1.1 path (`h1`): one reused request buffer, answers parsed in place.
    H1(h1::Conn),
    H2(H2Conn),
}

/// An h2c connection whose protocol state machine (`driver`) is polled by the worker
/// itself, alongside its request: no separate connection task.
struct H2Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<H2Driver>>,
}

type H2Driver = Connection<TokioIo<TcpStream>, Full<Bytes>, TokioExecutor>;

impl H2Conn {
    async fn open(addr: SocketAddr) -> Result<H2Conn, Outcome> {
        let tcp = TcpStream::connect(addr).await.map_err(|_| Outcome::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, driver) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|_| Outcome::Connect)?;
        let mut conn = H2Conn {
            sender,
            driver: Box::pin(driver),
        };
        if !conn.ready().await {
            return Err(Outcome::Connect);
        }
        Ok(conn)
    }

    /// Wait until a request may be sent; false when the connection has ended.
    async fn ready(&mut self) -> bool {
        let H2Conn { sender, driver } = self;
        tokio::select! {
            biased;
            r = sender.ready() => r.is_ok(),
            _ = driver.as_mut() => false,
        }
    }

    /// Send and drain the answer: the status, the variant header's value and the
    /// `grpc-status` (from the trailers, or the headers of a trailers-only answer); and
    /// whether the connection can be used again.
    async fn round_trip(&mut self, req: Request<Full<Bytes>>) -> (Result<H2Answer, Outcome>, bool) {
        let H2Conn { sender, driver } = self;
        let grpc_status =
            |h: &hyper::HeaderMap| h.get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<u32>().ok());
        let exchange = async {
            let resp = sender.send_request(req).await.map_err(|_| Outcome::Io)?;
            let status = resp.status().as_u16();
            let variant = resp
                .headers()
                .get(VARIANT_HEADER)
                .map(|v| Bytes::copy_from_slice(v.as_bytes()));
            let mut grpc = grpc_status(resp.headers());
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| Outcome::Io)?;
                if let Some(t) = frame.trailers_ref() {
                    grpc = grpc.or(grpc_status(t));
                }
            }
            Ok((status, variant, grpc))
        };
        tokio::pin!(exchange);
        tokio::select! {
            biased;
            r = &mut exchange => (r, true),
            // The connection ended (the server closed it after this answer, or broke it):
            // finish the exchange on what was received, then drop it.
            _ = driver.as_mut() => (exchange.await, false),
        }
    }
}

/// Status, variant header value, `grpc-status`.
type H2Answer = (u16, Option<Bytes>, Option<u32>);

pub struct Worker {
    shared: Arc<Shared>,
    /// Closed loop: this worker's requests are numbered id, id + stride, id + 2·stride, …
    next_index: u64,
    stride: u64,
    /// Started since the last hand-over (published to the live view in batches, so the
    /// workers never contend on one counter).
    started: u64,
    conn: Option<Conn>,
    /// The HTTP/1.1 request being sent, rendered into one reused buffer.
    request: Vec<u8>,
    variant_cache: Vec<(Vec<u8>, u16)>,
    batch: Vec<Sample>,
    last_flush: Instant,
    tx: mpsc::Sender<Vec<Sample>>,
    /// Fires at the latest deadline it was armed with; see `send`. Made in `run`, on the
    /// runtime whose timer drives it.
    watchdog: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Worker {
    pub fn new(shared: Arc<Shared>, tx: mpsc::Sender<Vec<Sample>>, id: u64, stride: u64) -> Self {
        Worker {
            shared,
            next_index: id,
            stride: stride.max(1),
            started: 0,
            conn: None,
            request: Vec::with_capacity(1024),
            variant_cache: Vec::new(),
            batch: Vec::with_capacity(BATCH),
            last_flush: Instant::now(),
            tx,
            watchdog: None,
        }
    }

    /// Run until the schedule has no more slots.
    pub async fn run(mut self) {
        self.watchdog = Some(Box::pin(tokio::time::sleep(self.shared.timeout)));
        match self.shared.schedule.model() {
            LoadModel::Open { .. } => self.run_open().await,
            LoadModel::Closed { .. } => self.run_closed().await,
        }
        self.flush();
    }

    async fn run_open(&mut self) {
        let schedule = self.shared.schedule.clone();
        loop {
            let free_at = Instant::now();
            let Some(slot) = schedule.claim(free_at) else { break };
            // Infallible: open-loop slots always carry their due time.
            let due = slot.intended.unwrap_or(free_at);
            let waited = due < free_at;
            // Sleep until due, waking at least every 100 ms so a stop (Ctrl-C) is seen
            // even at low rates where a slot may be due far ahead.
            while !waited && !schedule.is_stopped() && Instant::now() < due {
                tokio::time::sleep_until(due.min(Instant::now() + STOP_CHECK).into()).await;
            }
            if schedule.is_stopped() {
                break;
            }
            let start = Instant::now();
            let ready_at = due.max(free_at);
            let (outcome, variant) = self.send(&slot).await;
            let end = Instant::now();
            let lag = start.saturating_duration_since(ready_at);
            // Latency from the due time, less the generator's own lateness.
            let latency = end.saturating_duration_since(due).saturating_sub(lag);
            self.push(&slot, end, latency, end - start, lag, waited, outcome, variant);
        }
    }

    async fn run_closed(&mut self) {
        let schedule = self.shared.schedule.clone();
        // All workers begin together at the schedule's start.
        tokio::time::sleep_until(schedule.start().into()).await;
        loop {
            let start = Instant::now();
            let Some(mut slot) = schedule.claim(start) else { break };
            slot.index = self.next_index;
            self.next_index += self.stride;
            let (outcome, variant) = self.send(&slot).await;
            let end = Instant::now();
            let service = end - start;
            self.push(&slot, end, service, service, Duration::ZERO, false, outcome, variant);
            if outcome == Outcome::Connect {
                // A refused connection returns at once; do not spin the CPU on it.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        slot: &Slot,
        end: Instant,
        latency: Duration,
        service: Duration,
        lag: Duration,
        waited: bool,
        outcome: Outcome,
        variant: u16,
    ) {
        let us = |d: Duration| d.as_micros().min(u64::MAX as u128) as u64;
        self.batch.push(Sample {
            end_us: us(end.saturating_duration_since(self.shared.schedule.start())),
            latency_us: us(latency),
            service_us: us(service),
            lag_us: us(lag),
            waited,
            measured: slot.measured,
            outcome,
            variant,
        });
        if self.batch.len() >= BATCH || end.duration_since(self.last_flush) >= FLUSH_EVERY {
            self.last_flush = end;
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.shared
            .live
            .started
            .fetch_add(std::mem::take(&mut self.started), Ordering::Relaxed);
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            // The collector outlives the workers; a closed channel means the run is over.
            let _ = self.tx.send(batch);
        }
    }

    /// One request on this worker's connection (made or remade as needed), bounded by
    /// `--timeout`. The deadline is enforced by one long-lived timer per worker that is only
    /// re-armed when it fires early (a lazy watchdog): a fast answer costs no timer
    /// registration at all.
    async fn send(&mut self, slot: &Slot) -> (Outcome, u16) {
        self.started += 1;
        let deadline = Instant::now() + self.shared.timeout;
        let watchdog = self
            .watchdog
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        let result = {
            let exchange = exchange(
                &mut self.conn,
                &mut self.request,
                &mut self.variant_cache,
                &self.shared,
                slot,
            );
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    r = &mut exchange => break r,
                    _ = watchdog.as_mut() => {
                        if Instant::now() >= deadline {
                            break Err(Outcome::Timeout);
                        }
                        watchdog.as_mut().reset(deadline.into());
                    }
                }
            }
        };
        match result {
            Ok((status, variant)) => (Outcome::Status(status), variant),
            Err(outcome) => {
                // A timed-out connection is mid-answer and a broken one is gone.
                self.conn = None;
                (outcome, NO_VARIANT)
            }
        }
    }
}

/// The id of a variant header value, through the worker's cache.
fn variant_id(cache: &mut Vec<(Vec<u8>, u16)>, names: &VariantNames, v: &[u8]) -> u16 {
    if let Some((_, id)) = cache.iter().find(|(h, _)| h == v) {
        return *id;
    }
    let id = names.intern(v);
    if cache.len() < MAX_VARIANTS {
        cache.push((v.to_vec(), id));
    }
    id
}

/// Send request `slot` on `conn`, opening or reopening the connection as needed. Returns
/// the status and the variant id.
async fn exchange(
    conn: &mut Option<Conn>,
    request: &mut Vec<u8>,
    cache: &mut Vec<(Vec<u8>, u16)>,
    shared: &Shared,
    slot: &Slot,
) -> Result<(u16, u16), Outcome> {
    let target = &shared.target;
    // The server closed the idle connection (keep-alive limit or timeout): nothing was sent
    // on it, so reconnecting is not an error.
    let stale = match conn.as_mut() {
        Some(Conn::H1(c)) => c.is_stale(),
        Some(Conn::H2(c)) => !c.ready().await,
        None => true,
    };
    if stale {
        *conn = None;
        *conn = Some(match target.protocol {
            Protocol::Http1 => Conn::H1(h1::Conn::open(shared.addr).await.map_err(|_| Outcome::Connect)?),
            Protocol::H2c | Protocol::Grpc => Conn::H2(H2Conn::open(shared.addr).await?),
        });
    }
    match conn.as_mut() {
        Some(Conn::H1(c)) => {
            target.write_request(slot.index, request);
            let head_request = target.method == hyper::Method::HEAD;
            let answer = c
                .exchange(request, head_request, VARIANT_HEADER, |v| {
                    variant_id(cache, &shared.variants, v)
                })
                .await
                .map_err(|_| Outcome::Io)?;
            if !answer.reusable {
                *conn = None;
            }
            Ok((answer.status, answer.variant.unwrap_or(NO_VARIANT)))
        }
        Some(Conn::H2(c)) => {
            let mut req = Request::new(Full::new(target.body(slot.index)));
            *req.method_mut() = target.method.clone();
            *req.uri_mut() = target.absolute.clone();
            *req.headers_mut() = target.headers.clone();
            // HTTP/2 carries the authority as a pseudo-header.
            req.headers_mut().remove(HOST);
            if let Some(key) = target.routing_key(slot.index) {
                req.headers_mut().insert(ROUTING_KEY_HEADER, key.clone());
            }
            let (answer, alive) = c.round_trip(req).await;
            if !alive {
                *conn = None;
            }
            let (mut status, variant, grpc) = answer?;
            if target.protocol == Protocol::Grpc {
                // A gRPC answer without a grpc-status is a broken exchange.
                status = status_of_code(tonic::Code::from(grpc.ok_or(Outcome::Io)? as i32));
            }
            let id = match variant {
                Some(v) => variant_id(cache, &shared.variants, &v),
                None => NO_VARIANT,
            };
            Ok((status, id))
        }
        None => Err(Outcome::Connect),
    }
}
