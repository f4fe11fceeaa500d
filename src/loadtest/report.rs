//! What a load test found, as plain structs (JSON is their serde form) and as grids for
//! people. Built once from a `RunOutput`; nothing here measures.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::{self, HistogramBucket, LatencySummary};
use super::scheduler::LoadModel;
use super::slo::{Figures, Slo, SloResult};
use super::{RunConfig, RunOutput};
use crate::output::fmt_num;
use crate::output::{Grid, Report};

/// Generator lateness (p99, ms) above which the run notes that the machine is busy.
pub const OVERLOAD_LAG_MS: f64 = 5.0;
/// Share of requests that queued for a connection above which a note is printed.
const QUEUED_NOTE_SHARE: f64 = 0.01;
/// Text histogram bars.
const HISTOGRAM_BUCKETS: usize = 12;

#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub requests: u64,
    pub latency_ms: LatencySummary,
}

/// Whether the generator itself kept up. Its own lateness is kept out of the latency
/// figures and reported here instead.
#[derive(Debug, Clone, Serialize)]
pub struct ClientHealth {
    pub overloaded: bool,
    /// Requests started per second in the measured window (open loop: compare with the rate).
    pub send_rps: f64,
    /// p99 of how late requests went out after they were due and a connection was free.
    pub lag_p99_ms: f64,
    /// p99 / max lateness of a 1 ms timer in the generator (runtime stalls, CPU starvation).
    pub hiccup_p99_ms: f64,
    pub hiccup_max_ms: f64,
    /// Requests that were due while every connection was busy (their wait is in the latency).
    pub queued_for_connection: u64,
    /// Due requests never sent: the run ended with them still queued.
    pub unsent: u64,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    /// `open` (constant rate) or `closed` (fixed concurrency).
    pub mode: &'static str,
    pub requested_rps: Option<f64>,
    pub concurrency: Option<usize>,
    pub connections: usize,
    pub warmup_s: f64,
    /// Requests sent in the measured window (any outcome).
    pub requests: u64,
    pub duration_s: f64,
    /// Achieved: requests / duration_s.
    pub rps: f64,
    /// Open loop: from the intended send time (coordinated omission corrected);
    /// closed loop: from the send. Answered requests of any status.
    pub latency_ms: LatencySummary,
    /// From the moment each request was written (what a closed-loop tool reports).
    pub service_ms: LatencySummary,
    /// Connect failures, timeouts, broken connections, unsent and HTTP ≥ 400.
    pub errors: u64,
    pub error_rate: f64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub status_codes: BTreeMap<String, u64>,
    pub variants: BTreeMap<String, VariantReport>,
    pub histogram: Vec<HistogramBucket>,
    pub client: ClientHealth,
    pub slo: Vec<SloResult>,
    pub interrupted: bool,
}

