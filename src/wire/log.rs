//! The gateway's prediction and outcome logs: daily JSONL files under `<data>/logs/`
//! (`predictions-YYYYMMDD.jsonl`, `outcomes-YYYYMMDD.jsonl`, optionally gzipped by a
//! later rotation as `.jsonl.gz`). The gateway writes these records and `abtest`, `drift`
//! and the rollout replay read them, all through the structs below.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::wire::v2::{Tensor, TensorJson};

/// The data dir's subdirectory that holds the logs.
pub const LOGS_DIR: &str = "logs";

/// Which log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Predictions,
    Outcomes,
}

impl LogKind {
    pub fn prefix(self) -> &'static str {
        match self {
            LogKind::Predictions => "predictions",
            LogKind::Outcomes => "outcomes",
        }
    }

    /// `predictions-20261127.jsonl`.
    pub fn file_name(self, day: &str) -> String {
        format!("{}-{day}.jsonl", self.prefix())
    }

    /// `predictions-20261127.<replica>.jsonl` for a gateway that is one of several
    /// replicas (so the logs of all replicas can be collected into one directory).
    pub fn file_name_of(self, day: &str, replica: Option<&str>) -> String {
        match replica {
            Some(r) => format!("{}-{day}.{r}.jsonl", self.prefix()),
            None => self.file_name(day),
        }
    }

    /// The `YYYYMMDD` of one of this log's file names (plain or gzipped, with or without
    /// a replica id), else `None`.
    pub fn day_of_file(self, name: &str) -> Option<&str> {
        let rest = name.strip_prefix(self.prefix())?.strip_prefix('-')?;
        let stem = rest.strip_suffix(".jsonl").or_else(|| rest.strip_suffix(".jsonl.gz"))?;
        let day = stem.get(..8)?;
        let tail = &stem[8..];
        let replica_ok = tail.is_empty() || (tail.len() > 1 && tail.starts_with('.'));
        (replica_ok && day.bytes().all(|b| b.is_ascii_digit())).then_some(day)
    }
}

/// `YYYYMMDD` of a UTC time: the day of the log file a record goes to.
pub fn day_of(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d").to_string()
}

/// RFC 3339 with microseconds and `Z`, the logs' timestamp form.
pub fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Most tensor elements logged per record for outputs (and for sampled inputs): a
/// larger answer is logged as `null` with `outputs_omitted`, so one huge response cannot
/// fill the disk.
pub const LOG_MAX_ELEMENTS: usize = 100_000;

/// Tensors in V2 JSON form for the log, or `None` when they hold more than
/// `LOG_MAX_ELEMENTS` elements.
pub fn loggable(tensors: &[Tensor]) -> Option<serde_json::Value> {
    (elements(tensors) <= LOG_MAX_ELEMENTS)
        .then(|| serde_json::Value::Array(tensors.iter().map(crate::wire::v2::output_json).collect()))
}

fn elements(tensors: &[Tensor]) -> usize {
    tensors.iter().map(|t| t.data.len()).sum()
}

/// A record's output tensors: borrowed from the answer when written (serialized straight
/// from the tensors, no intermediate JSON value), V2 JSON when read back; `Null` when the
/// request failed or the answer was too large (`outputs_omitted`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LogTensors<'a> {
    #[default]
    Null,
    Tensors(&'a [Tensor]),
    Json(serde_json::Value),
}

static NULL: serde_json::Value = serde_json::Value::Null;

