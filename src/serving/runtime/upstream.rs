//! Proxy to any V2 server (MLServer, Triton, KServe). Over HTTP (`http://`, `https://`)
//! the request body is forwarded byte for byte (binary tensors included) over a pooled
//! reqwest client; over gRPC (`grpc://host:port`, `upstream_grpc`) the request is sent as a
//! `ModelInfer` message with raw contents on one lazily connected HTTP/2 channel. Either
//! way with a per-upstream timeout, and the answer is decoded, so it can be logged and
//! re-labelled with the gateway's model name and version. Failures map to 502
//! (unreachable, 5xx, garbage) and 504 (timeout); an upstream 4xx (gRPC: a client-error
//! code) is the client's error and keeps its status.

use std::time::Duration;

use bytes::Bytes;

pub use super::upstream_error::UpstreamError;
use super::upstream_grpc::{Call, GrpcUpstream};
use super::upstream_h1::{H1Error, H1Pool};
use crate::wire::v2::{self, InferRequest, InferResponse};
use std::sync::Arc;

/// Where and how to reach one upstream model.
#[derive(Debug, Clone)]
pub struct UpstreamModel {
    /// `<base>/v2/models/<name>[/versions/<v>]`
    pub model_url: String,
    pub timeout: Duration,
    /// Largest answer read; a bigger one is refused with 502 (never buffered whole).
    pub max_response: usize,
    transport: Transport,
}

#[derive(Debug, Clone)]
enum Transport {
    /// reqwest for metadata, readiness and https; for plain http, inference goes through
    /// `upstream_h1`'s pool (connections driven by their requests).
    Http(reqwest::Client, Option<Arc<H1Target>>),
    Grpc(GrpcUpstream),
}

/// Where inference requests go on a plain-HTTP upstream.
#[derive(Debug)]
struct H1Target {
    pool: H1Pool,
    /// `host[:port]` as the Host header.
    host: hyper::header::HeaderValue,
    /// `/v2/models/<name>[/versions/<v>]/infer`
    path: hyper::Uri,
}

impl H1Target {
    fn of(model_url: &str) -> Option<H1Target> {
        let url = reqwest::Url::parse(model_url).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        Some(H1Target {
            pool: H1Pool::new(format!("{host}:{port}")),
            host: authority.parse().ok()?,
            path: format!("{}/infer", url.path().trim_end_matches('/')).parse().ok()?,
        })
    }
}

/// Resolve the model URL: a URL already naming `/v2/models/...` is used as is,
/// otherwise `/v2/models/<model>` is appended to the server base.
pub fn model_url(url: &str, model: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("upstream URL {url:?}: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        "grpc" if parsed.host_str().is_some() && parsed.port().is_some() => {}
        "grpc" => return Err(format!("upstream URL {url:?}: expected grpc://host:port")),
        _ => {
            return Err(format!(
                "upstream URL {url:?}: expected http://, https:// or grpc://host:port"
            ));
        }
    }
    let trimmed = url.trim_end_matches('/');
    if parsed.path().contains("/v2/models/") {
        Ok(trimmed.to_string())
    } else {
        Ok(format!("{trimmed}/v2/models/{model}"))
    }
}

impl UpstreamModel {
    /// An upstream at `model_url` (from `model_url`). A `grpc://` one opens its channel
    /// lazily, so this needs a tokio runtime but no connection.
    pub fn new(client: reqwest::Client, model_url: String, timeout: Duration) -> Result<Self, String> {
        let transport = if model_url.starts_with("grpc://") {
            Transport::Grpc(GrpcUpstream::new(&model_url)?)
        } else {
            let h1 = H1Target::of(&model_url).map(Arc::new);
            Transport::Http(client, h1)
        };
        Ok(UpstreamModel {
            model_url,
            timeout,
            max_response: 64 << 20,
            transport,
        })
    }

