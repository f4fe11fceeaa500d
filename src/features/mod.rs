//! Features from several sources (issue 14, in progress): feature views — which request
//! fields and which looked-up table values make a model's input, in order — and the
//! point-in-time semantics every lookup shares, online (latest value) and offline (value
//! as of an event's time, for training sets). The online store, the gateway's assembly of
//! the input tensor, `features join` and `skew check` build on these.

pub mod assemble;
pub mod backend;
pub mod files;
pub mod join;
pub mod online;
pub mod pit;
pub mod redis;
pub mod skew;
pub mod store;
pub mod view;
