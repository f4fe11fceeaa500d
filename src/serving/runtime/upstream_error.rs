//! An upstream failure, shared by the HTTP (`upstream`, `upstream_h1`) and gRPC
//! (`upstream_grpc`) paths, with the three failures every path words the same way.

use std::time::Duration;

/// An upstream failure, with the HTTP status the gateway answers.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub status: u16,
    pub message: String,
}

impl UpstreamError {
    /// 504: no answer within the upstream's timeout.
    pub fn timed_out(url: &str, timeout: Duration) -> UpstreamError {
        UpstreamError {
            status: 504,
            message: format!("upstream {url} timed out after {timeout:?}"),
        }
    }

    /// 502: the upstream could not be reached or the connection broke.
    pub fn unreachable(url: &str, why: impl std::fmt::Display) -> UpstreamError {
        UpstreamError {
            status: 502,
            message: format!("upstream {url} unreachable: {why}"),
        }
    }

    /// 502: the answer is larger than `--max-response`.
    pub fn too_large(url: &str, limit: usize) -> UpstreamError {
        UpstreamError {
            status: 502,
            message: format!("upstream {url} answered more than {limit} bytes (--max-response)"),
        }
    }
}