    fn call(&self) -> Call<'_> {
        Call {
            url: &self.model_url,
            timeout: self.timeout,
            max_response: self.max_response,
        }
    }

    pub fn with_max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// Read an answer's body, at most `limit` bytes (502 past it).
    async fn body(&self, mut resp: reqwest::Response, limit: usize) -> Result<Bytes, UpstreamError> {
        let too_big = || UpstreamError::too_large(&self.model_url, limit);
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_send_error(e))? {
            if buf.len() + chunk.len() > limit {
                return Err(too_big());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    fn map_send_error(&self, e: reqwest::Error) -> UpstreamError {
        if e.is_timeout() {
            UpstreamError::timed_out(&self.model_url, self.timeout)
        } else {
            UpstreamError::unreachable(&self.model_url, e)
        }
    }

    /// Forward an inference request (`body` as it came over HTTP, `request` decoded);
    /// decode the answer.
    pub async fn infer(
        &self,
        request: &InferRequest,
        body: Bytes,
        header_len: Option<&str>,
    ) -> Result<InferResponse, UpstreamError> {
        let (client, h1) = match &self.transport {
            Transport::Http(c, h1) => (c, h1),
            Transport::Grpc(g) => return g.infer(&self.call(), request).await,
        };
        // A request that did not come as an HTTP body is sent as JSON (no binary part).
        let (body, header_len) = if body.is_empty() {
            (Bytes::from(v2::request_json(request)), None)
        } else {
            (body, header_len)
        };
        if let Some(h1) = h1 {
            let (status, hl, bytes) = self.send_h1(h1, body, header_len).await?;
            return self.answer(status, hl.as_deref(), &bytes);
        }
        let req = client
            .post(format!("{}/infer", self.model_url))
            .timeout(self.timeout)
            .headers(v2::body_headers(header_len))
            .body(body);
        let resp = req.send().await.map_err(|e| self.map_send_error(e))?;
        let status = resp.status();
        let hl = v2::binary_header_len(resp.headers()).map(str::to_string);
        let bytes = self.body(resp, self.max_response).await?;
        self.answer(status, hl.as_deref(), &bytes)
    }

    /// POST the body on the plain-HTTP pool, within the timeout: status, binary header
    /// length, body.
    async fn send_h1(
        &self,
        h1: &H1Target,
        body: Bytes,
        header_len: Option<&str>,
    ) -> Result<(reqwest::StatusCode, Option<String>, Bytes), UpstreamError> {
        let mut req = hyper::Request::new(http_body_util::Full::new(body));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = h1.path.clone();
        *req.headers_mut() = v2::body_headers(header_len);
        req.headers_mut().insert(hyper::header::HOST, h1.host.clone());
        let sent = tokio::time::timeout(self.timeout, h1.pool.send(req, self.max_response)).await;
        let (head, bytes) = match sent {
            Err(_) => return Err(UpstreamError::timed_out(&self.model_url, self.timeout)),
            Ok(Err(H1Error::TooLarge)) => return Err(UpstreamError::too_large(&self.model_url, self.max_response)),
            Ok(Err(e)) => return Err(UpstreamError::unreachable(&self.model_url, e)),
            Ok(Ok(answer)) => answer,
        };
        let hl = v2::binary_header_len(head.headers()).map(str::to_string);
        Ok((head.status(), hl, bytes))
    }

    /// An upstream's answer to an inference request as the gateway's answer.
    fn answer(
        &self,
        status: reqwest::StatusCode,
        hl: Option<&str>,
        bytes: &[u8],
    ) -> Result<InferResponse, UpstreamError> {
        if status.is_client_error() {
            let msg = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned());
            return Err(UpstreamError {
                status: status.as_u16(),
                message: format!("upstream: {msg}"),
            });
        }
        if !status.is_success() {
            return Err(UpstreamError {
                status: 502,
                message: format!(
                    "upstream {} answered {}: {}",
                    self.model_url,
                    status.as_u16(),
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                ),
            });
        }
        v2::parse_response(bytes, hl).map_err(|e| UpstreamError {
            status: 502,
            message: format!("upstream {} returned an invalid V2 response: {e}", self.model_url),
        })
    }

    /// The upstream's model metadata (JSON), for `GET /v2/models/{m}`.
    pub async fn metadata(&self) -> Result<serde_json::Value, UpstreamError> {
        let client = match &self.transport {
            Transport::Http(c, _) => c,
            Transport::Grpc(g) => return g.metadata(&self.call()).await,
        };
        let resp = client
            .get(&self.model_url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.map_send_error(e))?;
        if !resp.status().is_success() {
            return Err(UpstreamError {
                status: 502,
                message: format!(
                    "upstream {} metadata answered {}",
                    self.model_url,
                    resp.status().as_u16()
                ),
            });
        }
        let bytes = self.body(resp, 1 << 20).await?;
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError {
            status: 502,
            message: format!("upstream {} metadata is not JSON: {e}", self.model_url),
        })
    }

    /// `GET <model>/ready` answered 200 within the timeout.
    pub async fn ready(&self) -> bool {
        let client = match &self.transport {
            Transport::Http(c, _) => c,
            Transport::Grpc(g) => return g.ready(&self.call()).await,
        };
        match client
            .get(format!("{}/ready", self.model_url))
            .timeout(self.timeout.min(Duration::from_secs(2)))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_url_appends_only_when_needed() {
        assert_eq!(model_url("http://h:1", "m").unwrap(), "http://h:1/v2/models/m");
        assert_eq!(model_url("http://h:1/", "m").unwrap(), "http://h:1/v2/models/m");
        assert_eq!(
            model_url("http://h:1/v2/models/x/versions/3", "m").unwrap(),
            "http://h:1/v2/models/x/versions/3"
        );
        assert!(model_url("ftp://h", "m").is_err());
        assert_eq!(model_url("grpc://h:8081", "m").unwrap(), "grpc://h:8081/v2/models/m");
        assert!(model_url("grpc://h", "m").unwrap_err().contains("grpc://host:port"));
        assert!(model_url("not a url", "m").is_err());
    }
}
