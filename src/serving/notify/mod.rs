//! Webhooks: one signed POST per rollout transition, per target, in order.
//!
//! The audit events table is the outbox (`store::outbox`): a transition is committed
//! there before the route swaps, and one worker per target URL walks the table in id
//! order, posts each event meant for it, and only then moves its durable cursor. So the
//! route swap never waits for a receiver, every message goes out once and in order per
//! target (per model too), a receiver that is down gets the backlog when it is back, and
//! a restarted gateway resumes where delivery stopped. A message that still fails after
//! `--notify-retry-for` (exponential backoff, 250 ms doubling to 30 s) is given up, counted
//! and recorded with its error; the next one follows.
//!
//! Targets: `serve --notify URL` hears every model's transitions; `deploy --notify URL`
//! hears its rollout's, from its start to its end. Body: JSON (model, kind, actor, states,
//! stable/candidate, weights, reason, evidence, a one-line `text`); a Slack incoming
//! webhook URL (`https://hooks.slack.com/…`) or a URL prefixed `slack+` gets Slack's
//! `{"text": …}` instead. Every POST carries `X-Mlctl-Signature: sha256=HEX`, the
//! HMAC-SHA256 of the body under the gateway's notify secret (`--notify-secret-file`,
//! default `<data>/notify-secret`), `X-Mlctl-Event` and `X-Mlctl-Delivery` (the event id,
//! for de-duplication by receivers). URLs are shown redacted (scheme, host and port) in
//! logs, status and metrics: Slack-style URLs carry their secret in the path.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod message;

pub use message::message;
use message::{MONITOR_KINDS, alertmanager_body, detail_targets, rollout_targets};

use super::metrics::NotifyLabels;
use crate::error::{Error, Result};
use crate::store::outbox::NotifyCursor;
use crate::store::{EventRecord, Store};

/// Audit events that are rollout transitions (and so are notified).
pub const NOTIFIED_KINDS: &[&str] = &[
    "rollout_start",
    "step",
    "extend",
    "pause",
    "resume",
    "promote",
    "rollback",
    "dry_run_trip",
    "route",
    "gate_hold",
    "approve",
    "monitor_alert",
    "monitor_resolve",
];

const POLL: Duration = Duration::from_millis(250);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A target URL without its format prefix (`slack+`, `alertmanager+`).
fn endpoint_of(url: &str) -> &str {
    url.strip_prefix("slack+")
        .or_else(|| url.strip_prefix("alertmanager+"))
        .unwrap_or(url)
}

/// Check a `--notify` URL: http(s), optionally prefixed `slack+` (Slack-compatible text)
/// or `alertmanager+` (an Alertmanager base URL: alerts go to its `/api/v2/alerts`).
pub fn check_url(flag: &str, url: &str) -> Result<()> {
    if crate::parse::is_http_url(endpoint_of(url)) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{flag} {}: expected an http(s) URL (or slack+https://… for a Slack-compatible receiver, alertmanager+http://… for Alertmanager)",
        redact(url)
    )))
}

/// `scheme://host:port/…`: what may be shown of a target URL.
pub fn redact(url: &str) -> String {
    let (prefix, plain) = match url.strip_prefix("slack+") {
        Some(rest) => ("slack+", rest),
        None => ("", url),
    };
    match reqwest::Url::parse(plain) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path().len() > 1 || u.query().is_some() {
                "/…"
            } else {
                ""
            };
            format!("{prefix}{}://{}{port}{rest}", u.scheme(), u.host_str().unwrap_or("?"))
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

/// Redact the webhook URLs a recorded rollout spec carries (`detail.spec.notify`).
pub fn redact_event(detail: &mut Value) {
    if let Some(urls) = detail
        .get_mut("spec")
        .and_then(|s| s.get_mut("notify"))
        .and_then(Value::as_array_mut)
    {
        for u in urls {
            if let Some(s) = u.as_str() {
                *u = Value::String(redact(s));
            }
        }
    }
}

/// The cursor key of a target: its redacted form and a hash of the whole URL.
pub fn target_key(url: &str) -> String {
    let h = hex::encode(Sha256::digest(url.as_bytes()));
    format!("{} #{}", redact(url), &h[..12])
}

fn is_slack(url: &str) -> bool {
    url.starts_with("slack+") || url.starts_with("https://hooks.slack.com/")
}

/// `sha256=HEX` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The notifier's settings (`serve --notify…`).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Server-wide targets: every model's transitions.
    pub targets: Vec<String>,
    pub secret: Vec<u8>,
    pub retry_for: Duration,
}

