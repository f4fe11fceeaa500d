//! `mlctl monitor add|ls|rm|status`: drift monitors inside the gateway (admin API).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::{GlobalArgs, MonitorAddArgs, MonitorIdArgs, MonitorStatusArgs};
use crate::drift::monitor::MonitorSpec;
use crate::drift::profile::Profile;
use crate::error::{Error, Result};
use crate::output::{Grid, Report, fmt_num};
use crate::serving::api::{MonitorAdded, MonitorList, MonitorWindows};

pub async fn add(a: &MonitorAddArgs, g: &GlobalArgs) -> Result<MonitorAdded> {
    crate::client::check_names(&a.model, None)?;
    let baseline = Profile::read(&a.baseline)?;
    let mut thresholds = BTreeMap::new();
    for t in &a.thresholds {
        for (c, x) in crate::parse::parse_pairs("--threshold", t)? {
            thresholds.insert(c, x);
        }
    }
    for url in &a.notify {
        crate::serving::notify::check_url("--notify", url)?;
    }
    let spec = MonitorSpec {
        model: a.model.clone(),
        baseline,
        columns: a.columns.clone().unwrap_or_default(),
        window_ms: a.window.as_millis().min(u64::MAX as u128) as u64,
        method: a.method,
        thresholds,
        consecutive: a.consecutive,
        retention_ms: a.retention.as_millis().min(u64::MAX as u128) as u64,
        notify: a.notify.clone(),
        quality: a.quality.clone(),
        quality_metric: a.quality_metric.clone(),
        quality_window_ms: a.quality_window.map(|d| d.as_millis().min(u64::MAX as u128) as u64),
        quality_min_pairs: a.quality_min_pairs,
    };
    // The same checks as the gateway's, with the flag names, before anything is sent.
    spec.validate().map_err(|e| Error::Usage(format!("monitor add: {e}")))?;
    super::client(g)?.add_monitor(&spec).await
}

impl Report for MonitorAdded {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some(format!("monitor {} watches {}", self.id, self.model)),
            headers: vec!["columns".into()],
            rows: vec![vec![self.columns.join(", ")]],
        }]
    }
}

pub async fn ls(g: &GlobalArgs) -> Result<MonitorList> {
    super::client(g)?.monitors().await
}

impl Report for MonitorList {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some("drift monitors".into()),
            headers: [
                "id",
                "model",
                "columns",
                "method",
                "window",
                "consecutive",
                "alert",
                "rows now",
                "memory",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .monitors
                .iter()
                .map(|m| {
                    let firing: Vec<String> = m
                        .firing
                        .iter()
                        .map(|(v, f)| format!("v{v}: {}", if *f { "FIRING" } else { "ok" }))
                        .collect();
                    let rows: Vec<String> = m.window_rows.iter().map(|(v, n)| format!("v{v}: {n}")).collect();
                    vec![
                        m.id.to_string(),
                        m.model.clone(),
                        m.columns.join(", "),
                        m.method.clone(),
                        humantime::format_duration(std::time::Duration::from_millis(m.window_ms)).to_string(),
                        m.consecutive.to_string(),
                        if firing.is_empty() {
                            "-".into()
                        } else {
                            firing.join(" ")
                        },
                        if rows.is_empty() { "0".into() } else { rows.join(" ") },
                        format!("{} KiB", m.window_bytes.div_ceil(1024)),
                    ]
                })
                .collect(),
        }]
    }
}

#[derive(Debug, Serialize)]
pub struct Removed {
    pub id: i64,
    pub removed: bool,
}

impl Report for Removed {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some(format!("monitor {} removed", self.id)),
            headers: vec![],
            rows: vec![],
        }]
    }
}

pub async fn rm(a: &MonitorIdArgs, g: &GlobalArgs) -> Result<Removed> {
    super::client(g)?.remove_monitor(a.id).await?;
    Ok(Removed {
        id: a.id,
        removed: true,
    })
}

pub async fn status(a: &MonitorStatusArgs, g: &GlobalArgs) -> Result<MonitorWindows> {
    super::client(g)?.monitor_windows(a.id, a.last).await
}

impl Report for MonitorWindows {
    fn grids(&self) -> Vec<Grid> {
        let m = &self.monitor;
        let mut rows = Vec::new();
        for w in &self.windows {
            for c in &w.columns {
                rows.push(vec![
                    w.end.clone(),
                    w.version.clone(),
                    w.rows.to_string(),
                    c.column.clone(),
                    c.method.clone(),
                    c.statistic.map(fmt_num).unwrap_or_else(|| "-".into()),
                    c.p_value.map(fmt_num).unwrap_or_else(|| "-".into()),
                    fmt_num(c.threshold),
                    if c.drift { "DRIFT".into() } else { "ok".into() },
                ]);
            }
        }
        vec![Grid {
            title: Some(format!(
                "monitor {} on {}: {} windows of {}; alert after {} drifted windows",
                m.id,
                m.model,
                self.windows.len(),
                humantime::format_duration(std::time::Duration::from_millis(m.window_ms)),
                m.consecutive
            )),
            headers: [
                "window end",
                "version",
                "rows",
                "column",
                "method",
                "statistic",
                "p-value",
                "threshold",
                "verdict",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }]
    }
}
