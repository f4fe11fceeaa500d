//! Model runtimes: in-process ONNX (tract) and upstream V2 servers.

#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "onnx")]
pub mod onnx_rewrite;