/// One target's delivery state, for `status` and the admin API.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TargetStatus {
    pub target: String,
    pub delivered: u64,
    pub failed: u64,
    /// Events after the cursor (an upper bound: some may be for other targets).
    pub behind: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

pub struct Notifier {
    config: NotifyConfig,
    store: Arc<Mutex<Store>>,
    client: reqwest::Client,
    wake: tokio::sync::Notify,
    running: Mutex<HashSet<String>>,
    deliveries: Family<NotifyLabels, Counter>,
    /// Whether this gateway delivers (of replicas sharing a database, only the leader:
    /// the cursors are shared, so each message goes out once, from one replica).
    active: std::sync::atomic::AtomicBool,
}

impl Notifier {
    pub fn new(config: NotifyConfig, store: Arc<Mutex<Store>>, deliveries: Family<NotifyLabels, Counter>) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Notifier {
            config,
            store,
            client,
            wake: tokio::sync::Notify::new(),
            running: Mutex::new(HashSet::new()),
            deliveries,
            active: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Deliver (true) or stand by (false); a worker that resumes re-reads its cursor
    /// from the database, where another replica may have moved it.
    pub fn set_active(&self, active: bool) {
        let was = self.active.swap(active, std::sync::atomic::Ordering::SeqCst);
        if active && !was {
            self.wake();
        }
    }

    fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// New events may be waiting: workers look now instead of at their next poll.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&mut store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
            .await
            .map_err(|e| Error::State(format!("store task failed: {e}")))?
    }

