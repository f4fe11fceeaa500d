//! Loading registered versions: ONNX blobs (off every lock, one at a time, within
//! `--load-timeout`, loader panics caught) and upstreams, and rebuilding the route table
//! from the store at start.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::runtime::upstream::{self, UpstreamModel};
use super::runtime::{LoadedVersion, Runtime};
use super::state::{AppState, LoadFailures, ModelRoute, RouteTable};
use crate::error::{Error, Result};
use crate::store::{DeploymentRecord, Store, VersionRecord, VersionSource};

impl AppState {
    pub fn load_context(&self) -> LoadContext {
        LoadContext {
            http: self.http.clone(),
            max_response: self.config.max_response,
        }
    }
}

/// Load one registered version: ONNX from `onnx` (the blob's bytes), upstream with no I/O.
/// A panic inside the ONNX loader (tract asserts on some malformed or oversized graphs) is
/// caught here and reported as a model error: it never unwinds through shared state.
/// What loading a version needs besides its record: the shared HTTP client and the
/// largest upstream answer accepted.
#[derive(Clone)]
pub struct LoadContext {
    pub http: reqwest::Client,
    pub max_response: usize,
}

pub fn load_version(rec: &VersionRecord, onnx: Option<&[u8]>, ctx: &LoadContext) -> Result<LoadedVersion> {
    let view = rec
        .features
        .as_deref()
        .map(|text| crate::features::view::parse_view_text("feature view", text))
        .transpose()?;
    let mut v = load_runtime(rec, onnx, ctx)?;
    if let Some(view) = view {
        crate::features::view::check_inputs(&view, &v.inputs)?;
        v.view = Some(Arc::new(view));
    }
    Ok(v)
}

fn load_runtime(rec: &VersionRecord, onnx: Option<&[u8]>, ctx: &LoadContext) -> Result<LoadedVersion> {
    match &rec.source {
        VersionSource::Onnx { .. } => {
            #[cfg(feature = "onnx")]
            {
                let bytes = onnx.ok_or_else(|| Error::State("ONNX version loaded without its blob".into()))?;
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    super::runtime::onnx::OnnxModel::load(bytes)
                }));
                let model = match loaded {
                    Ok(m) => m?,
                    Err(panic) => {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown reason".into());
                        return Err(Error::Model(format!("the ONNX loader failed on this model: {why}")));
                    }
                };
                Ok(LoadedVersion {
                    model: rec.model.clone(),
                    version: rec.version.clone(),
                    inputs: model.inputs(),
                    outputs: model.outputs(),
                    notes: model.notes.clone(),
                    runtime: Runtime::Onnx(Arc::new(model)),
                    view: None,
                    metrics: Default::default(),
                })
            }
            #[cfg(not(feature = "onnx"))]
            {
                let _ = onnx;
                Err(Error::Model("this mlctl was built without the onnx feature".into()))
            }
        }
        VersionSource::Upstream { url, timeout_ms } => {
            let model_url = upstream::model_url(url, &rec.model).map_err(Error::Usage)?;
            Ok(LoadedVersion {
                model: rec.model.clone(),
                version: rec.version.clone(),
                runtime: Runtime::Upstream(
                    UpstreamModel::new(ctx.http.clone(), model_url, Duration::from_millis((*timeout_ms).max(1)))
                        .map_err(Error::Usage)?
                        .with_max_response(ctx.max_response),
                ),
                inputs: vec![],
                outputs: vec![],
                notes: vec![],
                view: None,
                metrics: Default::default(),
            })
        }
    }
}

/// Read a version's blob from `blob_dir` (ONNX) and load it.
fn load_from(rec: &VersionRecord, blob_dir: &std::path::Path, ctx: &LoadContext) -> Result<LoadedVersion> {
    let bytes = match &rec.source {
        VersionSource::Onnx { blob_sha256 } => Some(crate::store::read_blob_at(blob_dir, blob_sha256)?),
        VersionSource::Upstream { .. } => None,
    };
    load_version(rec, bytes.as_deref(), ctx)
}

/// Read a version's blob (if any) and load it, off the store and admin locks, on the
/// blocking pool, one load at a time, within `--load-timeout`. A load that runs past the
/// timeout fails its deploy; the thread finishes in the background and the next load
/// waits for it (at most the same timeout).
pub async fn load_isolated(st: &AppState, rec: VersionRecord) -> Result<LoadedVersion> {
    let budget = st.config.load_timeout;
    let too_slow = || {
        Error::Model(format!(
            "loading the model took longer than --load-timeout ({} s)",
            budget.as_secs_f64()
        ))
    };
    let started = std::time::Instant::now();
    let permit = tokio::time::timeout(budget, st.load_permit.clone().acquire_owned())
        .await
        .map_err(|_| Error::Model("another model is still loading; try again later".into()))?
        .map_err(|_| Error::State("gateway is shutting down".into()))?;
    let blob_dir = st.blob_dir.clone();
    let ctx = st.load_context();
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        load_from(&rec, &blob_dir, &ctx)
    });
    let left = budget.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, job).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(Error::State(format!("model load task failed: {e}"))),
        Err(_) => Err(too_slow()),
    }
}

/// Build the route table from what the store holds: every version loaded, every
/// deployment's live version routed. Versions that fail to load are reported, not fatal.
pub fn restore(store: &Store, ctx: &LoadContext) -> Result<(RouteTable, LoadFailures)> {
    let mut table = RouteTable::default();
    let mut failures = BTreeMap::new();
    let deployments: HashMap<String, DeploymentRecord> =
        store.deployments()?.into_iter().map(|d| (d.model.clone(), d)).collect();
    for rec in store.versions(None)? {
        let entry = table.models.entry(rec.model.clone()).or_insert_with(|| {
            ModelRoute::new(deployments.get(&rec.model).map(|d| d.salt.clone()).unwrap_or_default())
        });
        let cached = match &rec.source {
            VersionSource::Onnx { blob_sha256 } => store.cache_blob(blob_sha256),
            VersionSource::Upstream { .. } => Ok(()),
        };
        match cached.and_then(|()| load_from(&rec, store.blob_dir(), ctx)) {
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
            route.apply(&dep);
        }
    }
    Ok((table, failures))
}
