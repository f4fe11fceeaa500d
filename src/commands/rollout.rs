//! `promote`, `pause`, `resume`, `rollback`, `history`, and following a rollout
//! (`deploy --wait`).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, ModelArg, PromoteArgs, RollbackArgs};
use crate::client::GatewayClient;
use crate::error::Result;
use crate::output::{Grid, Report, fmt_num};
use crate::rollout::controller::Transition;
use crate::rollout::guard::GuardValue;
use crate::rollout::strategy::Strategy;
use crate::rollout::{ArmWeight, Phase};
use crate::serving::api::RolloutStatus;
use crate::store::EventRecord;

#[derive(Debug, Serialize)]
pub struct TransitionReport {
    pub model: String,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub live_version: String,
    pub swap_ms: f64,
    pub weights: Vec<ArmWeight>,
}

impl Report for TransitionReport {
    fn grids(&self) -> Vec<Grid> {
        let weights = weights_text(&self.weights);
        vec![Grid {
            title: None,
            headers: vec![self.action.clone(), String::new()],
            rows: vec![
                vec!["model".into(), self.model.clone()],
                vec!["from".into(), self.from.clone().unwrap_or_else(|| "-".into())],
                vec!["to".into(), self.to.clone()],
                vec!["weights".into(), weights],
                vec!["request → route swap".into(), format!("{:.3} ms", self.swap_ms)],
            ],
        }]
    }
}

/// `canary 2=5%, stable 1=95%`.
pub fn weights_text(w: &[ArmWeight]) -> String {
    if w.is_empty() {
        return "-".into();
    }
    w.iter()
        .map(|a| format!("{} {}={}%", a.role, a.version, fmt_num(a.percent)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn transition(model: &str, action: &str, t: &Transition) -> TransitionReport {
    TransitionReport {
        model: model.into(),
        action: action.into(),
        from: t.from.clone(),
        to: t.to.clone(),
        live_version: t.state.live_version().to_string(),
        swap_ms: t.swap_us as f64 / 1000.0,
        weights: t.state.weights(),
    }
}

pub async fn promote(a: PromoteArgs, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?
        .rollout_command(&a.name, "promote", a.to.as_deref(), None)
        .await?;
    Ok(transition(&a.name, "promote", &t))
}

pub async fn pause(a: ModelArg, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?.rollout_command(&a.name, "pause", None, None).await?;
    Ok(transition(&a.name, "pause", &t))
}

pub async fn resume(a: ModelArg, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?.rollout_command(&a.name, "resume", None, None).await?;
    Ok(transition(&a.name, "resume", &t))
}

pub async fn approve(a: ModelArg, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?
        .rollout_command(&a.name, "approve", None, None)
        .await?;
    Ok(transition(&a.name, "approve", &t))
}

pub async fn rollback(a: RollbackArgs, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?
        .rollout_command(&a.name, "rollback", a.to.as_deref(), a.reason.as_deref())
        .await?;
    Ok(transition(&a.name, "rollback", &t))
}

#[derive(Debug, Serialize)]
pub struct HistoryReport {
    pub model: String,
    pub events: Vec<EventRecord>,
}

/// One line of evidence: the reason, else the guard values.
fn summary(detail: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(r) = detail["reason"].as_str() {
        parts.push(r.to_string());
    }
    // The controller's evidence: the guard values that decided the transition.
    let guards = [&detail["evidence"]["guards"], &detail["guards"]]
        .into_iter()
        .find_map(|g| serde_json::from_value::<Vec<GuardValue>>(g.clone()).ok())
        .unwrap_or_default();
    for gv in guards {
        let v = gv.value.map(fmt_num).unwrap_or_else(|| "-".into());
        parts.push(format!(
            "{} [{}] = {}{}",
            gv.guard,
            gv.arm,
            v,
            match gv.verdict() {
                "ok" => String::new(),
                v => format!(" {v}"),
            }
        ));
    }
    if let Some(w) = detail
        .get("weights")
        .and_then(|w| serde_json::from_value::<Vec<ArmWeight>>(w.clone()).ok())
    {
        parts.push(format!("weights {}", weights_text(&w)));
    } else if let Some(w) = detail.get("weights").and_then(Value::as_object) {
        parts.push(format!(
            "weights {}",
            w.iter()
                .map(|(k, v)| format!("{k}={v}%"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(v) = detail["version"].as_str() {
        parts.push(format!("version {v}"));
    }
    parts.join("; ")
}

impl Report for HistoryReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .events
            .iter()
            .map(|e| {
                vec![
                    e.id.to_string(),
                    e.ts.clone(),
                    e.actor.clone(),
                    e.kind.clone(),
                    e.from_state.clone().unwrap_or_default(),
                    e.to_state.clone().unwrap_or_default(),
                    summary(&e.detail),
                ]
            })
            .collect();
        vec![Grid {
            title: Some(format!("history of {}", self.model)),
            headers: ["#", "time", "actor", "event", "from", "to", "evidence"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rows,
        }]
    }
}

pub async fn history(a: ModelArg, g: &GlobalArgs) -> Result<HistoryReport> {
    let events = super::client(g)?.events(&a.name).await?.events;
    if events.is_empty() {
        return Err(crate::error::Error::Usage(format!("no history for model '{}'", a.name)));
    }
    Ok(HistoryReport { model: a.name, events })
}

/// A one-line view of a rollout for progress displays.
pub fn progress_line(r: &RolloutStatus) -> String {
    let Some(state) = &r.rollout else {
        return "no rollout".into();
    };
    let mut line = state.phase.name().to_string();
    if state.spec.strategy == Strategy::Canary {
        line.push_str(&format!(" step {}/{}", state.step + 1, state.spec.steps.len()));
    }
    line.push_str(&format!(
        " · {}",
        weights_text(r.weights.as_deref().unwrap_or_default())
    ));
    for gv in r.evaluation.iter().flat_map(|e| &e.values) {
        let v = gv.value.map(fmt_num).unwrap_or_else(|| "…".into());
        line.push_str(&format!(" · {} {}", gv.guard, v));
        if gv.verdict() != "ok" {
            line.push_str(&format!(" ({})", gv.verdict()));
        }
    }
    if let Some(reason) = &state.reason {
        line.push_str(&format!(" · {reason}"));
    }
    if let Some(held) = r.evaluation.as_ref().and_then(|e| e.held.as_ref()) {
        line.push_str(&format!(" · {held}"));
    }
    line
}

/// Follow a rollout until it is promoted, rolled back or paused; returns the final
/// phase and reason. Progress on stderr: a live bar on a TTY, else one line per change.
pub async fn follow(client: &GatewayClient, model: &str) -> Result<(String, Option<String>)> {
    let tty = crate::output::styled(crate::output::Stream::Stderr);
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let mut last = String::new();
    loop {
        let r = client.rollout(model).await?;
        let line = progress_line(&r);
        match &bar {
            Some(b) => b.set_message(line.clone()),
            None if line != last => eprintln!("{model}: {line}"),
            None => {}
        }
        last = line;
        if let Some(state) = r.rollout.filter(|s| s.phase != Phase::Progressing) {
            if let Some(b) = &bar {
                b.finish_with_message(last.clone());
            }
            return Ok((state.phase.name().to_string(), state.reason));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
