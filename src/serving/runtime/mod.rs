//! Model runtimes: in-process ONNX (tract) and upstream V2 servers.

#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "onnx")]
pub mod onnx_rewrite;
pub mod upstream;
pub mod upstream_error;
pub mod upstream_grpc;
pub mod upstream_h1;

use std::sync::Arc;

use crate::wire::v2::TensorMetadata;

/// How one loaded model version answers.
pub enum Runtime {
    #[cfg(feature = "onnx")]
    Onnx(Arc<onnx::OnnxModel>),
    Upstream(upstream::UpstreamModel),
}

impl Runtime {
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(feature = "onnx")]
            Runtime::Onnx(_) => "onnx",
            Runtime::Upstream(_) => "upstream",
        }
    }
}

/// A registered version, loaded and ready to serve.
pub struct LoadedVersion {
    pub model: String,
    pub version: String,
    pub runtime: Runtime,
    /// Declared inputs/outputs (ONNX: from the graph; upstream: empty, asked on demand).
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
    pub notes: Vec<String>,
    /// The feature view that assembles this version's input, if it has one.
    pub view: Option<Arc<crate::features::view::View>>,
    /// Its request metrics, resolved once per role.
    pub metrics: super::metrics::VersionHandles,
}
