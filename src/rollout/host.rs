//! The seam between the rollout controller and the gateway that hosts it. The controller
//! reads routes, takes the admin lock and commits transitions only through `Host`; the
//! gateway implements it (SQLite first, then the route swap). Rollout statistics and the
//! latest guard evaluation live in one `Rollouts` value that the gateway holds.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use super::RolloutState;
use super::guard::Evaluation;
use super::stats::{ModelWindow, RolloutStats};
use crate::error::Result;
use crate::store::RouteChange;

/// A model as the gateway currently routes it.
#[derive(Debug, Clone, Default)]
pub struct Routed {
    /// The rollout (active or finished) the routes reflect.
    pub rollout: Option<RolloutState>,
    /// The stable version (serves 100% outside a rollout).
    pub live: Option<String>,
    /// Versions that are loaded and can take traffic.
    pub loaded: Vec<String>,
}

/// What the controller needs from its gateway.
pub trait Host: Send + Sync + 'static {
    /// The model's routes; `None` for a model the gateway does not know.
    fn routed(&self, model: &str) -> Option<Routed>;
    /// Models whose rollout is progressing (the controller ticks these).
    fn progressing(&self) -> Vec<String>;
    /// Serialises admin changes (a commit and its route swap) against each other.
    fn admin_lock(&self) -> &tokio::sync::Mutex<()>;
    /// Make `change` durable (deployment row and audit event in one transaction), then
    /// route by it. Called with the admin lock held.
    fn commit(&self, change: RouteChange) -> impl Future<Output = Result<()>> + Send;
    /// The rollouts' statistics and latest evaluations.
    fn rollouts(&self) -> &Rollouts;
    /// Append an audit event that changes no state (a dry-run verdict).
    fn record_event(
        &self,
        model: &str,
        kind: &str,
        detail: serde_json::Value,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Whether this gateway drives rollouts (a lone gateway always; of replicas sharing
    /// a database, only the elected leader).
    fn is_controller(&self) -> bool {
        true
    }
    /// Bring the other replicas' statistics of `model`'s step `step_id` up to date
    /// before a verdict (a lone gateway has none).
    fn refresh_window(&self, model: &str, step_id: u64) -> impl Future<Output = ()> + Send {
        let _ = (model, step_id);
        async {}
    }
    /// Ask a gate: a signed POST of `payload` to `url`; Ok on a 2xx, else why not.
    fn call_gate(
        &self,
        url: &str,
        payload: serde_json::Value,
    ) -> impl Future<Output = std::result::Result<(), String>> + Send;
}

/// The rollout side of a gateway: per-step statistics fed by the data plane and the
/// controller's latest guard evaluation per model (for `status`).
#[derive(Default)]
pub struct Rollouts {
    pub stats: RolloutStats,
    last_eval: Mutex<HashMap<String, Evaluation>>,
    /// (model, step) pairs whose dry-run trip is already in the audit log.
    dry_run_recorded: Mutex<std::collections::HashSet<(String, u64)>>,
    /// Steps held at a gate.
    pub gates: super::gates::GateTracker,
    /// Readings of `prom:` guards.
    pub prom: super::prom::PromTracker,
    /// The other replicas' statistics of each model's current step, merged (replicas
    /// sharing a database; empty on a lone gateway).
    remote: Mutex<HashMap<String, ModelWindow>>,
}

impl Rollouts {
    pub fn set_evaluation(&self, model: &str, ev: Evaluation) {
        self.last_eval
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(model.to_string(), ev);
    }

    /// True the first time it is asked for `model`'s step `step_id`.
    pub fn first_dry_run_trip(&self, model: &str, step_id: u64) -> bool {
        self.dry_run_recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((model.to_string(), step_id))
    }

    /// Replace the other replicas' merged window of `model`.
    pub fn set_remote(&self, model: &str, window: ModelWindow) {
        self.remote
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(model.to_string(), window);
    }

    /// The window of `model`'s step `step_id` over every replica: this gateway's own
    /// statistics plus the others' latest publications of the same step.
    pub fn window(&self, model: &str, step_id: u64) -> ModelWindow {
        let mut w = self.stats.snapshot(model, step_id);
        let remote = self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = remote.get(model).filter(|r| r.step_id == step_id) {
            w.merge(r);
        }
        w
    }

    pub fn evaluation(&self, model: &str) -> Option<Evaluation> {
        self.last_eval
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(model)
            .cloned()
    }
}