impl RunReport {
    pub fn build(target: &str, out: &RunOutput, slos: &[Slo]) -> RunReport {
        let c = &out.collected;
        let cfg: &RunConfig = &out.config;
        let http_errors: u64 = c.status.iter().filter(|(s, _)| **s >= 400).map(|(_, n)| n).sum();
        let mut kinds = BTreeMap::new();
        for (name, n) in [
            ("connect", c.connect_errors),
            ("timeout", c.timeouts),
            ("io", c.io_errors),
            ("unsent", out.unsent),
        ] {
            if n > 0 {
                kinds.insert(name.to_string(), n);
            }
        }
        for (s, n) in c.status.iter().filter(|(s, _)| **s >= 400) {
            kinds.insert(format!("http_{s}"), *n);
        }
        let errors = c.connect_errors + c.timeouts + c.io_errors + out.unsent + http_errors;
        let attempted = c.requests + out.unsent;
        let window_s = cfg.duration.as_secs_f64();
        let measured_end_s = (c.last_end_us as f64 / 1e6 - cfg.warmup.as_secs_f64()).max(0.0);
        let duration_s = match cfg.model {
            LoadModel::Open { .. } if !out.interrupted => window_s.max(measured_end_s),
            _ => measured_end_s,
        };
        let rps = if duration_s > 0.0 {
            c.requests as f64 / duration_s
        } else {
            0.0
        };
        let latency = histogram::summary(&c.latency);
        let lag = histogram::summary(&c.lag);
        let hiccup = histogram::summary(&out.hiccups);
        let (requested_rps, concurrency) = match cfg.model {
            LoadModel::Open { rate } => (Some(rate), None),
            LoadModel::Closed { concurrency, .. } => (None, Some(concurrency)),
        };
        let send_rps = match cfg.model {
            LoadModel::Open { .. } if window_s > 0.0 && !out.interrupted => c.started_in_window as f64 / window_s,
            _ => rps,
        };
        let open = matches!(cfg.model, LoadModel::Open { .. });
        let lag_p99 = if open { lag.p99 } else { 0.0 };
        let queued_share = if c.requests > 0 {
            c.waited as f64 / c.requests as f64
        } else {
            0.0
        };
        let stalled = hiccup.p99 > OVERLOAD_LAG_MS;
        let mut notes = Vec::new();
        // Overloaded: the offered rate fell behind, and not because every connection was
        // waiting on the server (or the generator's own runtime was stalled).
        let behind = requested_rps.is_some_and(|rate| send_rps < 0.95 * rate) && !out.interrupted;
        let overloaded = open && behind && (queued_share <= QUEUED_NOTE_SHARE || stalled);
        if let Some(rate) = requested_rps
            && behind
        {
            notes.push(format!(
                "sent {} req/s of the {} req/s asked for{}",
                fmt_num(round3(send_rps)),
                fmt_num(rate),
                if overloaded {
                    " — the generator could not keep the rate (client overloaded): lower --rate or run it on another machine"
                } else {
                    ": every connection was busy waiting on the server"
                }
            ));
        }
        if lag_p99 > OVERLOAD_LAG_MS || stalled {
            notes.push(format!(
                "the generator ran late (send lag p99 {} ms, timer hiccup p99 {} ms): the machine is busy; {}",
                fmt_num(round3(lag_p99)),
                fmt_num(round3(hiccup.p99)),
                if open {
                    "its own lateness is kept out of the latency figures"
                } else {
                    "in a closed loop that delay is inside the latency figures"
                }
            ));
        }
        if queued_share > QUEUED_NOTE_SHARE {
            notes.push(format!(
                "{:.1}% of requests were due while all {} connections were busy; that wait is in the latency \
                 (as a real client population would see it) — raise --connections if the server should take more",
                100.0 * c.waited as f64 / c.requests as f64,
                cfg.connections
            ));
        }
        if out.unsent > 0 {
            notes.push(format!(
                "{} due requests were never sent (still queued when the drain window of --timeout {} closed); counted as errors",
                out.unsent,
                humantime::format_duration(cfg.timeout)
            ));
        }
        if out.interrupted {
            notes.push("interrupted: the figures cover the run until Ctrl-C".into());
        }
        let mut variants = BTreeMap::new();
        for (i, (n, h)) in c.variants.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let name = out.variant_names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
            variants.insert(
                name,
                VariantReport {
                    requests: *n,
                    latency_ms: histogram::summary(h),
                },
            );
        }
        let error_rate = if attempted > 0 {
            errors as f64 / attempted as f64
        } else {
            0.0
        };
        let figures = Figures {
            latency,
            error_rate,
            rps,
            errors,
            requests: attempted,
        };
        RunReport {
            target: target.to_string(),
            mode: match cfg.model {
                LoadModel::Open { .. } => "open",
                LoadModel::Closed { .. } => "closed",
            },
            requested_rps,
            concurrency,
            connections: cfg.connections,
            warmup_s: cfg.warmup.as_secs_f64(),
            requests: c.requests,
            duration_s,
            rps,
            latency_ms: latency,
            service_ms: histogram::summary(&c.service),
            errors,
            error_rate,
            errors_by_kind: kinds,
            status_codes: c.status.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            variants,
            histogram: histogram::buckets(&c.latency, HISTOGRAM_BUCKETS),
            client: ClientHealth {
                overloaded,
                send_rps,
                lag_p99_ms: lag_p99,
                hiccup_p99_ms: hiccup.p99,
                hiccup_max_ms: hiccup.max,
                queued_for_connection: c.waited,
                unsent: out.unsent,
                notes,
            },
            slo: slos.iter().map(|s| s.check(&figures)).collect(),
            interrupted: out.interrupted,
        }
    }

    pub fn slo_failed(&self) -> bool {
        self.slo.iter().any(|s| !s.pass)
    }

    /// No request got an HTTP answer and every one failed to connect.
    pub fn unreachable(&self) -> bool {
        self.requests > 0 && self.errors_by_kind.get("connect") == Some(&self.requests)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(x: f64) -> String {
    format!("{} ms", fmt_num(round3(x)))
}

fn load_line(r: &RunReport) -> String {
    match (r.requested_rps, r.concurrency) {
        (Some(rate), _) => format!("open loop at {}/s over {} connections", fmt_num(rate), r.connections),
        (_, Some(c)) => format!("closed loop, {c} concurrent"),
        _ => String::new(),
    }
}

fn summary_grid(r: &RunReport) -> Grid {
    let mut rows = vec![
        vec!["target".into(), r.target.clone()],
        vec!["load".into(), load_line(r)],
        vec!["requests".into(), r.requests.to_string()],
        vec!["duration".into(), format!("{} s", fmt_num(round3(r.duration_s)))],
    ];
    let rps = match r.requested_rps {
        Some(rate) => format!("{} req/s (asked {}/s)", fmt_num(round3(r.rps)), fmt_num(rate)),
        None => format!("{} req/s", fmt_num(round3(r.rps))),
    };
    rows.push(vec!["throughput".into(), rps]);
    rows.push(vec![
        "errors".into(),
        format!("{} ({:.3}%)", r.errors, 100.0 * r.error_rate),
    ]);
    for (k, n) in &r.errors_by_kind {
        rows.push(vec![format!("  {k}"), n.to_string()]);
    }
    let codes: Vec<String> = r.status_codes.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    if !codes.is_empty() {
        rows.push(vec!["status codes".into(), codes.join(", ")]);
    }
    let lat = if r.mode == "open" {
        "latency (from intended send)"
    } else {
        "latency"
    };
    let l = &r.latency_ms;
    for (name, v) in [
        ("p50", l.p50),
        ("p90", l.p90),
        ("p95", l.p95),
        ("p99", l.p99),
        ("p99.9", l.p999),
        ("max", l.max),
        ("mean", l.mean),
    ] {
        rows.push(vec![format!("{lat} {name}"), ms(v)]);
    }
    if r.mode == "open" {
        rows.push(vec![
            "service time p50 / p99 (from actual send)".into(),
            format!("{} / {}", ms(r.service_ms.p50), ms(r.service_ms.p99)),
        ]);
    }
    rows.push(vec![
        "client".into(),
        if r.client.overloaded {
            "OVERLOADED (see notes)".into()
        } else {
            format!(
                "kept up (send lag p99 {}, timer hiccup p99 {})",
                ms(r.client.lag_p99_ms),
                ms(r.client.hiccup_p99_ms)
            )
        },
    ]);
    Grid {
        title: Some("load test".into()),
        headers: vec!["measure".into(), "value".into()],
        rows,
    }
}

fn histogram_grid(r: &RunReport) -> Option<Grid> {
    let max = r.histogram.iter().map(|b| b.count).max()?;
    const WIDTH: u64 = 40;
    let rows = r
        .histogram
        .iter()
        .map(|b| {
            let bar = (b.count * WIDTH).div_ceil(max.max(1)) as usize;
            vec![format!("≤ {}", ms(b.le_ms)), b.count.to_string(), "■".repeat(bar)]
        })
        .collect();
    Some(Grid {
        title: Some("latency histogram".into()),
        headers: vec!["latency".into(), "requests".into(), String::new()],
        rows,
    })
}

fn variants_grid(r: &RunReport) -> Option<Grid> {
    if r.variants.is_empty() {
        return None;
    }
    let rows = r
        .variants
        .iter()
        .map(|(name, v)| {
            vec![
                name.clone(),
                v.requests.to_string(),
                format!("{:.1}%", 100.0 * v.requests as f64 / r.requests.max(1) as f64),
                ms(v.latency_ms.p50),
                ms(v.latency_ms.p99),
                ms(v.latency_ms.max),
            ]
        })
        .collect();
    Some(Grid {
        title: Some("by variant (x-mlctl-variant)".into()),
        headers: ["variant", "requests", "share", "p50", "p99", "max"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

fn slo_grid(slo: &[SloResult]) -> Option<Grid> {
    if slo.is_empty() {
        return None;
    }
    let rows = slo
        .iter()
        .map(|s| {
            vec![
                s.expr.clone(),
                fmt_num(round3(s.value)),
                if s.pass { "pass".into() } else { "FAIL ✗".into() },
            ]
        })
        .collect();
    Some(Grid {
        title: Some("SLOs".into()),
        headers: ["slo", "measured", "result"].map(String::from).to_vec(),
        rows,
    })
}

fn notes_grid(notes: &[String]) -> Option<Grid> {
    if notes.is_empty() {
        return None;
    }
    Some(Grid {
        title: Some("notes".into()),
        headers: vec!["note".into()],
        rows: notes.iter().map(|n| vec![n.clone()]).collect(),
    })
}

impl Report for RunReport {
    fn grids(&self) -> Vec<Grid> {
        let mut g = vec![summary_grid(self)];
        g.extend(histogram_grid(self));
        g.extend(variants_grid(self));
        g.extend(slo_grid(&self.slo));
        g.extend(notes_grid(&self.client.notes));
        g
    }
}

/// `--sweep`: one run per rate, and the knee.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub target: String,
    /// Highest swept rate whose run met every SLO (or, without SLOs, was sustained:
    /// ≥ 95% of the rate achieved with < 1% errors). `None`: not even the first.
    pub knee_rps: Option<f64>,
    /// What decided the knee.
    pub criterion: String,
    pub sweep: Vec<RunReport>,
}

impl SweepReport {
    /// Whether a run counts as meeting the target at its rate.
    pub fn sustained(r: &RunReport) -> bool {
        if r.slo.is_empty() {
            let rate = r.requested_rps.unwrap_or(0.0);
            r.rps >= 0.95 * rate && r.error_rate < 0.01 && !r.client.overloaded
        } else {
            !r.slo_failed() && !r.client.overloaded
        }
    }

    pub fn build(target: &str, runs: Vec<RunReport>, has_slos: bool) -> SweepReport {
        let knee = runs
            .iter()
            .take_while(|r| Self::sustained(r))
            .filter_map(|r| r.requested_rps)
            .last();
        SweepReport {
            target: target.to_string(),
            knee_rps: knee,
            criterion: if has_slos {
                "every --slo met and the generator kept up".into()
            } else {
                "≥ 95% of the rate achieved, < 1% errors, generator kept up (no --slo given)".into()
            },
            sweep: runs,
        }
    }
}

impl Report for SweepReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .sweep
            .iter()
            .map(|r| {
                let failed: Vec<&str> = r.slo.iter().filter(|s| !s.pass).map(|s| s.expr.as_str()).collect();
                vec![
                    format!("{}/s", fmt_num(r.requested_rps.unwrap_or(0.0))),
                    fmt_num(round3(r.rps)),
                    ms(r.latency_ms.p50),
                    ms(r.latency_ms.p99),
                    ms(r.latency_ms.max),
                    format!("{:.3}%", 100.0 * r.error_rate),
                    if Self::sustained(r) {
                        "pass".into()
                    } else if !failed.is_empty() {
                        format!("FAIL ✗ {}", failed.join(", "))
                    } else if r.client.overloaded {
                        "FAIL ✗ client overloaded".into()
                    } else {
                        "FAIL ✗ not sustained".into()
                    },
                ]
            })
            .collect();
        let knee = match self.knee_rps {
            Some(k) => format!("knee: {}/s ({})", fmt_num(k), self.criterion),
            None => format!("knee: none — the first rate already failed ({})", self.criterion),
        };
        let mut g = vec![
            Grid {
                title: Some(format!("rate sweep against {}", self.target)),
                headers: ["rate", "achieved rps", "p50", "p99", "max", "errors", "result"]
                    .map(String::from)
                    .to_vec(),
                rows,
            },
            Grid {
                title: None,
                headers: vec!["result".into()],
                rows: vec![vec![knee]],
            },
        ];
        let notes: Vec<String> = self
            .sweep
            .iter()
            .flat_map(|r| {
                r.client
                    .notes
                    .iter()
                    .map(move |n| format!("{}/s: {n}", fmt_num(r.requested_rps.unwrap_or(0.0))))
            })
            .collect();
        g.extend(notes_grid(&notes));
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadtest::collector::Collected;
    use std::time::Duration;

    fn open_run(rate: f64, started: u64, waited: u64) -> RunOutput {
        let mut c = Collected {
            requests: started,
            started_in_window: started,
            waited,
            last_end_us: 10_000_000,
            ..Collected::default()
        };
        *c.status.entry(200).or_default() = started;
        for _ in 0..started {
            histogram::record(&mut c.latency, Duration::from_millis(2));
        }
        RunOutput {
            config: RunConfig {
                model: LoadModel::Open { rate },
                warmup: Duration::ZERO,
                duration: Duration::from_secs(10),
                connections: 8,
                timeout: Duration::from_secs(1),
                save_hdr: None,
            },
            collected: c,
            variant_names: vec![],
            hiccups: histogram::new(),
            unsent: 0,
            interrupted: false,
        }
    }

    #[test]
    fn falling_behind_with_free_connections_is_client_overload() {
        let r = RunReport::build("http://x/", &open_run(1000.0, 5000, 0), &[]);
        assert!(r.client.overloaded);
        assert_eq!(r.client.send_rps, 500.0);
        assert!(r.client.notes[0].contains("client overloaded"), "{:?}", r.client.notes);
    }

    #[test]
    fn falling_behind_on_busy_connections_is_the_server() {
        let r = RunReport::build("http://x/", &open_run(1000.0, 5000, 4000), &[]);
        assert!(!r.client.overloaded);
        assert!(r.client.notes.iter().any(|n| n.contains("every connection was busy")));
        assert!(r.client.notes.iter().any(|n| n.contains("80.0% of requests were due")));
    }

    #[test]
    fn keeping_the_rate_needs_no_note() {
        let r = RunReport::build("http://x/", &open_run(100.0, 1000, 0), &[]);
        assert!(!r.client.overloaded);
        assert!(r.client.notes.is_empty(), "{:?}", r.client.notes);
        assert_eq!(r.rps, 100.0);
        assert_eq!(r.error_rate, 0.0);
    }

    #[test]
    fn the_knee_is_the_last_rate_before_the_first_failure() {
        let slo = [Slo::parse("p99<10ms").unwrap()];
        let mut slow = open_run(400.0, 4000, 0);
        histogram::record(&mut slow.collected.latency, Duration::from_millis(50));
        for _ in 0..100 {
            histogram::record(&mut slow.collected.latency, Duration::from_millis(50));
        }
        let runs = vec![
            RunReport::build("u", &open_run(100.0, 1000, 0), &slo),
            RunReport::build("u", &open_run(200.0, 2000, 0), &slo),
            RunReport::build("u", &slow, &slo),
        ];
        assert!(runs[2].slo_failed());
        let s = SweepReport::build("u", runs, true);
        assert_eq!(s.knee_rps, Some(200.0));
        let s = SweepReport::build("u", vec![RunReport::build("u", &slow, &slo)], true);
        assert_eq!(s.knee_rps, None);
    }
}
