//! HTTP client for the gateway's admin API and data plane, used by `deploy`,
//! `predict`, `status`, `loadtest` and `demo`. Replies are the typed structs the gateway
//! serialises (`serving::api`, `rollout::controller::Transition`, V2 types). Maps transport
//! and HTTP failures to exit codes: unreachable / 5xx / 401 → 3 (endpoint), other 4xx → 2
//! (the request was wrong).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::rollout::controller::Transition;
use crate::rollout::strategy::RolloutSpec;
use crate::serving::api::{
    BlobStored, EventList, ModelList, OutcomesAccepted, RolloutStatus, RouteSet, VersionRegistered,
};
use crate::wire::v2::{self, HEADER_CONTENT_LENGTH, InferResponse, ModelMetadata};
use crate::wire::{KEY_HEADER, REQUEST_ID_HEADER, TOKEN_FILE, VARIANT_HEADER};

/// Default data dir: `$XDG_STATE_HOME/mlctl`, else `~/.local/state/mlctl`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("mlctl");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/state/mlctl")
}

/// The token: explicit flag/env, else `<data-dir>/token` when readable.
pub fn resolve_token(explicit: Option<&str>, data_dir: &Path) -> Option<String> {
    explicit
        .map(str::to_string)
        .or_else(|| std::fs::read_to_string(data_dir.join(TOKEN_FILE)).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Model and version names must follow the gateway's rule (`wire::NAME_RULE`): checked
/// here, before anything is uploaded or sent.
pub fn check_names(model: &str, version: Option<&str>) -> Result<()> {
    if !crate::wire::valid_name(model) {
        return Err(Error::Usage(format!(
            "model name {model:?}: expected {}",
            crate::wire::NAME_RULE
        )));
    }
    if let Some(v) = version.filter(|v| !crate::wire::valid_name(v)) {
        return Err(Error::Usage(format!(
            "version {v:?}: expected {}",
            crate::wire::NAME_RULE
        )));
    }
    Ok(())
}

/// What one inference call returned.
#[derive(Debug, Clone)]
pub struct InferReply {
    pub response: InferResponse,
    pub variant: Option<String>,
    pub request_id: Option<String>,
}

pub struct GatewayClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl GatewayClient {
    pub fn new(endpoint: &str, token: Option<String>) -> Result<Self> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| Error::Usage(format!("--endpoint {endpoint:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Usage(format!(
                "--endpoint {endpoint:?}: expected http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Endpoint(format!("http client: {e}")))?;
        Ok(GatewayClient {
            base: endpoint.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    /// `base` + the segments, each percent-encoded (`a/b` stays one segment).
    fn url_of(&self, segments: &[&str]) -> Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.base).map_err(|e| Error::Usage(format!("--endpoint: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| Error::Usage(format!("--endpoint {}: cannot hold a path", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        match &self.token {
            Some(t) => Ok(req.bearer_auth(t)),
            None => Err(Error::Usage(
                "no admin token: pass --token, set MLCTL_TOKEN, or point --data-dir at the gateway's data dir".into(),
            )),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                Error::Endpoint(format!("cannot reach gateway at {}: {e}", self.base))
            } else {
                Error::Endpoint(format!("{what}: {e}"))
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let msg = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
        let line = format!("{what}: gateway answered {}: {msg}", status.as_u16());
        Err(match status.as_u16() {
            401 | 403 => Error::Endpoint(line),
            412 => Error::GateFailed(line),
            _ if status.is_server_error() => Error::Endpoint(line),
            _ => Error::Usage(line),
        })
    }

    async fn json<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder, what: &str) -> Result<T> {
        let resp = self.send(req, what).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Endpoint(format!("{what}: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Endpoint(format!("{what}: unexpected reply from the gateway: {e}")))
    }

    async fn admin_get<T: DeserializeOwned>(&self, segments: &[&str], what: &str) -> Result<T> {
        let req = self.auth(self.http.get(self.url_of(segments)?))?;
        self.json(req, what).await
    }

    async fn admin_send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        body: &impl Serialize,
        what: &str,
    ) -> Result<T> {
        let req = self.auth(self.http.request(method, self.url_of(segments)?).json(body))?;
        self.json(req, what).await
    }

    /// Upload ONNX bytes; returns their sha256.
    pub async fn upload_blob(&self, bytes: Vec<u8>) -> Result<String> {
        let req = self.auth(self.http.post(self.url_of(&["admin", "v1", "blobs"])?).body(bytes))?;
        let stored: BlobStored = self.json(req, "upload model").await?;
        Ok(stored.sha256)
    }

    /// Register an ONNX version (uploaded blob), with its feature view (TOML text) if any.
    pub async fn register_onnx(
        &self,
        model: &str,
        version: &str,
        sha256: &str,
        features: Option<&str>,
    ) -> Result<VersionRegistered> {
        let mut body = json!({"version": version, "onnx_sha256": sha256});
        if let Some(f) = features {
            body["features"] = json!(f);
        }
        self.register(model, version, body).await
    }

    pub async fn register_upstream(
        &self,
        model: &str,
        version: &str,
        url: &str,
        timeout: Option<Duration>,
        features: Option<&str>,
    ) -> Result<VersionRegistered> {
        let mut body = json!({"version": version, "upstream_url": url});
        if let Some(f) = features {
            body["features"] = json!(f);
        }
        if let Some(t) = timeout {
            body["timeout_ms"] = json!(t.as_millis() as u64);
        }
        self.register(model, version, body).await
    }

    async fn register(&self, model: &str, version: &str, body: Value) -> Result<VersionRegistered> {
        check_names(model, Some(version))?;
        let segments = ["admin", "v1", "models", model, "versions"];
        self.admin_send(reqwest::Method::POST, &segments, &body, "register version")
            .await
    }

    pub async fn set_route(
        &self,
        model: &str,
        version: &str,
        reason: Option<&str>,
        allow_signature_change: bool,
    ) -> Result<RouteSet> {
        check_names(model, Some(version))?;
        let body = json!({"version": version, "reason": reason, "allow_signature_change": allow_signature_change});
        let segments = ["admin", "v1", "models", model, "route"];
        self.admin_send(reqwest::Method::PUT, &segments, &body, "set route")
            .await
    }

    pub async fn start_rollout(&self, model: &str, spec: &RolloutSpec) -> Result<Transition> {
        check_names(model, Some(&spec.candidate))?;
        let segments = ["admin", "v1", "models", model, "rollouts"];
        self.admin_send(reqwest::Method::POST, &segments, spec, "start rollout")
            .await
    }

    /// `promote`, `pause`, `resume` or `rollback`.
    pub async fn rollout_command(
        &self,
        model: &str,
        action: &str,
        to: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Transition> {
        check_names(model, to)?;
        let body = json!({"to": to, "reason": reason});
        let segments = ["admin", "v1", "models", model, action];
        self.admin_send(reqwest::Method::POST, &segments, &body, action).await
    }

    pub async fn rollout(&self, model: &str) -> Result<RolloutStatus> {
        check_names(model, None)?;
        self.admin_get(&["admin", "v1", "models", model, "rollout"], "rollout status")
            .await
    }

    /// Post outcome records (`{request_id | key, metric, value, ts?}` each).
    pub async fn post_outcomes(&self, outcomes: &impl Serialize) -> Result<OutcomesAccepted> {
        self.admin_send(reqwest::Method::POST, &["v1", "outcomes"], outcomes, "post outcomes")
            .await
    }

    /// Push feature values to `table` (`{"rows": [{entity, ts?, values}]}`); the gateway's
    /// answer (`{"table", "rows"}`).
    pub async fn push_features(&self, table: &str, rows: &Value) -> Result<Value> {
        check_names(table, None)?;
        self.admin_send(reqwest::Method::POST, &["v1", "features", table], rows, "push features")
            .await
    }

    pub async fn add_monitor(
        &self,
        spec: &crate::drift::monitor::MonitorSpec,
    ) -> Result<crate::serving::api::MonitorAdded> {
        self.admin_send(reqwest::Method::POST, &["admin", "v1", "monitors"], spec, "add monitor")
            .await
    }

    pub async fn monitors(&self) -> Result<crate::serving::api::MonitorList> {
        self.admin_get(&["admin", "v1", "monitors"], "list monitors").await
    }

    pub async fn remove_monitor(&self, id: i64) -> Result<()> {
        let id = id.to_string();
        let req = self.auth(self.http.delete(self.url_of(&["admin", "v1", "monitors", &id])?))?;
        self.send(req, "remove monitor").await.map(|_| ())
    }

    pub async fn monitor_windows(&self, id: i64, limit: u32) -> Result<crate::serving::api::MonitorWindows> {
        let id = id.to_string();
        let mut url = self.url_of(&["admin", "v1", "monitors", &id, "windows"])?;
        url.query_pairs_mut().append_pair("limit", &limit.to_string());
        let req = self.auth(self.http.get(url))?;
        self.json(req, "monitor windows").await
    }

    pub async fn models(&self) -> Result<ModelList> {
        self.admin_get(&["admin", "v1", "models"], "list models").await
    }

    pub async fn notify_status(&self) -> Result<crate::serving::api::NotifyStatus> {
        self.admin_get(&["admin", "v1", "notify"], "notify status").await
    }

    pub async fn replicas(&self) -> Result<crate::serving::api::ReplicaList> {
        self.admin_get(&["admin", "v1", "replicas"], "replicas").await
    }

    pub async fn events(&self, model: &str) -> Result<EventList> {
        check_names(model, None)?;
        self.admin_get(&["admin", "v1", "models", model, "events"], "history")
            .await
    }

    pub async fn model_metadata(&self, model: &str, version: Option<&str>) -> Result<ModelMetadata> {
        check_names(model, version)?;
        let url = match version {
            Some(v) => self.url_of(&["v2", "models", model, "versions", v])?,
            None => self.url_of(&["v2", "models", model])?,
        };
        let mut req = self.http.get(url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        self.json(req, "model metadata").await
    }

    /// POST a V2 request body (JSON) and decode the answer.
    pub async fn infer(
        &self,
        model: &str,
        version: Option<&str>,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> Result<InferReply> {
        check_names(model, version)?;
        let url = match version {
            Some(v) => self.url_of(&["v2", "models", model, "versions", v, "infer"])?,
            None => self.url_of(&["v2", "models", model, "infer"])?,
        };
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.header(KEY_HEADER, k);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = self.send(req, "infer").await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let variant = header(VARIANT_HEADER);
        let request_id = header(REQUEST_ID_HEADER);
        let hl = header(HEADER_CONTENT_LENGTH);
        let bytes = resp.bytes().await.map_err(|e| Error::Endpoint(format!("infer: {e}")))?;
        let response = v2::parse_response(&bytes, hl.as_deref())
            .map_err(|e| Error::Endpoint(format!("infer: gateway sent an invalid V2 response: {e}")))?;
        Ok(InferReply {
            response,
            variant,
            request_id,
        })
    }
}
