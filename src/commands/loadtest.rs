//! `mlctl loadtest`: flags → target and run settings, live progress, one run or a sweep,
//! SLO gates → exit code.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{GlobalArgs, LoadtestArgs};
use crate::error::{Error, Result};
use crate::loadtest::report::{RunReport, SweepReport};
use crate::loadtest::sample::Live;
use crate::loadtest::scheduler::LoadModel;
use crate::loadtest::slo::Slo;
use crate::loadtest::target::Protocol;
use crate::loadtest::{self, RunConfig, target};
use crate::output::{Grid, Report};
use crate::parse::parse_sweep;
use crate::wire::v2::ModelMetadata;

use super::predict;

/// Open-loop connections when `--connections` is not given.
pub const DEFAULT_CONNECTIONS: usize = 64;

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LoadtestReport {
    Run(Box<RunReport>),
    Sweep(SweepReport),
}

impl Report for LoadtestReport {
    fn grids(&self) -> Vec<Grid> {
        match self {
            LoadtestReport::Run(r) => r.grids(),
            LoadtestReport::Sweep(s) => s.grids(),
        }
    }
}

/// Any JSON (a URL target's bodies need not be V2 requests).
fn check_json(at: &str, body: &[u8]) -> Result<()> {
    serde_json::from_slice::<Value>(body).map_err(|e| Error::input(at, format!("not JSON: {e}")))?;
    Ok(())
}

/// A one-row request of zeros shaped like the model's inputs (no `--input` given).
fn zeros_request(meta: &ModelMetadata, model: &str) -> Result<Bytes> {
    let inputs = &meta.inputs;
    if inputs.is_empty() {
        return Err(Error::Usage(format!(
            "model '{model}' publishes no inputs in its metadata; give requests with --input"
        )));
    }
    let mut tensors = Vec::new();
    for inp in inputs {
        let (name, dt) = (&inp.name, inp.datatype.as_str());
        let mut shape: Vec<i64> = inp.shape.iter().map(|&d| d.max(1)).collect();
        if shape.is_empty() {
            shape.push(1);
        }
        let n: i64 = shape.iter().product();
        let zero = match dt {
            "BOOL" => json!(false),
            "BYTES" => json!(""),
            _ => json!(0),
        };
        tensors.push(json!({"name": name, "shape": shape, "datatype": dt, "data": vec![zero; n as usize]}));
    }
    Ok(Bytes::from(json!({ "inputs": tensors }).to_string()))
}

async fn bodies(args: &LoadtestArgs, g: &GlobalArgs) -> Result<Vec<Bytes>> {
    let v2 = args.model.is_some();
    if let Some(b) = &args.body {
        return match b.strip_prefix('@') {
            Some(file) => {
                let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
                Ok(vec![Bytes::from(bytes)])
            }
            None => Ok(vec![Bytes::from(b.clone())]),
        };
    }
    if args.batch == 0 {
        return Err(Error::Usage("--batch must be at least 1".into()));
    }
    let Some(path) = &args.input else {
        return match &args.model {
            Some(model) => {
                let meta = super::client(g)?.model_metadata(model, args.version.as_deref()).await?;
                Ok(vec![zeros_request(&meta, model)?])
            }
            None => Ok(Vec::new()),
        };
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => {
            let check = if v2 { predict::check_v2 } else { check_json };
            let requests = if ext == "json" {
                predict::json_with(path, check)?
            } else {
                predict::jsonl_with(path, check)?
            };
            Ok(requests.into_iter().map(|r| Bytes::from(r.body)).collect())
        }
        "csv" => {
            let Some(model) = &args.model else {
                return Err(Error::Usage(
                    "CSV input needs --model: the tensor's name and type come from the model's metadata".into(),
                ));
            };
            let meta = super::client(g)?.model_metadata(model, args.version.as_deref()).await?;
            let inputs = meta.inputs;
            if inputs.len() != 1 {
                return Err(Error::Usage(format!(
                    "model '{model}' has {} inputs; CSV rows feed single-input models (use --input requests.jsonl)",
                    inputs.len()
                )));
            }
            let rows = predict::read_csv_rows(path, &inputs[0])?;
            let n = rows.len();
            Ok((0..n)
                .step_by(args.batch)
                .map(|s| Bytes::from(rows.request(s..(s + args.batch).min(n))))
                .collect())
        }
        _ => Err(Error::input(
            path.display().to_string(),
            "unknown file type: expected .jsonl (one request per line), .json (one request) or .csv (feature rows)",
        )),
    }
}

