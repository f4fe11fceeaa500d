//! `mlctl deploy`'s flags: what to register and how to roll it out.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").args(["onnx", "upstream"])))]
pub struct DeployArgs {
    /// Model name (1-64 of A-Z a-z 0-9 . _ -).
    #[arg(required_unless_present = "file", default_value = "")]
    pub name: String,
    /// Version label, e.g. 2 or 2026-11-27.
    #[arg(long, required_unless_present = "file", default_value = "")]
    pub version: String,
    /// A rollout file (YAML) holding what the flags hold, one key per flag (model, version,
    /// onnx, strategy, steps, guards, gates, notify, match, …); only --wait and --reason may
    /// be added on the command line.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// ONNX file to serve in-process.
    #[arg(long, value_name = "FILE")]
    pub onnx: Option<PathBuf>,
    /// V2 server to proxy to: base URL (http://, https://, or grpc://host:port for V2 over
    /// gRPC), or a full .../v2/models/NAME[/versions/V] URL.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Feature view (TOML): the model's input is assembled from request fields and
    /// feature-store lookups (see `mlctl features`); requests then carry only those fields.
    #[arg(long, value_name = "VIEW.toml")]
    pub features: Option<PathBuf>,
    /// Timeout for the upstream (with --upstream).
    #[arg(long, value_parser = humantime::parse_duration, requires = "upstream")]
    pub timeout: Option<std::time::Duration>,
    /// Rollout strategy.
    #[arg(long, value_enum, default_value_t = crate::rollout::strategy::Strategy::Single)]
    pub strategy: crate::rollout::strategy::Strategy,
    /// Canary step weights in percent, ending at 100.
    #[arg(long, value_name = "W,W,...")]
    pub steps: Option<String>,
    /// Canary step length.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub interval: Option<std::time::Duration>,
    /// Flight weights over registered versions, e.g. stable=50,2=25,3=25.
    #[arg(long)]
    pub weights: Option<String>,
    /// Guard (repeatable): error_rate<0.01, p99_ms<50 (p95_ms, p50_ms), shadow_agreement>0.98, drift_psi<0.2,
    /// outcome:METRIC>=control, min_requests=500.
    #[arg(long = "guard", value_name = "EXPR")]
    pub guards: Vec<String>,
    /// Shadow: share of requests mirrored to the candidate (0-100).
    #[arg(long)]
    pub mirror_pct: Option<f64>,
    /// Shadow: |Δ| within which regression outputs agree.
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Single: how long guards watch after the switch [default: 10m when guards are given].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub watch_for: Option<std::time::Duration>,
    /// Significance level of outcome guards.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Training baseline profile (`mlctl drift baseline`) that drift_psi compares the
    /// candidate's scores with [default: the stable version's scores].
    #[arg(long, value_name = "PROFILE")]
    pub baseline: Option<PathBuf>,
    /// The numeric profile column holding the model's score [default: the only numeric one].
    #[arg(long, requires = "baseline")]
    pub baseline_column: Option<String>,
    /// Follow the rollout; exit 0 when promoted, 1 when rolled back or paused.
    #[arg(long)]
    pub wait: bool,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
    /// Route traffic to this version even though its inputs or outputs differ from the
    /// live version's (refused otherwise: clients sending the old shape would break).
    #[arg(long)]
    pub allow_signature_change: bool,
    /// What a tripped guard (or a sample-ratio mismatch) does: roll back, or pause for an
    /// operator.
    #[arg(long, value_enum, default_value_t = crate::rollout::strategy::OnTrip::Rollback)]
    pub on_trip: crate::rollout::strategy::OnTrip,
    /// Evaluate every guard and record what it would have done in the history, but never
    /// act on it (the rollout proceeds on its timer).
    #[arg(long)]
    pub dry_run_guards: bool,
    /// A canary step (or single's watch) whose time is up while a guard is still deciding
    /// is extended by one more interval this many times, then paused as inconclusive.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_step_extensions: u32,
    /// POST each transition of this rollout to this URL (repeatable; signed with the
    /// gateway's notify secret; Slack incoming webhooks get Slack's text format).
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,
    /// A check the rollout waits for (repeatable): pre-rollout=URL (2xx or it does not
    /// start, exit 1), pre-step=URL (before each weight increase), confirm-promotion=URL
    /// (holds the last step until 2xx), manual (holds the last step until `mlctl approve`).
    #[arg(long = "gate", value_name = "KIND[=URL]")]
    pub gates: Vec<String>,
    /// How long a refusing pre-step gate holds a step before --on-trip applies.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub gate_timeout: std::time::Duration,
    /// Send requests whose header or cookie matches to the candidate at any weight
    /// (repeatable, any one matching): header:x-tenant=internal, cookie:beta=1,
    /// header:x-user-id~^emp- (regex). Canary and flight.
    #[arg(long = "match", value_name = "MATCH")]
    pub matches: Vec<String>,
    /// Count matched requests in the guards' windows (they are not a random sample, so by
    /// default they are left out).
    #[arg(long, requires = "matches")]
    pub guard_include_matched: bool,
    /// Prometheus base URL that prom:QUERY<X guards are asked (checked when the rollout
    /// starts). {{candidate}}, {{stable}} and {{model}} in queries are substituted.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// How often prom: guards are queried.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub prom_interval: std::time::Duration,
}
