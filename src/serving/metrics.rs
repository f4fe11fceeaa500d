//! Prometheus metrics (`GET /metrics`, text exposition format, prometheus-client).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::log::LogHealth;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub model: String,
    pub version: String,
    pub role: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub model: String,
    pub version: String,
    pub role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LogLabels {
    /// `predictions` or `outcomes`.
    pub log: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LiveLabels {
    pub model: String,
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabels {
    /// The webhook target, redacted to scheme://host:port.
    pub target: String,
    /// `delivered`, `retried` or `failed` (given up).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub model: String,
    /// The audit event: rollout_start, step, extend, pause, resume, promote, rollback,
    /// route, dry_run_trip, gate_hold, approve.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeatureLabels {
    pub table: String,
    pub feature: String,
    /// `unknown_entity`, `stale` (defaulted) or `stale_served`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeatureTableLabels {
    pub table: String,
    /// `store_error`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub model: String,
    pub version: String,
    pub column: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftStatLabels {
    pub model: String,
    pub version: String,
    pub column: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftRowsLabels {
    pub model: String,
    pub version: String,
    pub monitor: String,
}

pub struct Metrics {
    registry: Registry,
    pub drift_statistic: Family<DriftStatLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub drift_detected: Family<DriftLabels, Gauge>,
    pub monitor_window_rows: Family<DriftRowsLabels, Gauge>,
    pub feature_missing: Family<FeatureLabels, Counter>,
    pub feature_fallback: Family<FeatureTableLabels, Counter>,
    pub notify: Family<NotifyLabels, Counter>,
    pub transitions: Family<TransitionLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub errors: Family<RequestLabels, Counter>,
    pub latency: Family<VersionLabels, Histogram>,
    pub in_flight: Gauge,
    pub outcomes: Counter,
    pub live_weight: Family<LiveLabels, Gauge>,
    pub shadow_dropped: Counter,
    pub log_write_errors: Family<LogLabels, Counter>,
    pub log_dropped: Family<LogLabels, Counter>,
    /// Seconds from a route change's commit to this replica routing by it (replicas).
    pub route_propagation: Histogram,
    /// 1 while this replica is the elected controller (replicas).
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts one request in `mlctl_in_flight_requests` for as long as it lives. A client that
/// disconnects mid-request makes the server drop the handler's future; the guard still
/// takes the request off the gauge.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The metric handles of one loaded version, per role: its status-200 request counter and
/// its latency histogram, taken from their families on the first request and reused, so a
/// request clones no label strings and hashes no label set (answers other than 200 still
/// go through the families).
#[derive(Default)]
pub struct VersionHandles {
    roles: std::sync::RwLock<Vec<RoleHandles>>,
}

struct RoleHandles {
    role: String,
    ok: Counter,
    latency: Histogram,
}

impl Metrics {
    /// Count one answered request of `model`/`version` in `role` with `status`, and its
    /// latency, through `handles` (the version's).
    pub fn observe_request(&self, handles: &VersionHandles, labels: (&str, &str, &str), status: u16, seconds: f64) {
        let (model, version, role) = labels;
        let found = handles
            .roles
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|h| h.role == role)
            .map(|h| (h.ok.clone(), h.latency.clone()));
        let (ok, latency) = found.unwrap_or_else(|| {
            let labels = RequestLabels {
                model: model.to_string(),
                version: version.to_string(),
                role: role.to_string(),
                status: "200".into(),
            };
            let ok = self.requests.get_or_create(&labels).clone();
            let latency = self
                .latency
                .get_or_create(&VersionLabels {
                    model: labels.model,
                    version: labels.version,
                    role: labels.role,
                })
                .clone();
            let mut roles = handles.roles.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !roles.iter().any(|h| h.role == role) {
                roles.push(RoleHandles {
                    role: role.to_string(),
                    ok: ok.clone(),
                    latency: latency.clone(),
                });
            }
            (ok, latency)
        });
        latency.observe(seconds);
        if status == 200 {
            ok.inc();
            return;
        }
        let labels = RequestLabels {
            model: model.to_string(),
            version: version.to_string(),
            role: role.to_string(),
            status: status.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        if !(200..300).contains(&status) {
            self.errors.get_or_create(&labels).inc();
        }
    }

    /// Count a request in flight until the returned guard is dropped.
    pub fn track_in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mlctl");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<RequestLabels, Counter>::default();
        let latency = Family::<VersionLabels, Histogram>::new_with_constructor(|| {
            // 50 µs .. ~26 s
            Histogram::new(exponential_buckets(0.00005, 2.0, 20))
        });
        let in_flight = Gauge::default();
        let outcomes = Counter::default();
        let live_weight = Family::<LiveLabels, Gauge>::default();
        let shadow_dropped = Counter::default();
        registry.register(
            "shadow_dropped",
            "Mirrored requests dropped because the shadow queue was full",
            shadow_dropped.clone(),
        );
        registry.register(
            "requests",
            "Inference requests by model, version, role and HTTP status",
            requests.clone(),
        );
        registry.register(
            "request_errors",
            "Inference requests answered with an error status",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Inference latency inside the gateway",
            latency.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Inference requests being served now",
            in_flight.clone(),
        );
        registry.register("outcomes", "Outcome records accepted on /v1/outcomes", outcomes.clone());
        registry.register(
            "route_weight_percent",
            "Share of live traffic routed to a version",
            live_weight.clone(),
        );
        let log_write_errors = Family::<LogLabels, Counter>::default();
        let log_dropped = Family::<LogLabels, Counter>::default();
        registry.register(
            "log_write_errors",
            "Failed writes, flushes and fsyncs of the prediction and outcome logs",
            log_write_errors.clone(),
        );
        registry.register("log_dropped", "Log records lost to write failures", log_dropped.clone());
        let notify = Family::<NotifyLabels, Counter>::default();
        registry.register(
            "notify_deliveries",
            "Webhook delivery attempts by target and result (delivered, retried, failed)",
            notify.clone(),
        );
        let transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "rollout_transitions",
            "Rollout transitions and controller verdicts by model and kind (the audit log, counted)",
            transitions.clone(),
        );
        let feature_missing = Family::<FeatureLabels, Counter>::default();
        registry.register(
            "feature_missing",
            "Feature lookups without a fresh stored value, by table, feature and reason (unknown_entity, stale, stale_served)",
            feature_missing.clone(),
        );
        let feature_fallback = Family::<FeatureTableLabels, Counter>::default();
        registry.register(
            "feature_fallback",
            "Feature lookups answered with the view's defaults because the store could not be read",
            feature_fallback.clone(),
        );
        let drift_statistic = Family::<DriftStatLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "drift_statistic",
            "A monitored column's drift statistic in the last finished window (the p-value for ks and chisquare)",
            drift_statistic.clone(),
        );
        let drift_detected = Family::<DriftLabels, Gauge>::default();
        registry.register(
            "drift_detected",
            "1 when a monitored column drifted in the last finished window",
            drift_detected.clone(),
        );
        let monitor_window_rows = Family::<DriftRowsLabels, Gauge>::default();
        registry.register(
            "monitor_window_rows",
            "Rows in a monitor's last finished window",
            monitor_window_rows.clone(),
        );
        let route_propagation = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "route_propagation_seconds",
            "Time from a route change's commit (any replica) to this replica routing by it",
            route_propagation.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "replica_leader",
            "1 while this replica is the elected rollout controller",
            leader.clone(),
        );
        Metrics {
            route_propagation,
            leader,
            registry,
            drift_statistic,
            drift_detected,
            monitor_window_rows,
            feature_missing,
            feature_fallback,
            notify,
            transitions,
            log_write_errors,
            log_dropped,
            requests,
            errors,
            latency,
            in_flight,
            outcomes,
            live_weight,
            shadow_dropped,
        }
    }

    /// The health of one log, reporting into this registry.
    pub fn log_health(&self, kind: crate::wire::log::LogKind) -> LogHealth {
        let labels = LogLabels {
            log: kind.prefix().to_string(),
        };
        LogHealth::new(
            self.log_write_errors.get_or_create(&labels).clone(),
            self.log_dropped.get_or_create(&labels).clone(),
        )
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("metrics encoding failed: {e}");
        }
        out
    }
}
