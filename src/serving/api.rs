//! The admin API's replies, as typed structs: the gateway serialises them and the client
//! (`crate::client`) deserialises the same structs, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::rollout::guard::Evaluation;
use crate::rollout::stats::Disagreement;
use crate::rollout::{ArmWeight, RolloutState};
use crate::store::EventRecord;
use crate::wire::v2::TensorMetadata;

/// `POST /admin/v1/blobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobStored {
    pub sha256: String,
    pub size: u64,
}

/// `POST /admin/v1/models/{m}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRegistered {
    pub model: String,
    pub version: String,
    /// `onnx` or `upstream`.
    pub runtime: String,
    /// False when the same version was registered before with the same source.
    pub created: bool,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
    /// What the ONNX loader rewrote or noticed (e.g. a scikit-learn ZipMap removed).
    pub notes: Vec<String>,
}

/// `PUT /admin/v1/models/{m}/route`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteSet {
    pub model: String,
    pub live_version: String,
    pub previous_version: Option<String>,
    /// Time from the call to the new route being live.
    pub swap_us: u64,
    /// The version was live already: nothing changed, no event was written.
    #[serde(default)]
    pub unchanged: bool,
}

/// `GET /admin/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub model: String,
    pub live_version: Option<String>,
    /// The deployment's strategy (`single`, `canary`, …), when deployed.
    pub strategy: Option<String>,
    /// The deployment's state (`progressing`, `promoted`, …), when deployed.
    pub state: Option<String>,
    pub updated_at: Option<String>,
    pub versions: Vec<VersionEntry>,
}

impl ModelEntry {
    /// A rollout with a strategy, or one that is still running.
    pub fn has_rollout(&self) -> bool {
        !matches!(self.strategy.as_deref(), None | Some("single"))
            || matches!(self.state.as_deref(), Some("progressing") | Some("paused"))
    }

    /// Whether a rollout is routing traffic now.
    pub fn rollout_active(&self) -> bool {
        matches!(self.state.as_deref(), Some("progressing") | Some("paused"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: String,
    pub runtime: String,
    /// `sha256:<first 12>` for ONNX, the URL for upstream versions.
    pub source: String,
    pub created_at: String,
    pub loaded: bool,
    pub live: bool,
    /// Why a registered version could not be loaded at start.
    pub load_error: Option<String>,
}

/// `GET /admin/v1/models/{m}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    pub events: Vec<EventRecord>,
}

/// `GET /admin/v1/notify`: each webhook target's delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyStatus {
    pub targets: Vec<super::notify::TargetStatus>,
}

/// `GET /admin/v1/replicas`: the replicas sharing this gateway's database (empty for a
/// lone gateway on SQLite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaList {
    /// The replica that answered.
    pub this: Option<String>,
    /// The newest audit event in the database (a replica serving an older one is behind).
    pub newest_event: i64,
    pub leader_epoch: i64,
    pub replicas: Vec<crate::store::replicas::ReplicaRecord>,
}

/// `POST /v1/outcomes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomesAccepted {
    pub accepted: usize,
}

/// `GET /admin/v1/models/{m}/rollout`: state, weights, the latest guard evaluation and
/// the current step's per-arm figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub model: String,
    pub live_version: Option<String>,
    pub weights: Option<Vec<ArmWeight>>,
    pub rollout: Option<RolloutState>,
    pub evaluation: Option<Evaluation>,
    pub arms: Vec<ArmFigures>,
    pub shadow_dropped: u64,
}

/// One arm's figures in the current step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmFigures {
    pub version: String,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Shadow: answers compared with the stable version's, and the share that agreed.
    pub compared: u64,
    pub agreement: Option<f64>,
    pub top_disagreements: Vec<Disagreement>,
}

/// `POST /admin/v1/monitors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorAdded {
    pub id: i64,
    pub model: String,
    pub columns: Vec<String>,
}

/// One monitor in `GET /admin/v1/monitors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorInfo {
    pub id: i64,
    pub model: String,
    pub columns: Vec<String>,
    pub method: String,
    pub window_ms: u64,
    pub consecutive: u32,
    pub retention_ms: u64,
    /// Webhook targets, redacted to scheme://host:port.
    pub notify: Vec<String>,
    /// Per version: is the alert firing.
    pub firing: std::collections::BTreeMap<String, bool>,
    /// Rows in the window in progress, per version.
    pub window_rows: std::collections::BTreeMap<String, u64>,
    /// Bytes held by the window in progress (bounded per column).
    pub window_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorList {
    pub monitors: Vec<MonitorInfo>,
}

/// `GET /admin/v1/monitors/{id}/windows`: finished windows, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorWindows {
    pub monitor: MonitorInfo,
    pub windows: Vec<crate::drift::monitor::WindowResult>,
}