impl<'a> LogTensors<'a> {
    /// The answer's tensors, or `None` when they hold more than `LOG_MAX_ELEMENTS`.
    pub fn of(tensors: &'a [Tensor]) -> Option<LogTensors<'a>> {
        (elements(tensors) <= LOG_MAX_ELEMENTS).then_some(LogTensors::Tensors(tensors))
    }

    /// The tensors as read back (`null` for a record being written).
    pub fn value(&self) -> &serde_json::Value {
        match self {
            LogTensors::Json(v) => v,
            _ => &NULL,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<serde_json::Value>> {
        self.value().as_array()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, LogTensors::Null) || matches!(self, LogTensors::Json(v) if v.is_null())
    }
}

impl Serialize for LogTensors<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LogTensors::Null => s.serialize_unit(),
            LogTensors::Tensors(ts) => s.collect_seq(ts.iter().map(TensorJson)),
            LogTensors::Json(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for LogTensors<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(if v.is_null() {
            LogTensors::Null
        } else {
            LogTensors::Json(v)
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One line of the prediction log. Borrowed when written (no copies on the request
/// path), borrowed where possible when read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictionRecord<'a> {
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    /// `stable`, `canary`, `arm-N`, `shadow` (mirrored copy) or `explicit` (the client
    /// asked for a version by URL).
    #[serde(borrow, default)]
    pub role: Cow<'a, str>,
    /// The client's routing key (absent when the request was routed by chance).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Cow<'a, str>>,
    #[serde(default)]
    pub bucket: u16,
    #[serde(default)]
    pub latency_us: u64,
    pub status: u16,
    /// The answer's output tensors in V2 JSON form (null when the request failed).
    #[serde(default)]
    pub outputs: LogTensors<'a>,
    /// The outputs were too large to log (`LOG_MAX_ELEMENTS`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub outputs_omitted: bool,
    /// The request's input tensors, for the `--log-inputs` share of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Value>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    /// The input assembled from the version's feature view: feature name → value (one
    /// row) or values (N rows), entity ids included; for the `--log-features` share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<serde_json::Value>,
    /// Lookups that did not serve a fresh stored value: `store_error:<table>` (defaults
    /// used), `stale:<feature>` (an old value served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_flags: Vec<String>,
}

/// The role of a request sent to the candidate by a `--match` rule (not by its bucket).
pub const ROLE_MATCHED: &str = "matched";

impl PredictionRecord<'_> {
    /// Answered by a routed arm by its bucket: not a mirrored shadow copy, not an explicit
    /// version, not a `--match` rule (those are not a random sample of the traffic).
    pub fn routed(&self) -> bool {
        !matches!(self.role.as_ref(), "explicit" | "shadow" | ROLE_MATCHED)
    }

    pub fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        parse_ts(&self.ts)
    }
}

/// One line of the outcome log: a business metric's value for a request or a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub ts: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    pub metric: String,
    pub value: f64,
}

impl OutcomeRecord {
    pub fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        parse_ts(&self.ts)
    }
}

/// An RFC 3339 time in UTC.
pub fn parse_ts(ts: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any file name: a day or `None`, never a panic (names are read from directories
        /// anyone may write to).
        #[test]
        fn any_file_name_is_read_without_panic(name in "\\PC{0,40}", day in "[0-9]{8}", id in "[a-z0-9._-]{1,12}") {
            let _ = LogKind::Predictions.day_of_file(&name);
            let made = LogKind::Outcomes.file_name_of(&day, Some(&id));
            proptest::prop_assert_eq!(LogKind::Outcomes.day_of_file(&made), Some(day.as_str()));
        }
    }

    #[test]
    fn file_names_round_trip() {
        let k = LogKind::Predictions;
        assert_eq!(k.file_name("20261127"), "predictions-20261127.jsonl");
        assert_eq!(k.day_of_file("predictions-20261127.jsonl"), Some("20261127"));
        assert_eq!(k.day_of_file("predictions-20261127.jsonl.gz"), Some("20261127"));
        assert_eq!(k.day_of_file("outcomes-20261127.jsonl"), None);
        assert_eq!(k.day_of_file("predictions-2026.jsonl"), None);
        assert_eq!(
            k.file_name_of("20261127", Some("gw-2")),
            "predictions-20261127.gw-2.jsonl"
        );
        assert_eq!(k.day_of_file("predictions-20261127.gw-2.jsonl"), Some("20261127"));
        assert_eq!(k.day_of_file("predictions-20261127.gw-2.jsonl.gz"), Some("20261127"));
        assert_eq!(k.day_of_file("predictions-20261127..jsonl"), None);
        assert_eq!(k.day_of_file("predictions-20261127x.jsonl"), None);
        assert_eq!(
            LogKind::Outcomes.day_of_file("outcomes-20261127.jsonl"),
            Some("20261127")
        );
    }

    #[test]
    fn a_written_record_reads_back_borrowed() {
        let rec = PredictionRecord {
            ts: "2026-11-27T10:00:00.000001Z".into(),
            request_id: "r1".into(),
            model: "churn".into(),
            version: "2".into(),
            role: "canary".into(),
            key: Some("user-7".into()),
            bucket: 42,
            latency_us: 812,
            status: 200,
            outputs: LogTensors::Json(
                serde_json::json!([{"name": "p", "datatype": "FP32", "shape": [1], "data": [0.5]}]),
            ),
            outputs_omitted: false,
            inputs: None,
            error: None,
            features: None,
            feature_flags: Vec::new(),
        };
        let line = serde_json::to_string(&rec).unwrap();
        assert!(!line.contains("inputs") && !line.contains("error"));
        let back: PredictionRecord<'_> = serde_json::from_str(&line).unwrap();
        assert!(matches!(back.model, Cow::Borrowed("churn")));
        assert_eq!(back.key.as_deref(), Some("user-7"));
        assert_eq!((back.bucket, back.latency_us, back.status), (42, 812, 200));
        assert!(back.routed());
        assert_eq!(back.outputs, rec.outputs);
    }

    #[test]
    fn older_records_without_role_or_latency_still_read() {
        let back: PredictionRecord<'_> = serde_json::from_str(
            r#"{"ts":"2026-11-27T10:00:00Z","request_id":"r","model":"m","version":"1","status":500}"#,
        )
        .unwrap();
        assert_eq!((back.role.as_ref(), back.latency_us), ("", 0));
        assert!(back.outputs.is_null());
    }
}
