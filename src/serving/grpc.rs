//! V2 over gRPC (`serve --grpc-listen`): the KServe/Triton `GRPCInferenceService` on
//! tonic, mounted on the gateway's own listener (same connection limits and idle timeouts)
//! and served by the same `pipeline` as HTTP — routing, rollouts, shadows, features,
//! metrics and the prediction log do not know which protocol a request came by.
//!
//! Metadata is HTTP headers under another name: `authorization` (when inference needs the
//! token), `x-mlctl-key` (routing key, else the `routing_key` parameter) and
//! `x-request-id`; answers carry `x-mlctl-variant` and `x-request-id` as initial metadata.
//! HTTP statuses map to gRPC codes as in the gRPC HTTP mapping (400 → INVALID_ARGUMENT,
//! 401 → UNAUTHENTICATED, 404 → NOT_FOUND, 503 → UNAVAILABLE, …).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use super::dataplane::{EXTENSIONS, is_ready, metadata, refusing};
use super::http::ApiError;
use super::pipeline::{self, Inference, Rejection, lookup};
use super::state::AppState;
use crate::wire::grpc::inference::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};
use crate::wire::grpc::inference::model_metadata_response::TensorMetadata;
use crate::wire::grpc::inference::*;
use crate::wire::grpc::{code_of_status, request_from_proto, response_to_proto};
use crate::wire::v2::ModelMetadata;
use crate::wire::{REQUEST_ID_HEADER, VARIANT_HEADER};

/// The gRPC service as a router for `listener::serve`.
pub fn router(st: Arc<AppState>) -> Router {
    // A message may be as large as an HTTP body may be (plus its framing).
    let limit = st.config.max_body.saturating_add(1024);
    let service = GrpcInferenceServiceServer::new(Grpc { st })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX);
    Router::new().fallback_service(service)
}

struct Grpc {
    st: Arc<AppState>,
}

fn status_of(status: StatusCode, message: impl Into<String>) -> Status {
    Status::new(code_of_status(status.as_u16()), message)
}

impl From<Rejection> for Status {
    fn from(r: Rejection) -> Self {
        status_of(r.status, r.message)
    }
}

fn api(e: ApiError) -> Status {
    status_of(e.status, e.message)
}

fn version_of(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

fn tensors(meta: Vec<crate::wire::v2::TensorMetadata>) -> Vec<TensorMetadata> {
    meta.into_iter()
        .map(|t| TensorMetadata {
            name: t.name,
            datatype: t.datatype,
            shape: t.shape,
        })
        .collect()
}

#[tonic::async_trait]
impl GrpcInferenceService for Grpc {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse {
            ready: !refusing(&self.st),
        }))
    }

    async fn model_ready(&self, req: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = req.into_inner();
        let v = lookup(&self.st, &r.name, version_of(&r.version)).map_err(api)?;
        Ok(Response::new(ModelReadyResponse {
            ready: is_ready(&v).await,
        }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "mlctl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        req: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let r = req.into_inner();
        let v = lookup(&self.st, &r.name, version_of(&r.version)).map_err(api)?;
        let meta = metadata(&self.st, &v).await.map_err(api)?;
        let meta: ModelMetadata = serde_json::from_value(meta)
            .map_err(|e| Status::internal(format!("model metadata is not V2 metadata: {e}")))?;
        Ok(Response::new(ModelMetadataResponse {
            name: meta.name,
            versions: meta.versions,
            platform: meta.platform,
            inputs: tensors(meta.inputs),
            outputs: tensors(meta.outputs),
        }))
    }

    async fn model_infer(&self, req: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        let ts = chrono::Utc::now();
        let st = &self.st;
        let (metadata, _, message) = req.into_parts();
        let headers = metadata.into_headers();
        let model = message.model_name.clone();
        let version = version_of(&message.model_version).map(str::to_string);
        let size = prost::Message::encoded_len(&message);
        let admitted = pipeline::admit(st, &model, version.as_deref(), &headers, Some(size))?;
        let (parsed, raw) = request_from_proto(message).map_err(|e| Status::invalid_argument(e.0))?;
        let inference = Inference {
            model,
            version,
            headers: &headers,
            req: parsed,
            raw: bytes::Bytes::new(),
            header_len: None,
            started,
            ts,
        };
        let served = pipeline::run(st, admitted, inference, |resp, requested, _| {
            response_to_proto(resp, requested, raw)
        })
        .await?;
        let mut reply = match served.answer {
            Ok(mut message) => {
                if message.id.is_empty() {
                    message.id = served.request_id.clone();
                }
                Response::new(message)
            }
            Err(msg) => return Err(status_of(served.status, msg)),
        };
        if let Ok(v) = MetadataValue::try_from(served.version.as_str()) {
            reply.metadata_mut().insert(VARIANT_HEADER, v);
        }
        if let Ok(v) = MetadataValue::try_from(served.request_id.as_str()) {
            reply.metadata_mut().insert(REQUEST_ID_HEADER, v);
        }
        Ok(reply)
    }
}
