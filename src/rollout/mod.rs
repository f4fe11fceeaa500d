//! Rollouts: a persisted state machine per model (`Progressing → Paused → Promoted |
//! RolledBack`), the weights each state routes, guards, and the controller that ticks
//! inside `serve`. The gateway hosts the controller through `host::Host` and holds the
//! statistics in one `host::Rollouts` value; nothing here knows the gateway's types.

pub mod backtest;
pub mod controller;
pub mod gates;
pub mod guard;
pub mod host;
pub mod judge;
pub mod matching;
pub mod merge;
pub mod prom;
pub(crate) mod replay;
pub mod scores;
pub mod stats;
pub mod strategy;

use serde::{Deserialize, Serialize};

use strategy::{RolloutSpec, Strategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Progressing,
    Paused,
    Promoted,
    RolledBack,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Progressing => "progressing",
            Phase::Paused => "paused",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolled_back",
        }
    }
    /// Still routing to the candidate (or mirroring to it).
    pub fn active(self) -> bool {
        matches!(self, Phase::Progressing | Phase::Paused)
    }
}

/// Everything needed to resume a rollout after a restart; stored as JSON in the
/// deployment row and committed with each transition's event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub spec: RolloutSpec,
    /// The version that was stable when the rollout started (the rollback target).
    pub stable: String,
    pub phase: Phase,
    /// Index into `spec.steps` (canary).
    pub step: usize,
    /// When the current step (or watch period) started; its timer resumes from here.
    pub step_started_at: String,
    pub started_at: String,
    /// Why the rollout is paused or ended (e.g. "inconclusive: min_requests").
    #[serde(default)]
    pub reason: Option<String>,
    /// Increments on every transition: statistics windows reset with it.
    pub step_id: u64,
    /// Times the current step was extended for want of evidence (the window carries on).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extensions: u32,
    /// An operator approved promotion (`mlctl approve`: opens a manual gate).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approved: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One routed arm: version, role, share in percent.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ArmWeight {
    pub version: String,
    pub role: String,
    pub percent: f64,
}

impl RolloutState {
    /// A rollout of `spec` over `stable`, progressing from its first step at `at`.
    pub fn begin(spec: RolloutSpec, stable: String, at: String, step_id: u64) -> RolloutState {
        RolloutState {
            spec,
            stable,
            phase: Phase::Progressing,
            step: 0,
            step_started_at: at.clone(),
            started_at: at,
            reason: None,
            step_id,
            extensions: 0,
            approved: false,
        }
    }

    /// The live weights this state routes (shadow's mirror is not a weight).
    pub fn weights(&self) -> Vec<ArmWeight> {
        let arm = |v: &str, role: &str, p: f64| ArmWeight {
            version: v.to_string(),
            role: role.to_string(),
            percent: p,
        };
        match self.phase {
            Phase::Promoted => vec![arm(&self.spec.candidate, "stable", 100.0)],
            Phase::RolledBack => vec![arm(&self.stable, "stable", 100.0)],
            Phase::Progressing | Phase::Paused => match self.spec.strategy {
                Strategy::Single => vec![arm(&self.spec.candidate, "canary", 100.0)],
                Strategy::Shadow => vec![arm(&self.stable, "stable", 100.0)],
                Strategy::Canary => {
                    let w = self.spec.steps.get(self.step).copied().unwrap_or(100.0);
                    let mut v = vec![arm(&self.spec.candidate, "canary", w)];
                    if w < 100.0 {
                        v.push(arm(&self.stable, "stable", 100.0 - w));
                    }
                    v
                }
                Strategy::Flight => self
                    .spec
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(i, (ver, p))| {
                        let role = if *ver == self.stable {
                            "stable".to_string()
                        } else {
                            format!("arm-{}", i + 1)
                        };
                        arm(ver, &role, *p)
                    })
                    .collect(),
            },
        }
    }

    /// The version that serves when this rollout is over (or the rollback target).
    pub fn live_version(&self) -> &str {
        match self.phase {
            Phase::Promoted => &self.spec.candidate,
            _ => &self.stable,
        }
    }

    /// Candidate arms compared against stable by the guards.
    pub fn candidates(&self) -> Vec<String> {
        match self.spec.strategy {
            Strategy::Flight => self
                .spec
                .weights
                .iter()
                .map(|(v, _)| v.clone())
                .filter(|v| *v != self.stable)
                .collect(),
            _ => vec![self.spec.candidate.clone()],
        }
    }
}

/// Contiguous bucket ranges for weights, in order: the first arm owns [0, w₀), the next
/// [w₀, w₀+w₁), …; buckets are hundredths of a percent. Listing the canary first makes its
/// range grow from 0, so raising its weight only moves units toward it (monotone, sticky).
pub fn bucket_ranges(weights: &[f64]) -> Vec<(u16, u16)> {
    let mut out = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    let mut start = 0u16;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        let end = if i + 1 == weights.len() {
            10_000
        } else {
            ((acc * 100.0).round() as u16).min(10_000)
        };
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_all_buckets_and_grow_from_zero() {
        assert_eq!(bucket_ranges(&[5.0, 95.0]), vec![(0, 500), (500, 10_000)]);
        assert_eq!(
            bucket_ranges(&[50.0, 25.0, 25.0]),
            vec![(0, 5000), (5000, 7500), (7500, 10_000)]
        );
        assert_eq!(bucket_ranges(&[100.0]), vec![(0, 10_000)]);
        // monotone: the 5% canary range is inside the 25% one
        let (a, b) = (bucket_ranges(&[5.0, 95.0])[0], bucket_ranges(&[25.0, 75.0])[0]);
        assert!(a.0 >= b.0 && a.1 <= b.1);
    }
}
