//! Command-line declarations (clap derive) only; each command's logic lives in
//! `commands::<name>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::output::OutputFormat;

mod deploy;
mod features;
mod monitor;
use crate::parse::{parse_per_second, parse_share, parse_size};
pub use deploy::DeployArgs;
pub use features::{FeaturesCommand, FeaturesGetArgs, FeaturesJoinArgs, FeaturesLoadArgs, SkewCheckArgs, SkewCommand};
pub use monitor::{
    MonitorAddArgs, MonitorCommand, MonitorIdArgs, MonitorQualityArgs, MonitorRulesArgs, MonitorStatusArgs,
};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  a gate failed (drift found, SLO missed, guard tripped, regression with --fail-on)
  2  usage or input error (bad flag, unreadable or malformed file, model refused)
  3  endpoint error (gateway or upstream unreachable, 5xx, token refused)
  4  invalid experiment (sample-ratio mismatch)
  130  interrupted (Ctrl-C; loadtest prints what it measured first)";

#[derive(Debug, Parser)]
#[command(
    name = "mlctl",
    version,
    about = "Ship ML models to live traffic: a V2 inference gateway with in-process ONNX, rollouts, and audited control",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Gateway base URL.
    #[arg(long, global = true, env = "MLCTL_ENDPOINT", default_value = "http://127.0.0.1:8080")]
    pub endpoint: String,
    /// Admin bearer token [default: the token file in the data dir].
    #[arg(long, global = true, env = "MLCTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl].
    #[arg(long, global = true, env = "MLCTL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Report format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: V2 inference (ONNX in-process or upstream), admin API, logs, metrics.
    Serve(ServeArgs),
    /// Register a model version and route live traffic to it.
    Deploy(DeployArgs),
    /// Send V2 inference requests (JSON, JSONL or CSV rows) and print the outputs.
    Predict(PredictArgs),
    /// Load-test an inference endpoint (or any HTTP URL): constant rate or fixed concurrency,
    /// coordinated-omission-correct latency, per-variant breakdown, SLO gates.
    Loadtest(LoadtestArgs),
    /// Show models, versions, weights, rollout state and guard values.
    Status(StatusArgs),
    /// Finish a rollout: the candidate (or --to arm) becomes stable.
    Promote(PromoteArgs),
    /// Hold a rollout at its current weights (timers stop).
    Pause(ModelArg),
    /// Continue a paused rollout (the step timer restarts).
    Resume(ModelArg),
    /// Open a rollout's manual gate (--gate manual): its last step may promote.
    Approve(ModelArg),
    /// Route 100% to the stable version (or --to V) at once; recorded with who and why.
    Rollback(RollbackArgs),
    /// The audit log of a model: every transition with its evidence.
    History(ModelArg),
    /// A/B/n significance on logged outcomes, and experiment planning.
    #[command(subcommand)]
    Abtest(AbtestCommand),
    /// Compare live data with a training baseline (output and input drift).
    #[command(subcommand)]
    Drift(DriftCommand),
    /// Rollout guards on logged traffic: what a guard set would have decided, and how often
    /// it trips on identical arms.
    #[command(subcommand)]
    Guards(GuardsCommand),
    /// The feature store in the data dir: load tables, look values up, build point-in-time
    /// training sets from a feature view.
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Training/serving skew: served features (the gateway's log) against offline rows.
    #[command(subcommand)]
    Skew(SkewCommand),
    /// Watching deployed models: Prometheus alerting rules over mlctl's metrics.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Start an embedded gateway and play a rollout story: a bad canary rolled back, a good one promoted.
    Demo(DemoArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Also serve V2 over gRPC (KServe/Triton GRPCInferenceService) on this address,
    /// e.g. 127.0.0.1:8081 (port 0 picks a free port; the bound address is printed).
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<String>,
    /// Largest inference or outcome request body, e.g. 8MiB, 512KiB, 1048576.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Largest model upload on /admin/v1/blobs.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub max_blob: usize,
    /// Require the bearer token on inference endpoints too.
    #[arg(long)]
    pub require_token_for_inference: bool,
    /// Share of requests whose inputs are written to the prediction log (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub log_inputs: f64,
    /// The online store feature views read: a shared Redis (redis://host:port[/db]; a
    /// password belongs in the environment variable, not the command line)
    /// [default: embedded, the data dir's features.db].
    #[arg(long, env = "MLCTL_FEATURE_STORE", value_name = "URL", hide_env_values = true)]
    pub feature_store: Option<String>,
    /// Longest wait for the feature store on a request (then on_store_error applies).
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub feature_timeout: std::time::Duration,
    /// Share of feature-view requests whose assembled features are logged (0 to 1).
    #[arg(long, default_value_t = 1.0, value_parser = parse_share)]
    pub log_features: f64,
    /// Longest time a log record waits in memory before it is written.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub log_flush: std::time::Duration,
    /// Longest time a written log record waits for fsync.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub log_fsync: std::time::Duration,
    /// Default timeout for upstream V2 servers (per version override: deploy --timeout).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub upstream_timeout: std::time::Duration,
    /// Concurrent in-process inferences [default: number of cores].
    #[arg(long)]
    pub inference_threads: Option<usize>,
    /// How often the rollout controller evaluates guards and step timers.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub controller_tick: std::time::Duration,
    /// Read the admin token from this file (first line). Precedence: --token-file, then
    /// --token / MLCTL_TOKEN, then <data-dir>/token (created with a random token).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Connections served at once; a few more are kept for health and admin calls.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Longest wait for a request's headers, on a new or a kept-alive connection; idle and
    /// half-sent connections are closed after it.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// Longest time to receive a request body (408 after it).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: std::time::Duration,
    /// Longest time a model may take to load on deploy (the deploy fails past it; the
    /// gateway and rollbacks never wait for a load).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub load_timeout: std::time::Duration,
    /// Largest answer read from an upstream V2 server (502 past it).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub max_response: usize,
    /// Inference request bytes served at once; past it, 503 with Retry-After (each JSON
    /// byte costs ~20 in memory while it is parsed).
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub max_inflight_bytes: usize,
    /// While the prediction log cannot be written (disk full, unwritable): `serve` keeps
    /// answering (ready reports it under `degraded`; lost records are counted in
    /// mlctl_log_dropped_total), `refuse` answers inference and ready with 503.
    #[arg(long, value_enum, default_value_t = crate::serving::state::LogFailurePolicy::Serve)]
    pub on_log_failure: crate::serving::state::LogFailurePolicy,
    /// POST every rollout transition of every model to this URL (repeatable; signed;
    /// a Slack incoming-webhook URL, or slack+URL, gets Slack's text format).
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,
    /// File with the webhook signing secret (X-Mlctl-Signature: sha256=HMAC(secret, body))
    /// [default: <data-dir>/notify-secret, created on first start].
    #[arg(long, value_name = "PATH")]
    pub notify_secret_file: Option<PathBuf>,
    /// How long one webhook message is retried (exponential backoff) before it is given up.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub notify_retry_for: std::time::Duration,
    /// Where the state lives: `sqlite` (the data dir's mlctl.db, one gateway) or a
    /// PostgreSQL database shared by several replicas (postgres://user@host:port/db; put a
    /// password in MLCTL_STATE, not on the command line).
    #[arg(long, env = "MLCTL_STATE", default_value = "sqlite", value_name = "URL", hide_env_values = true,
          value_parser = crate::store::StateUrl::parse)]
    pub state: crate::store::StateUrl,
    /// This replica's id among those sharing --state (letters, digits, . _ -)
    /// [default: <hostname>-<port>].
    #[arg(long, value_name = "ID")]
    pub replica_id: Option<String>,
    /// The address other replicas and `mlctl status` show for this one [default: the
    /// bound address].
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ModelArg {
    /// Model name.
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// Model name.
    pub name: String,
    /// Flight: the arm (version) to promote.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// Model name.
    pub name: String,
    /// Route to this version instead of the rollout's stable one.
    #[arg(long)]
    pub to: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// Model name.
    pub name: String,
    /// Request file: .json (one V2 request), .jsonl (one per line) or .csv (rows of features).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Ask a specific version (bypasses routing).
    #[arg(long)]
    pub version: Option<String>,
    /// Routing key (x-mlctl-key), for sticky assignment.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[command(
    group(clap::ArgGroup::new("target").required(true).args(["url", "model"])),
    group(clap::ArgGroup::new("load").required(true).args(["rate", "concurrency", "sweep"])),
    after_help = "Examples:
  mlctl loadtest --model churn --input rows.csv --rate 500/s --duration 30s --slo 'p99<20ms' --slo 'error_rate<0.001'
  mlctl loadtest --model churn --input requests.jsonl --concurrency 16 --requests 100000
  mlctl loadtest --model churn --sweep 100,200,400,800/s --duration 10s --slo 'p99<20ms'
  mlctl loadtest http://127.0.0.1:9000/score --body @req.json --rate 200/s

Open loop (--rate) measures latency from each request's intended send time, so a stall is
charged to every request that was due during it (coordinated omission corrected).
Exit: 0 ok, 1 an SLO failed (or no swept rate met them), 2 bad flags or input, 3 endpoint unreachable,
130 interrupted (the partial report is printed)."
)]
pub struct LoadtestArgs {
    /// Any http:// URL to load (instead of --model).
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// Load the V2 infer endpoint of this model on --endpoint.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// With --model: a specific version (bypasses routing).
    #[arg(long, requires = "model")]
    pub version: Option<String>,
    /// HTTP method [default: POST with a body, else GET].
    #[arg(long)]
    pub method: Option<String>,
    /// Extra request header (repeatable), e.g. 'authorization: Bearer X'.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body: a string, or @FILE.
    #[arg(long, conflicts_with = "input")]
    pub body: Option<String>,
    /// Request bodies, cycled: .jsonl (one V2 request per line), .json (one request) or
    /// .csv (feature rows → V2 tensors, needs --model).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// CSV rows per request.
    #[arg(long, default_value_t = 1, requires = "input")]
    pub batch: usize,
    /// Spread requests over N routing keys (x-mlctl-key), so weighted rollouts are exercised.
    #[arg(long, value_name = "N")]
    pub routing_keys: Option<usize>,
    /// Open loop: requests per second on a fixed timetable, e.g. 500/s.
    #[arg(long, value_parser = parse_per_second, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop: this many workers, each sending when its last answer arrived.
    #[arg(long, short = 'c')]
    pub concurrency: Option<usize>,
    /// Closed loop: stop after this many measured requests (instead of --duration).
    #[arg(long, short = 'n', requires = "concurrency", conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Measured time (per rate with --sweep).
    #[arg(long, short = 'd', default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// Load before measuring, excluded from the results.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub warmup: std::time::Duration,
    /// Open-loop rates to run in turn, e.g. 100,200,400,800/s; reports the highest that meets the SLOs.
    #[arg(long, value_name = "RATES", conflicts_with_all = ["rate", "concurrency"])]
    pub sweep: Option<String>,
    /// Open loop: most connections (requests in flight) [default: 64].
    #[arg(long)]
    pub connections: Option<usize>,
    /// Speak HTTP/2 over cleartext (h2c, prior knowledge) instead of HTTP/1.1: one
    /// stream in flight per connection.
    #[arg(long, conflicts_with = "grpc")]
    pub http2: bool,
    /// Send the V2 requests as gRPC ModelInfer calls to this address (host:port of
    /// `serve --grpc-listen` or any V2 gRPC server); the model comes from --model or the URL.
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc: Option<String>,
    /// Longest wait for one answer; also how long due requests may still go out after the window.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Gate (repeatable): p50|p90|p95|p99|p999|max|mean<20ms, error_rate<0.001, rps>=450,
    /// errors<=N; exit 1 when one fails.
    #[arg(long = "slo", value_name = "EXPR")]
    pub slos: Vec<String>,
    /// Write the latency histogram, one interval per second, in HdrHistogram log format
    /// (with --sweep, one file per rate: run.200.hlog, …).
    #[arg(long, value_name = "FILE")]
    pub save_hdr: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Only this model.
    pub name: Option<String>,
    /// Refresh every 2 seconds until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Seed for the generated traffic.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Keep the demo's data dir here instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GuardsCommand {
    /// Replay the gateway's prediction and outcome logs through guards, step by step: a
    /// real rollout's steps (--last-rollout), fixed steps between two versions
    /// (--stable/--candidate), or A/A steps of the stable version split by routing bucket
    /// (--aa; exit 1 when the false-trip rate exceeds --alpha).
    Backtest(GuardsBacktestArgs),
}

