//! Shared gateway state: the durable store, the loaded model versions and the route
//! table (an `ArcSwap`, swapped only after the change it reflects is committed).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::log::LogSink;
use super::metrics::{LiveLabels, Metrics};
use super::runtime::upstream::{self, UpstreamModel};
use super::runtime::{LoadedVersion, Runtime};
use crate::error::{Error, Result};
use crate::store::{DeploymentRecord, Store, VersionRecord, VersionSource};

/// Gateway settings (from `mlctl serve` flags).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub max_body: usize,
    pub max_blob: usize,
    pub require_token_for_inference: bool,
    /// Share of requests whose inputs are written to the prediction log (0..=1).
    pub log_inputs: f64,
    pub log_policy: super::log::LogPolicy,
    pub default_upstream_timeout: Duration,
    /// Worker threads for the async runtime and permits for concurrent inferences.
    pub inference_threads: usize,
}

/// One model's routes: every loaded version and the live one.
#[derive(Clone)]
pub struct ModelRoute {
    pub live: Option<Arc<LoadedVersion>>,
    pub salt: String,
    pub versions: BTreeMap<String, Arc<LoadedVersion>>,
}

#[derive(Clone, Default)]
pub struct RouteTable {
    pub models: HashMap<String, ModelRoute>,
}

pub struct AppState {
    pub config: ServeConfig,
    pub token: String,
    pub store: Mutex<Store>,
    pub routes: ArcSwap<RouteTable>,
    /// Serialises admin changes (store commit + route swap) against each other.
    pub admin_lock: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    pub predictions: LogSink,
    pub outcomes: LogSink,
    pub infer_permits: Arc<tokio::sync::Semaphore>,
    pub http: reqwest::Client,
    /// Versions that are registered but failed to load at start, with the reason.
    pub load_failures: Mutex<LoadFailures>,
}

impl AppState {
    /// Run `f` on the store from the blocking pool (SQLite fsyncs must not stall the
    /// async workers).
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let st = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = st
                .store
                .lock()
                .map_err(|_| Error::State("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::State(format!("store task failed: {e}")))?
    }

    /// Publish a new route table (after its change was committed) and update gauges.
    pub fn publish(&self, table: RouteTable) {
        self.metrics.live_weight.clear();
        for (name, route) in &table.models {
            if let Some(live) = &route.live {
                self.metrics
                    .live_weight
                    .get_or_create(&LiveLabels {
                        model: name.clone(),
                        version: live.version.clone(),
                    })
                    .set(100);
            }
        }
        self.routes.store(Arc::new(table));
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Load one registered version (ONNX: from its blob; upstream: no I/O here).
pub fn load_version(store: &Store, http: &reqwest::Client, rec: &VersionRecord) -> Result<LoadedVersion> {
    match &rec.source {
        VersionSource::Onnx { blob_sha256 } => {
            #[cfg(feature = "onnx")]
            {
                let bytes = store.read_blob(blob_sha256)?;
                let model = super::runtime::onnx::OnnxModel::load(&bytes)?;
                Ok(LoadedVersion {
                    model: rec.model.clone(),
                    version: rec.version.clone(),
                    inputs: model.inputs(),
                    outputs: model.outputs(),
                    notes: model.notes.clone(),
                    runtime: Runtime::Onnx(Arc::new(model)),
                })
            }
            #[cfg(not(feature = "onnx"))]
            {
                let _ = (store, blob_sha256);
                Err(Error::Model("this mlctl was built without the onnx feature".into()))
            }
        }
        VersionSource::Upstream { url, timeout_ms } => {
            let model_url = upstream::model_url(url, &rec.model).map_err(Error::Usage)?;
            Ok(LoadedVersion {
                model: rec.model.clone(),
                version: rec.version.clone(),
                runtime: Runtime::Upstream(UpstreamModel::new(
                    http.clone(),
                    model_url,
                    Duration::from_millis((*timeout_ms).max(1)),
                )),
                inputs: vec![],
                outputs: vec![],
                notes: vec![],
            })
        }
    }
}

/// Versions that failed to load, by (model, version), with the reason.
pub type LoadFailures = BTreeMap<(String, String), String>;

/// Build the route table from what the store holds: every version loaded, every
/// deployment's live version routed. Versions that fail to load are reported, not fatal.
pub fn restore(store: &Store, http: &reqwest::Client) -> Result<(RouteTable, LoadFailures)> {
    let mut table = RouteTable::default();
    let mut failures = BTreeMap::new();
    let deployments: HashMap<String, DeploymentRecord> =
        store.deployments()?.into_iter().map(|d| (d.model.clone(), d)).collect();
    for rec in store.versions(None)? {
        let entry = table.models.entry(rec.model.clone()).or_insert_with(|| ModelRoute {
            live: None,
            salt: deployments.get(&rec.model).map(|d| d.salt.clone()).unwrap_or_default(),
            versions: BTreeMap::new(),
        });
        match load_version(store, http, &rec) {
            Ok(v) => {
                entry.versions.insert(rec.version.clone(), Arc::new(v));
            }
            Err(e) => {
                tracing::error!("{} version {}: cannot load: {e}", rec.model, rec.version);
                failures.insert((rec.model.clone(), rec.version.clone()), e.to_string());
            }
        }
    }
    for (model, dep) in deployments {
        if let Some(route) = table.models.get_mut(&model) {
            route.live = route.versions.get(&dep.live_version).cloned();
        }
    }
    Ok((table, failures))
}
