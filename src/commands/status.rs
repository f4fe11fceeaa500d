//! `mlctl status [NAME]`: models, versions, which is live.

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub models: Vec<Value>,
}

impl Report for StatusReport {
    fn grids(&self) -> Vec<Grid> {
        let headers = ["model", "version", "live", "runtime", "source", "loaded", "created"];
        let mut rows = Vec::new();
        for m in &self.models {
            for v in m["versions"].as_array().into_iter().flatten() {
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                let live = if v["live"].as_bool() == Some(true) {
                    "100%".to_string()
                } else {
                    "-".to_string()
                };
                let loaded = match (v["loaded"].as_bool(), v["load_error"].as_str()) {
                    (_, Some(err)) => format!("no: {err}"),
                    (Some(true), _) => "yes".into(),
                    _ => "no".into(),
                };
                rows.push(vec![
                    m["model"].as_str().unwrap_or("").to_string(),
                    s("version"),
                    live,
                    s("runtime"),
                    s("source"),
                    loaded,
                    s("created_at"),
                ]);
            }
        }
        vec![Grid {
            title: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        }]
    }
}

pub async fn run(args: StatusArgs, g: &GlobalArgs) -> Result<StatusReport> {
    let all = super::client(g)?.models().await?;
    let mut models: Vec<Value> = all["models"].as_array().cloned().unwrap_or_default();
    if let Some(name) = &args.name {
        models.retain(|m| m["model"].as_str() == Some(name.as_str()));
        if models.is_empty() {
            return Err(Error::Usage(format!("no model named '{name}' on {}", g.endpoint)));
        }
    }
    Ok(StatusReport { models })
}