#[derive(Debug, Clone, Args)]
pub struct GuardsBacktestArgs {
    /// The model whose logs are replayed (read from the data dir's logs and history).
    #[arg(long)]
    pub model: String,
    /// A guard expression, as `deploy --guard` [default with --last-rollout: its guards].
    #[arg(long = "guard", value_name = "EXPR")]
    pub guards: Vec<String>,
    /// Replay the model's last rollout on its own steps, next to what the controller decided.
    #[arg(long, conflicts_with_all = ["aa", "candidate", "from", "to", "step"])]
    pub last_rollout: bool,
    /// A/A: split the stable version's own traffic into two pseudo-arms by routing-key
    /// bucket and estimate the guard set's false-trip rate.
    #[arg(long, conflicts_with = "candidate")]
    pub aa: bool,
    /// The control version [default: the version with the most logged requests].
    #[arg(long)]
    pub stable: Option<String>,
    /// The candidate version (fixed steps between two versions).
    #[arg(long)]
    pub candidate: Option<String>,
    /// First log time replayed (RFC 3339) [default: the first record].
    #[arg(long)]
    pub from: Option<String>,
    /// Last log time replayed (RFC 3339) [default: the last record].
    #[arg(long)]
    pub to: Option<String>,
    /// Length of each simulated step.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,
    /// Evaluate the guards every this much log time (the controller's tick).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub tick: std::time::Duration,
    /// Significance level of the guards, and the largest acceptable A/A false-trip rate.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
}

