//! An upstream failure, shared by the HTTP (`upstream`) and gRPC (`upstream_grpc`) paths.

/// An upstream failure, with the HTTP status the gateway answers.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub status: u16,
    pub message: String,
}
