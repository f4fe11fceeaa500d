//! Gates: checks outside mlctl that a rollout waits for (Flagger's webhook kinds).
//!
//! - `pre-rollout=URL`: called before the rollout starts; anything but a 2xx refuses it
//!   (no traffic moves; `deploy` exits 1).
//! - `pre-step=URL`: called before each weight increase (and before promotion); while it
//!   answers anything but 2xx the step holds (guards keep judging it), and once it has
//!   refused for `--gate-timeout` the rollout rolls back or pauses per `--on-trip`.
//! - `confirm-promotion=URL`: the last step holds until it answers 2xx (no timeout).
//! - `manual`: the last step holds until `mlctl approve MODEL`.
//!
//! Each call is a signed POST (the webhook secret and `X-Mlctl-Signature`) of the
//! rollout's state; while a step is held a gate is asked again every `RETRY`. Calls run
//! beside the controller's tick, never inside it: a slow gate cannot delay another
//! model's guard checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::RolloutState;
use crate::error::{Error, Result};

/// How often a held step asks its gates again.
pub const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateKind {
    PreRollout,
    PreStep,
    ConfirmPromotion,
    Manual,
}

impl GateKind {
    pub fn name(self) -> &'static str {
        match self {
            GateKind::PreRollout => "pre-rollout",
            GateKind::PreStep => "pre-step",
            GateKind::ConfirmPromotion => "confirm-promotion",
            GateKind::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gate {
    pub kind: GateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Gate {
    pub fn expr(&self) -> String {
        match &self.url {
            Some(_) => format!("{}=URL", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }
}

/// Parse one `--gate`: `manual`, or `pre-rollout|pre-step|confirm-promotion=URL`.
pub fn parse_gate(s: &str) -> Result<Gate> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--gate {:?}: {why} (forms: pre-rollout=URL, pre-step=URL, confirm-promotion=URL, manual)",
            s.split('=').next().unwrap_or("")
        ))
    };
    if s.trim() == "manual" {
        return Ok(Gate {
            kind: GateKind::Manual,
            url: None,
        });
    }
    let (kind, url) = s.split_once('=').ok_or_else(|| bad("expected KIND=URL"))?;
    let kind = match kind.trim() {
        "pre-rollout" => GateKind::PreRollout,
        "pre-step" => GateKind::PreStep,
        "confirm-promotion" => GateKind::ConfirmPromotion,
        other => return Err(bad(&format!("unknown gate kind {other:?}"))),
    };
    let url = url.trim();
    if !crate::parse::is_http_url(url) {
        return Err(bad("expected an http(s) URL after ="));
    }
    Ok(Gate {
        kind,
        url: Some(url.to_string()),
    })
}

/// The gates a transition needs: a weight increase asks `pre-step`; promotion also asks
/// `confirm-promotion` and `manual`.
pub fn needed(gates: &[Gate], promoting: bool) -> Vec<Gate> {
    gates
        .iter()
        .filter(|g| match g.kind {
            GateKind::PreStep => true,
            GateKind::ConfirmPromotion | GateKind::Manual => promoting,
            GateKind::PreRollout => false,
        })
        .cloned()
        .collect()
}

/// What a gate is told: the rollout's state at this point.
pub fn payload(model: &str, kind: GateKind, state: &RolloutState) -> Value {
    json!({
        "model": model,
        "gate": kind.name(),
        "phase": state.phase.name(),
        "strategy": state.spec.strategy,
        "stable": state.stable,
        "candidate": state.spec.candidate,
        "step": state.step + 1,
        "steps": state.spec.steps.len(),
        "step_id": state.step_id,
        "weights": state.weights(),
    })
}

#[derive(Debug, Clone)]
enum Check {
    InFlight,
    Passed,
    Refused { why: String, at: Instant },
}

/// One held step of one model.
#[derive(Debug)]
struct Held {
    step_id: u64,
    since: Instant,
    checks: HashMap<Gate, Check>,
    recorded: bool,
}

/// The verdict on a held transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every gate answered 2xx (or was approved): go on.
    Open,
    /// Wait. `calls` are the gates to ask now (none in flight, due for a retry);
    /// `first` is true the first time this step is held (record it once).
    Held {
        why: String,
        calls: Vec<Gate>,
        first: bool,
        /// A pre-step gate has refused for longer than the gate timeout.
        timed_out: bool,
    },
}

/// The controller's memory of held steps (in memory: after a restart a held step asks
/// its gates again, and its timeout starts over).
#[derive(Default)]
pub struct GateTracker {
    held: Mutex<HashMap<String, Held>>,
}