fn target_url(args: &LoadtestArgs, g: &GlobalArgs) -> String {
    match (&args.url, &args.model) {
        (Some(u), _) => u.clone(),
        (None, Some(m)) => {
            let base = g.endpoint.trim_end_matches('/');
            match &args.version {
                Some(v) => format!("{base}/v2/models/{m}/versions/{v}/infer"),
                None => format!("{base}/v2/models/{m}/infer"),
            }
        }
        (None, None) => String::new(),
    }
}

fn check_flags(args: &LoadtestArgs) -> Result<()> {
    if args.concurrency == Some(0) {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    if args.connections == Some(0) {
        return Err(Error::Usage("--connections must be at least 1".into()));
    }
    if args.connections.is_some() && args.concurrency.is_some() {
        return Err(Error::Usage(
            "--connections applies to --rate/--sweep; a closed loop uses one connection per --concurrency worker"
                .into(),
        ));
    }
    if args.requests == Some(0) {
        return Err(Error::Usage("--requests must be at least 1".into()));
    }
    if args.duration.is_zero() && args.requests.is_none() {
        return Err(Error::Usage("--duration must be above 0".into()));
    }
    if args.timeout.is_zero() || args.timeout > Duration::from_secs(60) {
        return Err(Error::Usage(
            "--timeout must be above 0 and at most 60s (the latency histogram's range)".into(),
        ));
    }
    if args.routing_keys == Some(0) {
        return Err(Error::Usage("--routing-keys must be at least 1".into()));
    }
    Ok(())
}

/// Live progress on stderr while `live` changes; returns when `done` is set.
fn progress(live: Arc<Live>, label: String, total: Duration, done: Arc<std::sync::atomic::AtomicBool>) {
    let bar = indicatif::ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} {bar:16} {elapsed:>3} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(label);
    let t0 = Instant::now();
    // Requests started over the last second, for a steady rate.
    let mut recent: std::collections::VecDeque<(Instant, u64)> = std::collections::VecDeque::new();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let started = live.started.load(Ordering::Relaxed);
        let now = Instant::now();
        recent.push_back((now, started));
        while recent.len() > 2 && now.duration_since(recent[0].0) > Duration::from_secs(1) {
            recent.pop_front();
        }
        let (t_first, n_first) = recent[0];
        let rps = (started - n_first) as f64 / now.duration_since(t_first).as_secs_f64().max(0.25);
        let p99 = live.recent_p99_us.load(Ordering::Relaxed) as f64 / 1000.0;
        bar.set_position(t0.elapsed().as_millis() as u64);
        bar.set_message(format!(
            "sent {started} · {rps:.0}/s · p99 {p99:.1} ms · err {}",
            live.errors.load(Ordering::Relaxed)
        ));
    }
    bar.finish_and_clear();
}

async fn run_once(
    target: Arc<target::Target>,
    addr: std::net::SocketAddr,
    cfg: &RunConfig,
    slos: &[Slo],
    label: String,
) -> Result<RunReport> {
    let live = Arc::new(Live::default());
    let show = crate::output::styled(crate::output::Stream::Stderr);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bar = if show {
        let (live, done) = (live.clone(), done.clone());
        let total = cfg.warmup + cfg.duration;
        Some(std::thread::spawn(move || progress(live, label, total, done)))
    } else {
        None
    };
    let out = loadtest::run(target.clone(), addr, cfg, live).await;
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    Ok(RunReport::build(&target.url, &out?, slos))
}

