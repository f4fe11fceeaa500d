//! HTTP helpers shared by the data plane and the admin API: JSON error replies, bounded
//! body reading, and the bearer-token check.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::json;
use subtle::ConstantTimeEq;

/// `{"error": "..."}` with a status.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// 503 with `Retry-After: secs`: the gateway is busy or degraded, not broken.
pub fn unavailable(message: impl Into<String>, retry_after_secs: u32) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    r
}

/// A client-visible failure: status + one-line message, rendered as `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = error(self.status, self.message);
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub fn api_error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

/// Most bytes read and thrown away before an early error answer (401, 404, 413, …), so a
/// client that writes its whole body before it reads (Python's urllib, many SDKs) gets to
/// read the answer instead of a broken pipe; past it the connection is closed.
pub const DRAIN_MAX: usize = 64 << 20;
/// Longest time spent draining such a body.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Read and discard what is left of `body` (at most `DRAIN_MAX` bytes, `DRAIN_TIME` long).
pub async fn drain(body: Body) {
    let mut body = body;
    let _ = tokio::time::timeout(DRAIN_TIME, async move {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_MAX {
                break;
            }
        }
    })
    .await;
}

/// Answer `r` after draining the unread request body.
pub async fn reject(body: Body, r: impl IntoResponse) -> Response {
    drain(body).await;
    r.into_response()
}

/// A body size limit and the flag (or rule) that sets it, named in the 413 answer.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bytes: usize,
    pub flag: &'static str,
}

/// Admin JSON bodies (register, route, rollout commands).
pub const ADMIN_BODY: Limit = Limit {
    bytes: 1 << 20,
    flag: "admin requests: 1 MiB",
};

/// The request's declared `Content-Length`, when it has a valid one.
pub fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

enum ReadError {
    TooBig,
    Broken(String),
}

/// Read a body up to `limit` bytes within `timeout`: over the limit → 413 (after draining
/// the rest), too slow → 408, a broken stream → 400; all JSON errors.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: Limit, timeout: Duration) -> Result<Bytes, Response> {
    let Limit { bytes: limit, flag } = limit;
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the {limit}-byte limit ({flag})"),
        )
    };
    let declared = content_length(headers);
    if declared.is_some_and(|len| len > limit) {
        return Err(reject(body, too_big()).await);
    }
    let mut body = body;
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ReadError::Broken(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                if buf.len() + data.len() > limit {
                    return Err(ReadError::TooBig);
                }
                buf.extend_from_slice(data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(())) => Ok(buf.freeze()),
        Ok(Err(ReadError::TooBig)) => Err(reject(body, too_big()).await),
        Ok(Err(ReadError::Broken(e))) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("could not read request body: {e}"),
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {} s (--body-timeout)",
                timeout.as_secs_f64()
            ),
        )),
    }
}

/// `Authorization: Bearer <token>`, compared in constant time; 401 otherwise.
pub fn check_token(token: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start())
        })
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (see --token / MLCTL_TOKEN)",
        ))
    }
}

/// An authenticated body: the bearer token checked first (401 without reading the body
/// further), then the body read within `limit` and `timeout`.
pub async fn authed_body(
    token: &str,
    headers: &HeaderMap,
    body: Body,
    limit: Limit,
    timeout: Duration,
) -> Result<Bytes, Response> {
    if let Err(r) = check_token(token, headers) {
        return Err(reject(body, r).await);
    }
    read_body(headers, body, limit, timeout).await
}

/// `authed_body`, decoded as JSON `T` (400 naming the problem).
pub async fn authed_json<T: serde::de::DeserializeOwned>(
    token: &str,
    headers: &HeaderMap,
    body: Body,
    limit: Limit,
    timeout: Duration,
) -> Result<T, Response> {
    let bytes = authed_body(token, headers, body, limit, timeout).await?;
    json_body(&bytes).map_err(IntoResponse::into_response)
}

/// A JSON body as `T`; malformed → 400 naming the problem.
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| api_error(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}