    /// Start the workers: the server-wide targets (from the present on), and every target
    /// a rollout ever named (resuming its cursor); then watch for rollouts naming new ones.
    pub async fn start(self: Arc<Self>) -> Result<()> {
        let now = self.with_store(|s| s.max_event_id()).await?;
        for url in self.config.targets.clone() {
            self.ensure_worker(url, now).await?;
        }
        let mut seen = 0;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.discover(&mut seen).await {
                    tracing::warn!("notifier: {e}");
                }
                tokio::select! {
                    _ = me.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        });
        Ok(())
    }

    /// Rollout starts after `seen` that name targets: start their workers.
    async fn discover(self: &Arc<Self>, seen: &mut i64) -> Result<()> {
        loop {
            let after = *seen;
            let events = self.with_store(move |s| s.events_after(after, 500)).await?;
            let Some(last) = events.last() else { return Ok(()) };
            *seen = last.id;
            for e in events.iter().filter(|e| e.kind == "rollout_start") {
                for url in rollout_targets(e) {
                    self.ensure_worker(url, e.id - 1).await?;
                }
            }
            for e in events.iter().filter(|e| e.kind == "monitor_add") {
                for url in detail_targets(e) {
                    self.ensure_worker(url, e.id - 1).await?;
                }
            }
        }
    }

    async fn ensure_worker(self: &Arc<Self>, url: String, from: i64) -> Result<()> {
        if !self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(url.clone())
        {
            return Ok(());
        }
        let key = target_key(&url);
        let k = key.clone();
        let cursor = self.with_store(move |s| s.init_notify_cursor(&k, from)).await?;
        let me = self.clone();
        tokio::spawn(async move { me.worker(url, key, cursor.last_event_id).await });
        Ok(())
    }

    /// Is event `e` for target `url`? (and the rollout start it belongs to, for the message)
    async fn route_of(&self, url: &str, e: &EventRecord) -> Result<(bool, Option<EventRecord>)> {
        if !NOTIFIED_KINDS.contains(&e.kind.as_str()) {
            return Ok((false, None));
        }
        let global = self.config.targets.iter().any(|t| t == url);
        if MONITOR_KINDS.contains(&e.kind.as_str()) {
            return Ok((global || detail_targets(e).iter().any(|t| t == url), None));
        }
        let (model, id) = (e.model.clone(), e.id);
        let start = self.with_store(move |s| s.rollout_start_before(&model, id)).await?;
        let of_rollout = start
            .as_ref()
            .is_some_and(|(s, ended)| !ended && rollout_targets(s).iter().any(|t| t == url));
        Ok((global || of_rollout, start.map(|(s, _)| s)))
    }

    async fn worker(self: Arc<Self>, url: String, key: String, mut cursor: i64) {
        let mut standing_by = false;
        loop {
            if !self.is_active() {
                standing_by = true;
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            if standing_by {
                let (k, at) = (key.clone(), cursor);
                match self.with_store(move |s| s.init_notify_cursor(&k, at)).await {
                    Ok(c) => cursor = c.last_event_id,
                    Err(e) => {
                        tracing::warn!("notifier {}: {e}", redact(&url));
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                }
                standing_by = false;
            }
            let after = cursor;
            let events = match self.with_store(move |s| s.events_after(after, 100)).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("notifier {}: {e}", redact(&url));
                    Vec::new()
                }
            };
            if events.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            for e in events {
                let (mine, start) = match self.route_of(&url, &e).await {
                    Ok(r) => r,
                    Err(err) => {
                        tracing::warn!("notifier {}: {err}", redact(&url));
                        tokio::time::sleep(POLL).await;
                        break;
                    }
                };
                if mine {
                    let outcome = self.deliver(&url, &key, &e, start.as_ref()).await;
                    let (k, id) = (key.clone(), e.id);
                    let err = outcome.err();
                    if let Err(store_err) = self
                        .with_store(move |s| s.advance_notify_cursor(&k, id, err.as_deref()))
                        .await
                    {
                        // Not moved: this message will be sent again (at least once).
                        tracing::warn!("notifier {}: {store_err}", redact(&url));
                        tokio::time::sleep(POLL).await;
                        break;
                    }
                }
                cursor = e.id;
            }
        }
    }

    /// POST one event until a 2xx or `retry_for` has passed; the final error otherwise.
    async fn deliver(
        &self,
        url: &str,
        key: &str,
        e: &EventRecord,
        start: Option<&EventRecord>,
    ) -> std::result::Result<(), String> {
        let msg = message(e, start);
        let alertmanager = url.starts_with("alertmanager+");
        let body = if is_slack(url) {
            json!({"text": msg["text"]})
        } else if alertmanager {
            alertmanager_body(e, &msg)
        } else {
            msg
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let endpoint = match alertmanager {
            true => format!("{}/api/v2/alerts", endpoint_of(url).trim_end_matches('/')),
            false => endpoint_of(url).to_string(),
        };
        let endpoint = endpoint.as_str();
        let delivery = e.id.to_string();
        let label = |result: &str| NotifyLabels {
            target: redact(url),
            result: result.into(),
        };
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let error = match self.post_signed(endpoint, &e.kind, Some(&delivery), body.clone()).await {
                Ok(()) => {
                    self.deliveries.get_or_create(&label("delivered")).inc();
                    return Ok(());
                }
                Err(error) => error,
            };
            if started.elapsed() + backoff > self.config.retry_for {
                self.deliveries.get_or_create(&label("failed")).inc();
                tracing::warn!(
                    "notifier {}: event {} ({}) given up after {:?}: {error}",
                    redact(url),
                    e.id,
                    e.kind,
                    started.elapsed()
                );
                return Err(format!("event {} given up: {error}", e.id));
            }
            self.deliveries.get_or_create(&label("retried")).inc();
            let (k, msg) = (key.to_string(), format!("event {}: {error} (retrying)", e.id));
            let _ = self.with_store(move |s| s.note_notify_error(&k, &msg)).await;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Ask a gate: one signed POST of `payload`; Ok on a 2xx.
    pub async fn call(&self, url: &str, kind: &str, payload: &Value) -> std::result::Result<(), String> {
        self.post_signed(url, kind, None, serde_json::to_vec(payload).unwrap_or_default())
            .await
    }

    /// One POST of a JSON `body` signed with the notify secret; Ok on a 2xx, else why not
    /// (its kind only: a transport error's text may name the URL, which may hold a secret).
    async fn post_signed(
        &self,
        url: &str,
        kind: &str,
        delivery: Option<&str>,
        body: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-mlctl-signature", signature(&self.config.secret, &body))
            .header("x-mlctl-event", kind);
        if let Some(d) = delivery {
            req = req.header("x-mlctl-delivery", d);
        }
        match req.body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err("timed out".into()),
            Err(e) if e.is_connect() => Err("connection failed".into()),
            Err(_) => Err("request failed".into()),
        }
    }

    /// Every target's delivery state.
    pub async fn status(&self) -> Result<Vec<TargetStatus>> {
        self.with_store(|s| {
            let newest = s.max_event_id()?;
            let cursors: Vec<NotifyCursor> = s.notify_cursors()?;
            Ok(cursors
                .into_iter()
                .map(|c| TargetStatus {
                    behind: newest - c.last_event_id,
                    target: c.target,
                    delivered: c.delivered,
                    failed: c.failed,
                    last_error: c.last_error,
                    updated_at: c.updated_at,
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_their_secrets() {
        assert!(check_url("--notify", "https://hooks.slack.com/services/T0/B0/secret").is_ok());
        assert!(check_url("--notify", "slack+http://127.0.0.1:9/hook").is_ok());
        for bad in ["ftp://x/y", "not a url", "http://"] {
            assert!(check_url("--notify", bad).is_err(), "{bad}");
        }
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact("slack+http://127.0.0.1:9000/x?token=abc"),
            "slack+http://127.0.0.1:9000/…"
        );
        assert_eq!(redact("http://h:1"), "http://h:1");
        let k = target_key("https://hooks.slack.com/services/T0/B0/secret");
        assert!(
            k.starts_with("https://hooks.slack.com/… #") && !k.contains("secret"),
            "{k}"
        );
        assert_ne!(k, target_key("https://hooks.slack.com/services/T0/B0/other"));
    }

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_message_names_the_versions_and_the_reason() {
        let start = EventRecord {
            id: 1,
            ts: "t".into(),
            model: "churn".into(),
            actor: "admin".into(),
            kind: "rollout_start".into(),
            from_state: None,
            to_state: None,
            detail: json!({"spec": {"candidate": "2", "strategy": "canary"}, "stable": "1"}),
        };
        let rb = EventRecord {
            id: 2,
            kind: "rollback".into(),
            actor: "controller".into(),
            detail: json!({"reason": "guard tripped: error_rate<0.01 on 2", "evidence": {"guards": []},
                           "weights": [{"version": "1", "percent": 100.0}]}),
            ..start.clone()
        };
        let m = message(&rb, Some(&start));
        assert_eq!((m["candidate"].as_str(), m["stable"].as_str()), (Some("2"), Some("1")));
        assert_eq!(m["guard_tripped"], true);
        assert_eq!(m["weights"][0]["percent"], 100.0);
        assert_eq!(
            m["text"],
            "mlctl: churn: rolled back (candidate 2, stable 1) by controller: guard tripped: error_rate<0.01 on 2"
        );
    }
}