pub async fn run(args: LoadtestArgs, g: &GlobalArgs) -> Result<(LoadtestReport, Option<Error>)> {
    check_flags(&args)?;
    let slos = args.slos.iter().map(|s| Slo::parse(s)).collect::<Result<Vec<_>>>()?;
    let sweep = args.sweep.as_deref().map(parse_sweep).transpose()?;
    let url = target_url(&args, g);
    // Validate the URL before touching the network.
    target::parse_url(&url)?;
    if let Some(p) = &args.save_hdr
        && let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(Error::Usage(format!("--save-hdr {}: no such directory", p.display())));
    }
    let bodies = bodies(&args, g).await?;
    let mut headers = args.headers.clone();
    if args.model.is_some()
        && let Some(token) = &g.token
        && !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("authorization:"))
    {
        headers.push(format!("authorization: Bearer {token}"));
    }
    let json_bodies = args.model.is_some() || args.input.is_some();
    let target = Arc::new(
        target::build(
            &url,
            args.method.as_deref(),
            &headers,
            bodies,
            json_bodies,
            args.routing_keys.unwrap_or(0),
        )?
        .with_protocol(if args.http2 { Protocol::H2c } else { Protocol::Http1 }),
    );
    let target = match &args.grpc {
        Some(addr) => Arc::new(Arc::unwrap_or_clone(target).into_grpc(addr)?),
        None => target,
    };
    let addr = loadtest::reach(&target, args.timeout).await?;
    let config = |model: LoadModel| RunConfig {
        model,
        warmup: args.warmup,
        duration: args.duration,
        connections: match model {
            LoadModel::Open { .. } => args.connections.unwrap_or(DEFAULT_CONNECTIONS),
            LoadModel::Closed { concurrency, .. } => concurrency,
        },
        timeout: args.timeout,
        save_hdr: args.save_hdr.clone(),
    };
    if let Some(rates) = sweep {
        let mut runs = Vec::new();
        for rate in &rates {
            let mut cfg = config(LoadModel::Open { rate: *rate });
            // One HdrHistogram log per rate: run.hlog → run.200.hlog, run.400.hlog, …
            cfg.save_hdr = args.save_hdr.as_deref().map(|p| per_rate_path(p, *rate));
            let label = format!("{}/s", crate::output::fmt_num(*rate));
            let report = run_once(target.clone(), addr, &cfg, &slos, label).await?;
            let unreachable = report.unreachable();
            let ok = SweepReport::sustained(&report);
            runs.push(report);
            if unreachable {
                let report = SweepReport::build(&url, runs, !slos.is_empty());
                return Ok((
                    LoadtestReport::Sweep(report),
                    Some(Error::Endpoint(format!(
                        "cannot reach {url}: every connection was refused"
                    ))),
                ));
            }
            if !ok || report_interrupted(runs.last()) {
                break;
            }
        }
        let interrupted = report_interrupted(runs.last());
        let report = SweepReport::build(&url, runs, !slos.is_empty());
        let gate = match report.knee_rps {
            _ if interrupted => Some(Error::Interrupted(
                "interrupted: the sweep covers the rates run until Ctrl-C".into(),
            )),
            Some(_) => None,
            None => Some(Error::GateFailed(format!(
                "no swept rate met the target ({})",
                report.criterion
            ))),
        };
        return Ok((LoadtestReport::Sweep(report), gate));
    }
    let model = match (args.rate, args.concurrency) {
        (Some(rate), _) => LoadModel::Open { rate },
        (None, Some(concurrency)) => LoadModel::Closed {
            concurrency,
            requests: args.requests,
        },
        // clap's "load" group requires one of --rate, --concurrency, --sweep.
        (None, None) => return Err(Error::Usage("choose --rate, --concurrency or --sweep".into())),
    };
    let cfg = config(model);
    let label = match model {
        LoadModel::Open { rate } => format!("{}/s", crate::output::fmt_num(rate)),
        LoadModel::Closed { concurrency, .. } => format!("c={concurrency}"),
    };
    let report = run_once(target, addr, &cfg, &slos, label).await?;
    let gate = if report.interrupted {
        // A partial run must not pass a CI gate.
        Some(Error::Interrupted(
            "interrupted: the report covers the run until Ctrl-C".into(),
        ))
    } else if report.unreachable() {
        Some(Error::Endpoint(format!(
            "cannot reach {url}: every connection was refused"
        )))
    } else if report.slo_failed() {
        let failed: Vec<String> = report
            .slo
            .iter()
            .filter(|s| !s.pass)
            .map(|s| format!("{} (measured {})", s.expr, crate::output::fmt_num(s.value)))
            .collect();
        Some(Error::GateFailed(format!("SLO failed: {}", failed.join("; "))))
    } else {
        None
    };
    Ok((LoadtestReport::Run(Box::new(report)), gate))
}

/// `run.hlog` at 200/s → `run.200.hlog`.
fn per_rate_path(p: &Path, rate: f64) -> std::path::PathBuf {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match p.extension() {
        Some(ext) => format!("{stem}.{}.{}", crate::output::fmt_num(rate), ext.to_string_lossy()),
        None => format!("{stem}.{}", crate::output::fmt_num(rate)),
    };
    p.with_file_name(name)
}

fn report_interrupted(r: Option<&RunReport>) -> bool {
    r.is_some_and(|r| r.interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::v2;

    #[test]
    fn sweep_logs_are_named_by_rate() {
        assert_eq!(
            per_rate_path(Path::new("out/run.hlog"), 200.0),
            Path::new("out/run.200.hlog")
        );
        assert_eq!(per_rate_path(Path::new("run"), 0.5), Path::new("run.0.5"));
    }

    #[test]
    fn zero_requests_follow_the_metadata_shapes() {
        let meta: ModelMetadata = serde_json::from_value(
            json!({"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]}),
        )
        .unwrap();
        let body = zeros_request(&meta, "m").unwrap();
        let req = v2::parse_request(&body, None).unwrap();
        assert_eq!(req.inputs[0].shape, vec![1, 3]);
        let empty: ModelMetadata = serde_json::from_value(json!({"name": "m"})).unwrap();
        assert!(zeros_request(&empty, "m").is_err());
    }
}
