//! mlctl: ship ML models to live traffic, prove them better, undo them in a second.

pub mod error;
pub mod serving;
