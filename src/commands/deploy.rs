//! `mlctl deploy NAME --version V (--onnx FILE | --upstream URL)`: upload, register,
//! route 100% (strategy `single`).

use serde::Serialize;

use crate::cli::{DeployArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};

#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub model: String,
    pub version: String,
    pub runtime: String,
    pub strategy: String,
    pub created: bool,
    pub previous_version: Option<String>,
    pub swap_us: Option<u64>,
    pub inputs: serde_json::Value,
    pub outputs: serde_json::Value,
    pub notes: Vec<String>,
}

impl Report for DeployReport {
    fn grids(&self) -> Vec<Grid> {
        let io = |v: &serde_json::Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            format!(
                                "{} {} {}",
                                t["name"].as_str().unwrap_or("?"),
                                t["datatype"].as_str().unwrap_or("?"),
                                t["shape"]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default()
        };
        let mut rows = vec![
            vec!["model".into(), self.model.clone()],
            vec![
                "version".into(),
                format!(
                    "{}{}",
                    self.version,
                    if self.created { "" } else { " (already registered)" }
                ),
            ],
            vec!["runtime".into(), self.runtime.clone()],
            vec!["strategy".into(), format!("{} (100% live)", self.strategy)],
            vec![
                "previous live".into(),
                self.previous_version.clone().unwrap_or_else(|| "-".into()),
            ],
        ];
        if let Some(us) = self.swap_us {
            rows.push(vec![
                "route change".into(),
                format!("{:.3} ms (commit + swap)", us as f64 / 1000.0),
            ]);
        }
        if self.runtime == "onnx" {
            rows.push(vec!["inputs".into(), io(&self.inputs)]);
            rows.push(vec!["outputs".into(), io(&self.outputs)]);
        }
        for n in &self.notes {
            rows.push(vec!["loader".into(), n.clone()]);
        }
        vec![Grid {
            title: None,
            headers: vec!["deployed".into(), String::new()],
            rows,
        }]
    }
}

pub async fn run(args: DeployArgs, g: &GlobalArgs) -> Result<DeployReport> {
    let client = super::client(g)?;
    let registered = match (&args.onnx, &args.upstream) {
        (Some(path), None) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            if bytes.is_empty() {
                return Err(Error::input(
                    path.display().to_string(),
                    "file is empty, expected an ONNX model",
                ));
            }
            let sha = client.upload_blob(bytes).await?;
            client.register_onnx(&args.name, &args.version, &sha).await?
        }
        (None, Some(url)) => {
            client
                .register_upstream(&args.name, &args.version, url, args.timeout)
                .await?
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --onnx FILE and --upstream URL".into(),
            ));
        }
    };
    let routed = client
        .set_route(&args.name, &args.version, args.reason.as_deref())
        .await?;
    Ok(DeployReport {
        model: args.name,
        version: args.version,
        runtime: registered["runtime"].as_str().unwrap_or("?").to_string(),
        strategy: "single".into(),
        created: registered["created"].as_bool().unwrap_or(true),
        previous_version: routed["previous_version"].as_str().map(str::to_string),
        swap_us: routed["swap_us"].as_u64(),
        inputs: registered["inputs"].clone(),
        outputs: registered["outputs"].clone(),
        notes: registered["notes"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    })
}