impl GateTracker {
    /// Judge `gates` for `model`'s step `step_id`; `approved` opens a manual gate.
    pub fn judge(&self, model: &str, step_id: u64, gates: &[Gate], approved: bool, timeout: Duration) -> Verdict {
        let mut all = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = all.entry(model.to_string()).or_insert_with(|| Held {
            step_id,
            since: Instant::now(),
            checks: HashMap::new(),
            recorded: false,
        });
        if held.step_id != step_id {
            *held = Held {
                step_id,
                since: Instant::now(),
                checks: HashMap::new(),
                recorded: false,
            };
        }
        let mut waiting = Vec::new();
        let mut calls = Vec::new();
        let mut timed_out = false;
        for g in gates {
            if g.kind == GateKind::Manual {
                if !approved {
                    waiting.push("manual gate: waiting for `mlctl approve`".to_string());
                }
                continue;
            }
            match held.checks.get(g) {
                Some(Check::Passed) => {}
                Some(Check::InFlight) => waiting.push(format!("{} gate: asking", g.kind.name())),
                Some(Check::Refused { why, at }) => {
                    waiting.push(format!("{} gate refused: {why}", g.kind.name()));
                    if g.kind == GateKind::PreStep && held.since.elapsed() >= timeout {
                        timed_out = true;
                    }
                    if at.elapsed() >= RETRY {
                        calls.push(g.clone());
                    }
                }
                None => {
                    waiting.push(format!("{} gate: asking", g.kind.name()));
                    calls.push(g.clone());
                }
            }
        }
        for g in &calls {
            held.checks.insert(g.clone(), Check::InFlight);
        }
        if waiting.is_empty() {
            all.remove(model);
            return Verdict::Open;
        }
        let first = !held.recorded;
        held.recorded = true;
        Verdict::Held {
            why: format!("held: {}", waiting.join("; ")),
            calls,
            first,
            timed_out,
        }
    }

    /// A gate call's answer for `model`'s step `step_id`.
    pub fn answer(&self, model: &str, step_id: u64, gate: &Gate, result: std::result::Result<(), String>) {
        let mut all = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = all.get_mut(model)
            && held.step_id == step_id
        {
            let check = match result {
                Ok(()) => Check::Passed,
                Err(why) => Check::Refused {
                    why,
                    at: Instant::now(),
                },
            };
            held.checks.insert(gate.clone(), check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_and_bad_ones_name_the_form() {
        assert_eq!(parse_gate("manual").unwrap().kind, GateKind::Manual);
        let g = parse_gate("pre-step=http://127.0.0.1:9/check").unwrap();
        assert_eq!(
            (g.kind, g.url.as_deref()),
            (GateKind::PreStep, Some("http://127.0.0.1:9/check"))
        );
        for bad in [
            "pre-flight=http://x/y",
            "pre-step",
            "pre-step=ftp://x",
            "confirm-promotion=notaurl",
        ] {
            let e = parse_gate(bad).unwrap_err().to_string();
            assert!(e.contains("--gate") && e.contains("forms:"), "{e}");
        }
        let gates = vec![
            parse_gate("pre-rollout=http://h/a").unwrap(),
            parse_gate("pre-step=http://h/b").unwrap(),
            parse_gate("confirm-promotion=http://h/c").unwrap(),
            parse_gate("manual").unwrap(),
        ];
        assert_eq!(needed(&gates, false).len(), 1);
        assert_eq!(needed(&gates, true).len(), 3);
    }

    #[test]
    fn a_held_step_asks_once_then_opens_on_the_answers() {
        let t = GateTracker::default();
        let g = parse_gate("pre-step=http://h/b").unwrap();
        let gates = vec![g.clone(), parse_gate("manual").unwrap()];
        let v = t.judge("m", 1, &gates, false, Duration::from_secs(60));
        let Verdict::Held { calls, first, .. } = v else {
            panic!("{v:?}")
        };
        assert_eq!((calls.len(), first), (1, true));
        // In flight: not asked again, not recorded again.
        let v = t.judge("m", 1, &gates, false, Duration::from_secs(60));
        assert!(
            matches!(v, Verdict::Held { ref calls, first: false, .. } if calls.is_empty()),
            "{v:?}"
        );
        t.answer("m", 1, &g, Ok(()));
        let v = t.judge("m", 1, &gates, false, Duration::from_secs(60));
        assert!(
            matches!(v, Verdict::Held { ref why, .. } if why.contains("mlctl approve")),
            "{v:?}"
        );
        assert_eq!(t.judge("m", 1, &gates, true, Duration::from_secs(60)), Verdict::Open);
        // A refusal past the timeout is reported; a new step starts afresh.
        t.judge("m", 2, &gates[..1], true, Duration::ZERO);
        t.answer("m", 2, &g, Err("HTTP 500".into()));
        let v = t.judge("m", 2, &gates[..1], true, Duration::ZERO);
        assert!(
            matches!(v, Verdict::Held { timed_out: true, ref why, .. } if why.contains("HTTP 500")),
            "{v:?}"
        );
    }
}
