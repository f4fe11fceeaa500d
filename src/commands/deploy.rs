//! `mlctl deploy NAME --version V (--onnx FILE | --upstream URL)`: upload, register,
//! route 100% (strategy `single`).

use clap::Parser;
use serde::Serialize;

use crate::cli::{DeployArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};
use crate::rollout::strategy::{RolloutSpec, Strategy};
use crate::wire::v2::TensorMetadata;

#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub model: String,
    pub version: String,
    pub runtime: String,
    pub strategy: String,
    /// progressing, paused, promoted or rolled_back
    pub state: String,
    pub created: bool,
    pub previous_version: Option<String>,
    pub swap_us: Option<u64>,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
    pub notes: Vec<String>,
}

impl Report for DeployReport {
    fn grids(&self) -> Vec<Grid> {
        let io = |v: &[TensorMetadata]| {
            v.iter()
                .map(|t| format!("{} {} {:?}", t.name, t.datatype, t.shape).replace(", ", ","))
                .collect::<Vec<_>>()
                .join("; ")
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
            vec!["strategy".into(), format!("{} ({})", self.strategy, self.state)],
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

/// The score column's bins from a drift baseline profile.
fn baseline_bins(path: &std::path::Path, column: Option<&str>) -> Result<crate::rollout::strategy::BaselineBins> {
    use crate::drift::profile::{Kind, Profile};
    let profile = Profile::read(path)?;
    let numeric: Vec<&str> = profile
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Numeric)
        .map(|c| c.name.as_str())
        .collect();
    let name = match column {
        Some(c) => c.to_string(),
        None if numeric.len() == 1 => numeric[0].to_string(),
        None => {
            return Err(Error::Usage(format!(
                "--baseline {}: say which numeric column holds the score with --baseline-column (one of: {})",
                path.display(),
                numeric.join(", ")
            )));
        }
    };
    let col = profile.column(&name).and_then(|c| c.numeric.as_ref()).ok_or_else(|| {
        Error::Usage(format!(
            "--baseline-column {name:?}: not a numeric column of {} (numeric: {})",
            path.display(),
            numeric.join(", ")
        ))
    })?;
    Ok(crate::rollout::strategy::BaselineBins {
        column: name,
        edges: col.edges.clone(),
        proportions: col.proportions.clone(),
    })
}

/// Build the rollout spec from the flags; conflicting or missing flags are usage errors.
pub fn spec_from_args(args: &DeployArgs) -> Result<Option<RolloutSpec>> {
    use crate::rollout::strategy::{parse_guard, parse_steps, parse_weights};
    let guards = args.guards.iter().map(|g| parse_guard(g)).collect::<Result<Vec<_>>>()?;
    let baseline = args
        .baseline
        .as_deref()
        .map(|p| baseline_bins(p, args.baseline_column.as_deref()))
        .transpose()?;
    crate::rollout::strategy::check_guards(args.strategy, &guards, baseline.is_some())?;
    let only = |flag: &str, set: bool, strategy: Strategy| -> Result<()> {
        if set && args.strategy != strategy {
            return Err(Error::Usage(format!(
                "{flag} applies to --strategy {}",
                crate::rollout::controller::strategy_name(strategy)
            )));
        }
        Ok(())
    };
    only("--steps", args.steps.is_some(), Strategy::Canary)?;
    only("--interval", args.interval.is_some(), Strategy::Canary)?;
    only("--weights", args.weights.is_some(), Strategy::Flight)?;
    only("--mirror-pct", args.mirror_pct.is_some(), Strategy::Shadow)?;
    only("--tolerance", args.tolerance.is_some(), Strategy::Shadow)?;
    only("--watch-for", args.watch_for.is_some(), Strategy::Single)?;
    if args.baseline.is_some() && !args.guards.iter().any(|g| g.contains("drift_psi")) {
        return Err(Error::Usage(
            "--baseline is the reference of a drift_psi guard: add --guard 'drift_psi<X'".into(),
        ));
    }
    for url in &args.notify {
        crate::serving::notify::check_url("--notify", url)?;
    }
    if args.strategy == Strategy::Single && guards.is_empty() && args.watch_for.is_none() && !args.notify.is_empty() {
        return Err(Error::Usage(
            "--notify follows a rollout: add --guard or --watch-for, or a strategy (serve --notify hears plain route changes)"
                .into(),
        ));
    }
    if !(0.0 < args.alpha && args.alpha < 1.0) {
        return Err(Error::Usage(format!("--alpha {}: must be between 0 and 1", args.alpha)));
    }
    if let Some(p) = args.mirror_pct
        && !(0.0..=100.0).contains(&p)
    {
        return Err(Error::Usage(format!("--mirror-pct {p}: must be between 0 and 100")));
    }
    let mut spec = RolloutSpec {
        strategy: args.strategy,
        candidate: args.version.clone(),
        guards,
        mirror_pct: args.mirror_pct.unwrap_or(100.0),
        tolerance: args.tolerance.unwrap_or(1e-6),
        alpha: args.alpha,
        baseline,
        allow_signature_change: args.allow_signature_change,
        on_trip: args.on_trip,
        dry_run_guards: args.dry_run_guards,
        max_step_extensions: args.max_step_extensions,
        notify: args.notify.clone(),
        gates: args
            .gates
            .iter()
            .map(|g| crate::rollout::gates::parse_gate(g))
            .collect::<Result<_>>()?,
        gate_timeout_ms: args.gate_timeout.as_millis() as u64,
        matches: args
            .matches
            .iter()
            .map(|m| crate::rollout::matching::parse_match(m))
            .collect::<Result<_>>()?,
        guard_include_matched: args.guard_include_matched,
        prometheus: args.prometheus.clone(),
        prom_interval_ms: args.prom_interval.as_millis().max(100) as u64,
        ..RolloutSpec::default()
    };
    match args.strategy {
        Strategy::Single => {
            if spec.guards.is_empty() && args.watch_for.is_none() {
                return Ok(None);
            }
            spec.watch_for_ms = args
                .watch_for
                .unwrap_or(std::time::Duration::from_secs(600))
                .as_millis() as u64;
        }
        Strategy::Canary => {
            spec.steps = parse_steps(args.steps.as_deref().unwrap_or("5,25,50,100"))?;
            spec.interval_ms = args
                .interval
                .unwrap_or(std::time::Duration::from_secs(300))
                .as_millis()
                .max(1) as u64;
        }
        Strategy::Flight => {
            let w = args
                .weights
                .as_deref()
                .ok_or_else(|| Error::Usage("--strategy flight needs --weights".into()))?;
            spec.weights = parse_weights(w)?;
            if !spec.weights.iter().any(|(v, _)| *v == args.version) {
                return Err(Error::Usage(format!(
                    "--weights must give the deployed version {} a weight",
                    args.version
                )));
            }
        }
        Strategy::Shadow => {}
    }
    Ok(Some(spec))
}

/// Flags that may accompany `-f FILE` on the command line (the rest belong in the file).
const WITH_FILE: &[&str] = &[
    "-f",
    "--file",
    "--wait",
    "--reason",
    "--endpoint",
    "--token",
    "--data-dir",
    "-o",
    "--output",
];

/// `deploy -f FILE`: the file's flags, parsed and validated as if typed, errors pointing
/// at the file's lines.
fn args_from_file(file: &std::path::Path, given: &DeployArgs) -> Result<(DeployArgs, super::spec_file::Blame)> {
    let cli: Vec<String> = std::env::args().collect();
    if let Some(extra) = cli
        .iter()
        .skip_while(|a| *a != "deploy")
        .skip(1)
        .filter(|a| a.starts_with('-'))
        .map(|a| a.split('=').next().unwrap_or(a))
        .find(|a| !WITH_FILE.contains(a))
    {
        return Err(Error::Usage(format!(
            "{extra}: with -f the rollout's settings come from {} (only --wait and --reason may be added)",
            file.display()
        )));
    }
    if !given.name.is_empty() || !given.version.is_empty() {
        return Err(Error::Usage(format!(
            "with -f the model and version come from {}",
            file.display()
        )));
    }
    let (mut flags, blame) = super::spec_file::flags(file)?;
    if given.wait && !flags.iter().any(|f| f == "--wait") {
        flags.push("--wait".into());
    }
    if let Some(r) = &given.reason {
        flags.retain(|f| f != "--reason");
        flags.extend(["--reason".to_string(), r.clone()]);
    }
    let argv = ["mlctl", "deploy"].into_iter().map(str::to_string).chain(flags);
    let parsed = crate::cli::Cli::try_parse_from(argv).map_err(|e| {
        let msg = e.to_string();
        let line = msg
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        super::spec_file::blame(Error::Usage(line), &blame)
    })?;
    match parsed.command {
        crate::cli::Command::Deploy(a) => Ok((a, blame)),
        _ => Err(Error::Usage("a rollout file describes a deploy".into())),
    }
}

/// The report, and with `--wait` the gate failure (rolled back or paused) to exit with.
pub async fn run(args: DeployArgs, g: &GlobalArgs) -> Result<(DeployReport, Option<Error>)> {
    if let Some(file) = args.file.clone() {
        let (args, blame) = args_from_file(&file, &args)?;
        // Validate the file completely before anything is sent.
        spec_from_args(&args).map_err(|e| super::spec_file::blame(e, &blame))?;
        crate::client::check_names(&args.name, Some(&args.version)).map_err(|e| super::spec_file::blame(e, &blame))?;
        return Box::pin(run(args, g)).await;
    }
    // Names first: nothing is uploaded for a deploy the gateway would refuse.
    crate::client::check_names(&args.name, Some(&args.version))?;
    let spec = spec_from_args(&args)?;
    // A bad view is exit 2 naming the file, line and field, before anything is sent.
    let view = match &args.features {
        Some(path) => {
            crate::features::view::parse_view(path)?;
            Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?)
        }
        None => None,
    };
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
            client
                .register_onnx(&args.name, &args.version, &sha, view.as_deref())
                .await?
        }
        (None, Some(url)) => {
            client
                .register_upstream(&args.name, &args.version, url, args.timeout, view.as_deref())
                .await?
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --onnx FILE and --upstream URL".into(),
            ));
        }
    };
    // (previous live version, swap time, strategy, state)
    let (previous_version, swap_us, strategy, state) = match &spec {
        None => {
            let r = client
                .set_route(
                    &args.name,
                    &args.version,
                    args.reason.as_deref(),
                    args.allow_signature_change,
                )
                .await?;
            (r.previous_version, r.swap_us, "single", "promoted".to_string())
        }
        Some(spec) => {
            let t = client.start_rollout(&args.name, spec).await?;
            (
                Some(t.state.stable.clone()),
                t.swap_us,
                crate::rollout::controller::strategy_name(spec.strategy),
                t.state.phase.name().to_string(),
            )
        }
    };
    let mut final_state = state;
    let mut gate = None;
    if args.wait && spec.is_some() {
        let (phase, reason) = super::rollout::follow(&client, &args.name).await?;
        if phase != "promoted" {
            gate = Some(Error::GateFailed(format!(
                "rollout of {} version {} ended {phase}: {}",
                args.name,
                args.version,
                reason.unwrap_or_default()
            )));
        }
        final_state = phase;
    }
    let report = DeployReport {
        model: args.name,
        version: args.version,
        runtime: registered.runtime,
        strategy: strategy.into(),
        state: final_state,
        created: registered.created,
        previous_version,
        swap_us: Some(swap_us),
        inputs: registered.inputs,
        outputs: registered.outputs,
        notes: registered.notes,
    };
    Ok((report, gate))
}
