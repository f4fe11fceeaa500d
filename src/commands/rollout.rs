//! `promote`, `pause`, `resume`, `rollback`, `history`, and following a rollout
//! (`deploy --wait`).

use std::io::IsTerminal;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, ModelArg, PromoteArgs, RollbackArgs};
use crate::client::GatewayClient;
use crate::error::Result;
use crate::output::{Grid, Report};

#[derive(Debug, Serialize)]
pub struct TransitionReport {
    pub model: String,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub live_version: String,
    pub swap_ms: f64,
    pub weights: Value,
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

pub fn weights_text(w: &Value) -> String {
    w.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{} {}={}%",
                        x["role"].as_str().unwrap_or(""),
                        x["version"].as_str().unwrap_or(""),
                        super::fmt_num(x["percent"].as_f64().unwrap_or(0.0))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "-".into())
}

fn transition(model: &str, action: &str, t: &Value) -> TransitionReport {
    let state = &t["state"];
    let live = match state["phase"].as_str() {
        Some("promoted") => state["spec"]["candidate"].as_str(),
        _ => state["stable"].as_str(),
    };
    let weights = match state["phase"].as_str() {
        Some("promoted") | Some("rolled_back") => {
            serde_json::json!([{"role": "stable", "version": live, "percent": 100.0}])
        }
        _ => Value::Null,
    };
    TransitionReport {
        model: model.into(),
        action: action.into(),
        from: t["from"].as_str().map(str::to_string),
        to: t["to"].as_str().unwrap_or("").to_string(),
        live_version: live.unwrap_or("").to_string(),
        swap_ms: t["swap_us"].as_f64().unwrap_or(0.0) / 1000.0,
        weights,
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

pub async fn rollback(a: RollbackArgs, g: &GlobalArgs) -> Result<TransitionReport> {
    let t = super::client(g)?
        .rollout_command(&a.name, "rollback", a.to.as_deref(), a.reason.as_deref())
        .await?;
    Ok(transition(&a.name, "rollback", &t))
}

#[derive(Debug, Serialize)]
pub struct HistoryReport {
    pub model: String,
    pub events: Vec<Value>,
}

/// One line of evidence: the reason, else the guard values.
fn summary(detail: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(r) = detail["reason"].as_str() {
        parts.push(r.to_string());
    }
    let guards = detail["evidence"]["guards"]
        .as_array()
        .or_else(|| detail["guards"].as_array());
    for gv in guards.into_iter().flatten() {
        let v = gv["value"].as_f64().map(super::fmt_num).unwrap_or_else(|| "-".into());
        parts.push(format!(
            "{} [{}] = {}{}",
            gv["guard"].as_str().unwrap_or(""),
            gv["arm"].as_str().unwrap_or(""),
            v,
            if gv["pass"] == false { " FAIL" } else { "" }
        ));
    }
    if let Some(w) = detail.get("weights").filter(|w| w.is_array()) {
        parts.push(format!("weights {}", weights_text(w)));
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
                let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
                vec![
                    e["id"].to_string(),
                    s("ts"),
                    s("actor"),
                    s("kind"),
                    s("from_state"),
                    s("to_state"),
                    summary(&e["detail"]),
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
    let v = super::client(g)?.events(&a.name).await?;
    let events = v["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        return Err(crate::error::Error::Usage(format!("no history for model '{}'", a.name)));
    }
    Ok(HistoryReport { model: a.name, events })
}

/// A one-line view of a rollout for progress displays.
pub fn progress_line(r: &Value) -> String {
    let state = &r["rollout"];
    let phase = state["phase"].as_str().unwrap_or("?");
    let mut line = phase.to_string();
    if state["spec"]["strategy"] == "canary" {
        let steps = state["spec"]["steps"].as_array().map_or(0, Vec::len);
        line.push_str(&format!(" step {}/{}", state["step"].as_u64().unwrap_or(0) + 1, steps));
    }
    line.push_str(&format!(" · {}", weights_text(&r["weights"])));
    for gv in r["evaluation"]["values"].as_array().into_iter().flatten() {
        let v = gv["value"].as_f64().map(super::fmt_num).unwrap_or_else(|| "…".into());
        line.push_str(&format!(" · {} {}", gv["guard"].as_str().unwrap_or(""), v));
    }
    if let Some(reason) = state["reason"].as_str() {
        line.push_str(&format!(" · {reason}"));
    }
    line
}

/// Follow a rollout until it is promoted, rolled back or paused; returns the final
/// phase and reason. Progress on stderr: a live bar on a TTY, else one line per change.
pub async fn follow(client: &GatewayClient, model: &str) -> Result<(String, Option<String>)> {
    let tty = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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
        let phase = r["rollout"]["phase"].as_str().unwrap_or("").to_string();
        if matches!(phase.as_str(), "promoted" | "rolled_back" | "paused") {
            if let Some(b) = &bar {
                b.finish_with_message(last.clone());
            }
            return Ok((phase, r["rollout"]["reason"].as_str().map(str::to_string)));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
