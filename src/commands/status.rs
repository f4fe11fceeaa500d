//! `mlctl status [NAME] [--watch]`: models, versions, weights, rollout state, guard
//! values, per-arm figures of the current step, and shadow disagreements.

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub models: Vec<Value>,
    /// Rollout status per model that has one (`GET /admin/v1/models/{m}/rollout`).
    pub rollouts: Vec<Value>,
}

fn opt_num(v: &Value) -> String {
    v.as_f64().map(super::fmt_num).unwrap_or_else(|| "-".into())
}

impl Report for StatusReport {
    fn grids(&self) -> Vec<Grid> {
        let headers = ["model", "version", "weight", "runtime", "source", "loaded", "created"];
        let mut rows = Vec::new();
        for m in &self.models {
            let name = m["model"].as_str().unwrap_or("");
            let weights = self
                .rollouts
                .iter()
                .find(|r| r["model"] == name)
                .and_then(|r| r["weights"].as_array().cloned());
            for v in m["versions"].as_array().into_iter().flatten() {
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                let version = s("version");
                let weight = match &weights {
                    Some(ws) if m["state"] == "progressing" || m["state"] == "paused" => ws
                        .iter()
                        .find(|w| w["version"] == version.as_str())
                        .map(|w| {
                            format!(
                                "{}% {}",
                                super::fmt_num(w["percent"].as_f64().unwrap_or(0.0)),
                                w["role"].as_str().unwrap_or("")
                            )
                        })
                        .unwrap_or_else(|| "-".into()),
                    _ if v["live"].as_bool() == Some(true) => "100% stable".into(),
                    _ => "-".into(),
                };
                let loaded = match (v["loaded"].as_bool(), v["load_error"].as_str()) {
                    (_, Some(err)) => format!("no: {err}"),
                    (Some(true), _) => "yes".into(),
                    _ => "no".into(),
                };
                rows.push(vec![
                    name.to_string(),
                    version,
                    weight,
                    s("runtime"),
                    s("source"),
                    loaded,
                    s("created_at"),
                ]);
            }
        }
        let mut grids = vec![Grid {
            title: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        }];
        for r in &self.rollouts {
            let state = &r["rollout"];
            if state.is_null() {
                continue;
            }
            let model = r["model"].as_str().unwrap_or("");
            let mut info = vec![
                vec![
                    "strategy".into(),
                    state["spec"]["strategy"].as_str().unwrap_or("").into(),
                ],
                vec!["state".into(), super::rollout::progress_line(r)],
                vec![
                    "stable / candidate".into(),
                    format!(
                        "{} / {}",
                        state["stable"].as_str().unwrap_or(""),
                        state["spec"]["candidate"].as_str().unwrap_or("")
                    ),
                ],
                vec![
                    "step started".into(),
                    state["step_started_at"].as_str().unwrap_or("").into(),
                ],
            ];
            if r["shadow_dropped"].as_u64().unwrap_or(0) > 0 {
                info.push(vec!["shadow dropped".into(), r["shadow_dropped"].to_string()]);
            }
            grids.push(Grid {
                title: Some(format!("rollout of {model}")),
                headers: vec!["".into(), "".into()],
                rows: info,
            });
            let guards: Vec<Vec<String>> = r["evaluation"]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    vec![
                        g["guard"].as_str().unwrap_or("").into(),
                        g["arm"].as_str().unwrap_or("").into(),
                        opt_num(&g["value"]),
                        opt_num(&g["threshold"]),
                        if g["pass"] == true { "ok".into() } else { "FAIL".into() },
                        g["note"].as_str().unwrap_or("").into(),
                    ]
                })
                .collect();
            if !guards.is_empty() {
                grids.push(Grid {
                    title: Some(format!("guards of {model} (this step)")),
                    headers: ["guard", "arm", "value", "threshold", "", "note"]
                        .iter()
                        .map(|h| h.to_string())
                        .collect(),
                    rows: guards,
                });
            }
            let arms: Vec<Vec<String>> = r["arms"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    vec![
                        a["version"].as_str().unwrap_or("").into(),
                        a["requests"].to_string(),
                        a["errors"].to_string(),
                        opt_num(&a["p50_ms"]),
                        opt_num(&a["p99_ms"]),
                        if a["compared"].as_u64().unwrap_or(0) > 0 {
                            format!("{} of {}", opt_num(&a["agreement"]), a["compared"])
                        } else {
                            "-".into()
                        },
                        a["top_disagreements"]
                            .as_array()
                            .map(|d| {
                                d.iter()
                                    .take(3)
                                    .map(|x| {
                                        format!(
                                            "{} (Δ {})",
                                            x["request_id"].as_str().unwrap_or(""),
                                            opt_num(&x["delta"])
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            if !arms.is_empty() {
                grids.push(Grid {
                    title: Some(format!("arms of {model} (this step)")),
                    headers: [
                        "version",
                        "requests",
                        "errors",
                        "p50 ms",
                        "p99 ms",
                        "agreement",
                        "top disagreements",
                    ]
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
                    rows: arms,
                });
            }
        }
        grids
    }
}

pub async fn run(args: &StatusArgs, g: &GlobalArgs) -> Result<StatusReport> {
    let client = super::client(g)?;
    let all = client.models().await?;
    let mut models: Vec<Value> = all["models"].as_array().cloned().unwrap_or_default();
    if let Some(name) = &args.name {
        models.retain(|m| m["model"].as_str() == Some(name.as_str()));
        if models.is_empty() {
            return Err(Error::Usage(format!("no model named '{name}' on {}", g.endpoint)));
        }
    }
    let mut rollouts = Vec::new();
    for m in &models {
        let Some(name) = m["model"].as_str() else { continue };
        let has_rollout = !matches!(m["strategy"].as_str(), None | Some("single"))
            || matches!(m["state"].as_str(), Some("progressing") | Some("paused"));
        if args.name.is_some() || has_rollout {
            let r = client.rollout(name).await?;
            if !r["rollout"].is_null() {
                rollouts.push(r);
            }
        }
    }
    Ok(StatusReport { models, rollouts })
}
