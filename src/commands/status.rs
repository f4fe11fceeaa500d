//! `mlctl status [NAME] [--watch]`: models, versions, weights, rollout state, guard
//! values, per-arm figures of the current step, and shadow disagreements.

use serde::Serialize;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report, fmt_num};
use crate::rollout::strategy::Strategy;
use crate::serving::api::{ModelEntry, ReplicaList, RolloutStatus};
use crate::serving::notify::TargetStatus;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub models: Vec<ModelEntry>,
    /// Rollout status per model that has one (`GET /admin/v1/models/{m}/rollout`).
    pub rollouts: Vec<RolloutStatus>,
    /// Webhook targets and their delivery state (`GET /admin/v1/notify`).
    pub notify: Vec<TargetStatus>,
    /// Replicas sharing the gateway's database (`GET /admin/v1/replicas`).
    pub replicas: ReplicaList,
}

fn opt_num(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "-".into())
}

fn strategy_name(s: Strategy) -> &'static str {
    crate::rollout::controller::strategy_name(s)
}

impl Report for StatusReport {
    fn grids(&self) -> Vec<Grid> {
        let headers = ["model", "version", "weight", "runtime", "source", "loaded", "created"];
        let mut rows = Vec::new();
        for m in &self.models {
            let weights = self
                .rollouts
                .iter()
                .find(|r| r.model == m.model)
                .and_then(|r| r.weights.as_ref());
            for v in &m.versions {
                let weight = match weights {
                    Some(ws) if m.rollout_active() => ws
                        .iter()
                        .find(|w| w.version == v.version)
                        .map(|w| format!("{}% {}", fmt_num(w.percent), w.role))
                        .unwrap_or_else(|| "-".into()),
                    _ if v.live => "100% stable".into(),
                    _ => "-".into(),
                };
                let loaded = match (&v.load_error, v.loaded) {
                    (Some(err), _) => format!("no: {err}"),
                    (None, true) => "yes".into(),
                    (None, false) => "no".into(),
                };
                rows.push(vec![
                    m.model.clone(),
                    v.version.clone(),
                    weight,
                    v.runtime.clone(),
                    v.source.clone(),
                    loaded,
                    v.created_at.clone(),
                ]);
            }
        }
        let mut grids = vec![Grid {
            title: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        }];
        for r in &self.rollouts {
            let Some(state) = &r.rollout else { continue };
            let model = &r.model;
            let mut info = vec![
                vec!["strategy".into(), strategy_name(state.spec.strategy).into()],
                vec!["state".into(), super::rollout::progress_line(r)],
                vec![
                    "stable / candidate".into(),
                    format!("{} / {}", state.stable, state.spec.candidate),
                ],
                vec!["step started".into(), state.step_started_at.clone()],
            ];
            if r.shadow_dropped > 0 {
                info.push(vec!["shadow dropped".into(), r.shadow_dropped.to_string()]);
            }
            grids.push(Grid {
                title: Some(format!("rollout of {model}")),
                headers: vec!["".into(), "".into()],
                rows: info,
            });
            let guards: Vec<Vec<String>> = r
                .evaluation
                .iter()
                .flat_map(|e| &e.values)
                .map(|g| {
                    vec![
                        g.guard.clone(),
                        g.arm.clone(),
                        opt_num(g.value),
                        opt_num(Some(g.threshold)),
                        g.verdict().into(),
                        g.note.clone(),
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
            let arms: Vec<Vec<String>> = r
                .arms
                .iter()
                .map(|a| {
                    vec![
                        a.version.clone(),
                        a.requests.to_string(),
                        a.errors.to_string(),
                        opt_num(a.p50_ms),
                        opt_num(a.p99_ms),
                        if a.compared > 0 {
                            format!("{} of {}", opt_num(a.agreement), a.compared)
                        } else {
                            "-".into()
                        },
                        a.top_disagreements
                            .iter()
                            .take(3)
                            .map(|x| format!("{} (Δ {})", x.request_id, opt_num(Some(x.delta))))
                            .collect::<Vec<_>>()
                            .join(", "),
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
        if !self.notify.is_empty() {
            grids.push(Grid {
                title: Some("webhooks".into()),
                headers: [
                    "target",
                    "delivered",
                    "failed",
                    "events behind",
                    "last error",
                    "updated",
                ]
                .iter()
                .map(|h| h.to_string())
                .collect(),
                rows: self
                    .notify
                    .iter()
                    .map(|t| {
                        vec![
                            t.target.clone(),
                            t.delivered.to_string(),
                            t.failed.to_string(),
                            t.behind.to_string(),
                            t.last_error.clone().unwrap_or_default(),
                            t.updated_at.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        if !self.replicas.replicas.is_empty() {
            grids.push(replica_grid(&self.replicas));
        }
        grids
    }
}

/// Each replica: id (this one marked), address, heartbeat age, the route version it
/// serves and how far behind the newest event that is, leader or not.
fn replica_grid(r: &ReplicaList) -> Grid {
    let now = chrono::Utc::now();
    let rows = r
        .replicas
        .iter()
        .map(|x| {
            let age = crate::wire::log::parse_ts(&x.heartbeat_at)
                .map(|t| format!("{} s ago", fmt_num((now - t).num_milliseconds() as f64 / 1000.0)))
                .unwrap_or_else(|| x.heartbeat_at.clone());
            let mark = if r.this.as_deref() == Some(x.id.as_str()) {
                " (this)"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", x.id),
                x.address.clone(),
                age,
                x.route_version.to_string(),
                (r.newest_event - x.route_version).max(0).to_string(),
                if x.leader { "leader".into() } else { "-".into() },
            ]
        })
        .collect();
    Grid {
        title: Some(format!("replicas (leader epoch {})", r.leader_epoch)),
        headers: ["replica", "address", "heartbeat", "route version", "behind", "role"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows,
    }
}

pub async fn run(args: &StatusArgs, g: &GlobalArgs) -> Result<StatusReport> {
    let client = super::client(g)?;
    let mut models = client.models().await?.models;
    if let Some(name) = &args.name {
        models.retain(|m| m.model == *name);
        if models.is_empty() {
            return Err(Error::Usage(format!("no model named '{name}' on {}", g.endpoint)));
        }
    }
    let mut rollouts = Vec::new();
    for m in &models {
        if args.name.is_some() || m.has_rollout() {
            let r = client.rollout(&m.model).await?;
            if r.rollout.is_some() {
                rollouts.push(r);
            }
        }
    }
    let notify = client.notify_status().await?.targets;
    let replicas = client.replicas().await?;
    Ok(StatusReport {
        models,
        rollouts,
        notify,
        replicas,
    })
}