#[derive(Debug, Subcommand)]
pub enum AbtestCommand {
    /// Compare arms on binary, mean and ratio metrics from CSV/JSONL files or gateway logs.
    Analyze(AbtestAnalyzeArgs),
    /// Sample size (or detectable effect) for an experiment.
    Plan(AbtestPlanArgs),
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("abtest_source").required(true).args(["files", "from_gateway"])))]
pub struct AbtestAnalyzeArgs {
    /// CSV, TSV or JSONL files (compressed with .gz or .zst) or Parquet files, one row per
    /// unit or per event.
    pub files: Vec<PathBuf>,
    /// Read the gateway's prediction and outcome logs (its data dir or logs dir) instead.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arm_col", "unit_col", "cuped_col"])]
    pub from_gateway: Option<PathBuf>,
    /// With --from-gateway: the model whose versions are the arms.
    #[arg(long, requires = "from_gateway")]
    pub model: Option<String>,
    /// With --from-gateway: only records newer than this, e.g. 7d, 12h.
    #[arg(long, value_parser = humantime::parse_duration, requires = "from_gateway")]
    pub since: Option<std::time::Duration>,
    /// Column naming each row's arm.
    #[arg(long, default_value = "variant")]
    pub arm_col: String,
    /// Metric: col:binary, col:mean, num/den:ratio or name:ratio=num/den (repeatable).
    #[arg(long = "metric", required = true, value_name = "SPEC")]
    pub metrics: Vec<String>,
    /// Aggregate rows per unit (user) first: binary = any, mean = sum, ratio = sums.
    #[arg(long)]
    pub unit_col: Option<String>,
    /// Control arm [default: "control" or "stable" if present, else the first seen].
    #[arg(long)]
    pub control: Option<String>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// fixed (z / Welch t / delta method) or sequential (always-valid, peeking-safe).
    #[arg(long, value_enum, default_value_t = crate::abtest::analyze::Method::Fixed)]
    pub method: crate::abtest::analyze::Method,
    /// Tuning sample size N* of the sequential confidence sequence.
    #[arg(long, default_value_t = 5000.0)]
    pub tune_n: f64,
    /// Pre-period covariate column for CUPED variance reduction (mean metrics).
    #[arg(long)]
    pub cuped_col: Option<String>,
    /// Multiple-comparison correction over all metric × arm comparisons.
    #[arg(long, value_enum, default_value_t = crate::stats::correction::Correction::Holm)]
    pub correction: crate::stats::correction::Correction,
    /// Expected traffic split for the sample-ratio check, e.g. control=50,b=50 [default: equal].
    #[arg(long)]
    pub expected_split: Option<String>,
    /// Report results even when the sample-ratio check fails (otherwise exit 4).
    #[arg(long)]
    pub ignore_srm: bool,
    /// Arms with fewer units than this get "insufficient data", never a verdict.
    #[arg(long, default_value_t = 100)]
    pub min_n: u64,
    /// Exit 1 when a metric is significantly worse than control.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Regression,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("baseline").required(true).args(["baseline_rate", "baseline_mean"])))]
#[command(group(clap::ArgGroup::new("target").required(true).args(["mde", "n"])))]
pub struct AbtestPlanArgs {
    /// Baseline conversion rate (binary metric), e.g. 0.05.
    #[arg(long)]
    pub baseline_rate: Option<f64>,
    /// Baseline mean (mean metric); needs --sd.
    #[arg(long, requires = "sd")]
    pub baseline_mean: Option<f64>,
    /// Standard deviation of the mean metric.
    #[arg(long)]
    pub sd: Option<f64>,
    /// Minimum detectable effect: relative (2%) or absolute (0.01).
    #[arg(long)]
    pub mde: Option<String>,
    /// Units per arm you can get: report the detectable effect instead.
    #[arg(long)]
    pub n: Option<u64>,
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Number of arms including control (alpha is split over arms − 1 comparisons).
    #[arg(long, default_value_t = 2)]
    pub arms: u32,
    /// Units per day across all arms, to estimate the duration.
    #[arg(long)]
    pub daily_traffic: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Profile training data or predictions into a baseline JSON (one streaming pass).
    Baseline(DriftBaselineArgs),
    /// Compare data with a baseline: per-column statistic, threshold, drift flag; exit 1 on dataset drift.
    Check(DriftCheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DriftBaselineArgs {
    /// CSV, TSV or JSONL files (compressed with .gz or .zst) or Parquet files.
    #[arg(required_unless_present = "merge")]
    pub files: Vec<PathBuf>,
    /// Where to write the profile.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Columns to profile, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Treat these columns as numeric (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub numeric: Vec<String>,
    /// Treat these columns as categorical (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Equal-frequency bins per numeric column.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Values kept per numeric column for KS and Wasserstein.
    #[arg(long, default_value_t = 1000)]
    pub sample: usize,
    /// Merge existing profiles instead of reading data.
    #[arg(long, num_args = 1.., value_name = "PROFILE", conflicts_with = "files")]
    pub merge: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("drift_source").required(true).args(["files", "from_gateway"])))]
pub struct DriftCheckArgs {
    /// Current data: CSV, TSV or JSONL files (compressed with .gz or .zst) or Parquet files.
    pub files: Vec<PathBuf>,
    /// Read the gateway's prediction log (its data dir or logs dir) instead: outputs become
    /// columns (label, probabilities[1], …; inputs as input:NAME[j] where logged), plus ts.
    #[arg(long, value_name = "DIR", conflicts_with = "files", requires = "model")]
    pub from_gateway: Option<PathBuf>,
    /// With --from-gateway: the model.
    #[arg(long, requires = "from_gateway")]
    pub model: Option<String>,
    /// With --from-gateway: only this version's answers.
    #[arg(long, requires = "from_gateway")]
    pub version: Option<String>,
    /// With --from-gateway: only requests newer than this, e.g. 1h.
    #[arg(long, value_parser = humantime::parse_duration, requires = "from_gateway")]
    pub since: Option<std::time::Duration>,
    /// The baseline profile (from `drift baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// Columns to check, comma-separated [default: every profiled column].
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// auto (Evidently's choice by size), or force psi, ks, wasserstein, chisquare, js.
    #[arg(long, value_enum, default_value_t = crate::drift::check::Method::Auto)]
    pub method: crate::drift::check::Method,
    /// Per-column threshold, e.g. score=0.2 (repeatable or comma-separated).
    #[arg(long = "threshold", value_name = "COL=X")]
    pub thresholds: Vec<String>,
    /// Share of drifted columns that makes the dataset drifted.
    #[arg(long, default_value_t = 0.5)]
    pub drift_share: f64,
    /// Also judge consecutive windows of this length (needs --time-col), e.g. 1h.
    #[arg(long, value_parser = humantime::parse_duration, requires = "time_col")]
    pub window: Option<std::time::Duration>,
    /// Column with each row's time (RFC 3339 or epoch seconds), for --window.
    #[arg(long)]
    pub time_col: Option<String>,
    /// Write a self-contained HTML report (inline SVG charts) here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
