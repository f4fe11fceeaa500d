//! `mlctl features` and `mlctl skew`'s flags.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::parse::parse_share;

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Load a CSV table (gzip or zstd too) or a Parquet file as a new snapshot of TABLE,
    /// switched in atomically.
    Load(FeaturesLoadArgs),
    /// The latest value of each column for entity KEY(s).
    Get(FeaturesGetArgs),
    /// The tables in the store: columns, entities, values, newest event time.
    Ls,
    /// A point-in-time training set: each spine row gets the view's features as they were
    /// at its time (no value from its future), else the view's defaults.
    Join(FeaturesJoinArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesLoadArgs {
    /// Table name.
    pub table: String,
    /// CSV file: a key column, an optional event-time column, numeric feature columns.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The column with the entity id.
    #[arg(long)]
    pub key: String,
    /// The column with each row's event time (RFC 3339 or Unix seconds) [default: now].
    #[arg(long, value_name = "COL")]
    pub ts_col: Option<String>,
    /// Also load the latest values into this shared online store (redis://host:port[/db];
    /// the data dir keeps the history for `features join`).
    #[arg(long, env = "MLCTL_FEATURE_STORE", value_name = "URL", hide_env_values = true)]
    pub feature_store: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesGetArgs {
    pub table: String,
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    /// Read the shared online store (redis://…) instead of the data dir's.
    #[arg(long, env = "MLCTL_FEATURE_STORE", value_name = "URL", hide_env_values = true)]
    pub feature_store: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesJoinArgs {
    /// Events: a CSV with entity ids, an event-time column and any request fields.
    #[arg(long, value_name = "FILE")]
    pub spine: PathBuf,
    /// The spine column with the entity id [default: each lookup's `key` in the view].
    #[arg(long)]
    pub key: Option<String>,
    /// The spine column with each event's time (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "COL")]
    pub at: String,
    /// The feature view (TOML).
    #[arg(long, value_name = "FILE")]
    pub view: PathBuf,
    /// Where to write the training set (CSV).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum SkewCommand {
    /// Pair the features the gateway served (its prediction log) with the offline rows
    /// of the same requests or entities; per feature: match share, differences, missing
    /// and defaulted shares, PSI. Exit 1 when a feature's mismatch share exceeds
    /// --max-mismatch.
    Check(SkewCheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SkewCheckArgs {
    /// The feature view (TOML) whose features are compared.
    #[arg(long, value_name = "FILE")]
    pub view: PathBuf,
    /// The offline rows (CSV or JSONL, gzip too): the key column and the view's features.
    #[arg(long, value_name = "FILE")]
    pub offline: PathBuf,
    /// The gateway's data dir (or its logs dir).
    #[arg(long, value_name = "DIR")]
    pub from_gateway: PathBuf,
    /// The model whose served features are read.
    #[arg(long)]
    pub model: String,
    /// Only requests newer than this, e.g. 1d.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Pair by `request_id`, or by an entity field of the view (the offline file's last
    /// row of each entity).
    #[arg(long, default_value = "request_id")]
    pub key: String,
    /// Largest absolute difference that still matches.
    #[arg(long, default_value_t = 0.0)]
    pub tolerance: f64,
    /// A feature is skewed when more than this share of pairs mismatch (0 to 1).
    #[arg(long, default_value_t = 0.01, value_parser = parse_share)]
    pub max_mismatch: f64,
    /// Also write a self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}
