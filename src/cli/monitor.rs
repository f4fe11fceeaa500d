//! `mlctl monitor`'s flags: rules, dashboard, drift monitors and late-label quality.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Print Prometheus alerting rules (YAML) for rollbacks, pauses, error rate, p99
    /// latency, a failing prediction log and failing webhooks.
    Rules(MonitorRulesArgs),
    /// Print a Grafana dashboard (JSON) over mlctl's metrics, with a $model variable.
    Dashboard,
    /// Watch a model inside the gateway: its outputs (and sampled inputs) against a
    /// training baseline, window by window; alert after --consecutive drifted windows.
    Add(MonitorAddArgs),
    /// The gateway's monitors: columns, windows, alert state.
    Ls,
    /// Remove a monitor (and its window history).
    Rm(MonitorIdArgs),
    /// A monitor's finished windows: per column statistic and verdict.
    Status(MonitorStatusArgs),
    /// Model quality from late labels: outcomes joined to their predictions in the
    /// gateway's logs, scored per version and prediction-time window (accuracy,
    /// precision, recall, ROC AUC, log loss; MAE, RMSE for regressors).
    Quality(MonitorQualityArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MonitorQualityArgs {
    pub model: String,
    /// The outcome metric holding the true label (classifiers: 0/1) or target.
    #[arg(long)]
    pub metric: String,
    /// Only predictions newer than this, e.g. 30d.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Prediction-time window.
    #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
    /// Only this version.
    #[arg(long)]
    pub version: Option<String>,
    /// The gateway's data dir (or its logs dir) [default: --data-dir].
    #[arg(long, value_name = "DIR")]
    pub from_gateway: Option<PathBuf>,
    /// A floor or ceiling the latest window of each version must meet, e.g. 'auc>=0.75',
    /// 'log_loss<=0.5' (repeatable); exit 1 when one does not.
    #[arg(long = "require", value_name = "METRIC>=X")]
    pub require: Vec<String>,
    /// Also write a self-contained HTML report (a timeline per metric).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MonitorAddArgs {
    /// The model to watch.
    pub model: String,
    /// The training baseline profile (`mlctl drift baseline`), e.g. of the training
    /// predictions (columns named like the outputs: label, probabilities[1], …).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// Columns to watch [default: every baseline column].
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Window length.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
    /// Statistic per column (auto: KS / χ² up to 1000 rows a window, Wasserstein / JS above).
    #[arg(long, value_enum, default_value_t = crate::drift::check::Method::Auto)]
    pub method: crate::drift::check::Method,
    /// Per-column threshold, col=X (repeatable; a p-value level for tests, a distance otherwise).
    #[arg(long = "threshold", value_name = "COL=X")]
    pub thresholds: Vec<String>,
    /// Drifted windows in a row that fire the alert (and clean ones that resolve it).
    #[arg(long, default_value_t = 2)]
    pub consecutive: u32,
    /// How long finished windows are kept.
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub retention: std::time::Duration,
    /// Webhook for this monitor's alerts (repeatable; slack+URL, alertmanager+URL too).
    #[arg(long, value_name = "URL")]
    pub notify: Vec<String>,
    /// A quality requirement on late labels, e.g. 'auc>=0.75' (repeatable; needs
    /// --quality-metric): alerts like drift, per prediction-time window.
    #[arg(long, value_name = "METRIC>=X", requires = "quality_metric")]
    pub quality: Vec<String>,
    /// The outcome metric (posted to /v1/outcomes) holding the true label.
    #[arg(long, value_name = "NAME")]
    pub quality_metric: Option<String>,
    /// Prediction-time window of the quality requirements [default: --window].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub quality_window: Option<std::time::Duration>,
    /// Labelled predictions a window needs before it is judged.
    #[arg(long, default_value_t = 30)]
    pub quality_min_pairs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct MonitorIdArgs {
    pub id: i64,
}

#[derive(Debug, Clone, Args)]
pub struct MonitorStatusArgs {
    pub id: i64,
    /// How many of the last windows.
    #[arg(long, default_value_t = 20)]
    pub last: u32,
}

#[derive(Debug, Clone, Args)]
pub struct MonitorRulesArgs {
    /// Alert when a version's error share over --window exceeds this.
    #[arg(long, default_value_t = 0.01)]
    pub error_rate: f64,
    /// Alert when a version's p99 latency over --window exceeds this many milliseconds.
    #[arg(long, default_value_t = 250.0)]
    pub p99_ms: f64,
    /// Rate window of the error-rate and latency rules.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
    /// How long the error-rate and latency conditions must hold before firing.
    #[arg(long = "for", default_value = "5m", value_parser = humantime::parse_duration)]
    pub for_: std::time::Duration,
}
