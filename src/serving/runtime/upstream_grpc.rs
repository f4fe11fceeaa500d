//! A V2 gRPC upstream (`--upstream grpc://host:port[/v2/models/NAME[/versions/V]]`): MLServer
//! (gRPC on 8081 by default), Triton (8001), KServe, or another mlctl's `--grpc-listen`.
//! One tonic channel per upstream, connected lazily and reconnected by tonic; each call is
//! bounded by the upstream's timeout and its answer by `--max-response`.

use tonic::Code;
use tonic::transport::Channel;

use super::upstream_error::UpstreamError;
use crate::wire::grpc::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use crate::wire::grpc::inference::{ModelMetadataRequest, ModelReadyRequest};
use crate::wire::grpc::{request_to_proto, response_from_proto};
use crate::wire::v2::{InferRequest, InferResponse};

/// What bounds one call: the upstream's URL (for messages), timeout and largest answer.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub url: &'a str,
    pub timeout: std::time::Duration,
    pub max_response: usize,
}

#[derive(Debug, Clone)]
pub struct GrpcUpstream {
    channel: Channel,
    /// The upstream's own model name and version (from the URL's path).
    model: String,
    version: Option<String>,
}

impl GrpcUpstream {
    /// `model_url` is `grpc://host:port/v2/models/NAME[/versions/V]` (see `model_url`).
    pub fn new(model_url: &str) -> Result<GrpcUpstream, String> {
        let rest = model_url
            .strip_prefix("grpc://")
            .ok_or_else(|| format!("upstream URL {model_url:?}: expected grpc://host:port"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (model, version) = match parts.as_slice() {
            ["v2", "models", m] => (m.to_string(), None),
            ["v2", "models", m, "versions", v] => (m.to_string(), Some(v.to_string())),
            _ => {
                return Err(format!(
                    "upstream URL {model_url:?}: expected grpc://host:port[/v2/models/NAME[/versions/V]]"
                ));
            }
        };
        let channel = Channel::from_shared(format!("http://{authority}"))
            .map_err(|e| format!("upstream URL {model_url:?}: {e}"))?
            .connect_lazy();
        Ok(GrpcUpstream {
            channel,
            model,
            version,
        })
    }

    fn client(&self, u: &Call<'_>) -> GrpcInferenceServiceClient<Channel> {
        GrpcInferenceServiceClient::new(self.channel.clone()).max_decoding_message_size(u.max_response)
    }

    /// A failed call as the gateway's answer: a client-error code keeps its meaning (the
    /// request was wrong), an unreachable or failing upstream is 502, a slow one 504.
    fn error(u: &Call<'_>, s: tonic::Status) -> UpstreamError {
        let client = |status: u16| UpstreamError {
            status,
            message: format!("upstream: {}", s.message()),
        };
        match s.code() {
            Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => client(400),
            Code::NotFound => client(404),
            Code::DeadlineExceeded => UpstreamError::timed_out(u.url, u.timeout),
            Code::Unavailable => UpstreamError::unreachable(u.url, s.message()),
            code => UpstreamError {
                status: 502,
                message: format!("upstream {} answered {code:?}: {}", u.url, s.message()),
            },
        }
    }

    /// Run `call` within the upstream's timeout.
    async fn bounded<T>(
        u: &Call<'_>,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, UpstreamError> {
        match tokio::time::timeout(u.timeout, call).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(Self::error(u, s)),
            Err(_) => Err(Self::error(u, tonic::Status::deadline_exceeded("timeout"))),
        }
    }

    pub async fn infer(&self, u: &Call<'_>, req: &InferRequest) -> Result<InferResponse, UpstreamError> {
        let message = request_to_proto(&self.model, self.version.as_deref(), req, true);
        let mut client = self.client(u);
        let answer = Self::bounded(u, client.model_infer(message)).await?;
        response_from_proto(answer).map_err(|e| UpstreamError {
            status: 502,
            message: format!("upstream {} returned an invalid V2 response: {e}", u.url),
        })
    }

    /// The upstream's model metadata, as the V2 JSON document.
    pub async fn metadata(&self, u: &Call<'_>) -> Result<serde_json::Value, UpstreamError> {
        let mut client = self.client(u);
        let request = ModelMetadataRequest {
            name: self.model.clone(),
            version: self.version.clone().unwrap_or_default(),
        };
        let m = Self::bounded(u, client.model_metadata(request)).await?;
        let tensors = |ts: Vec<crate::wire::grpc::inference::model_metadata_response::TensorMetadata>| {
            ts.into_iter()
                .map(|t| serde_json::json!({"name": t.name, "datatype": t.datatype, "shape": t.shape}))
                .collect::<Vec<_>>()
        };
        Ok(serde_json::json!({
            "name": m.name,
            "versions": m.versions,
            "platform": m.platform,
            "inputs": tensors(m.inputs),
            "outputs": tensors(m.outputs),
        }))
    }

    pub async fn ready(&self, u: &Call<'_>) -> bool {
        let mut client = self.client(u);
        let request = ModelReadyRequest {
            name: self.model.clone(),
            version: self.version.clone().unwrap_or_default(),
        };
        let probe = Call {
            timeout: u.timeout.min(std::time::Duration::from_secs(2)),
            ..*u
        };
        matches!(Self::bounded(&probe, client.model_ready(request)).await, Ok(r) if r.ready)
    }
}
