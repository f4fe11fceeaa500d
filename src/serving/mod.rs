//! The gateway behind `mlctl serve`.

pub mod protocol;
pub mod runtime;
