//! `mlctl guards backtest`: builds the timeline (a real rollout's steps, fixed steps, or
//! A/A steps), replays the logs through `rollout::backtest`, and reports per step.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{GlobalArgs, GuardsBacktestArgs};
use crate::error::{Error, Result};
use crate::output::{Grid, Report, fmt_num};
use crate::rollout::RolloutState;
use crate::rollout::backtest::{
    self, AA_CONTROL, AA_TREATMENT, AaSummary, Replay, Span, StepVerdict, aa_summary, fixed_spans, rollout_spans,
};
use crate::rollout::strategy::{RolloutSpec, Strategy, parse_guard};

#[derive(Debug, Serialize)]
pub struct BacktestReport {
    pub model: String,
    /// `last-rollout`, `versions` or `aa`.
    pub timeline: String,
    pub guards: Vec<String>,
    pub alpha: f64,
    pub steps: Vec<StepVerdict>,
    /// A/A only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aa: Option<AaSummary>,
    /// Real rollout only: steps whose replayed verdict differs from the controller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreements: Option<usize>,
}

impl Report for BacktestReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let guards: Vec<String> = s
                    .guards
                    .iter()
                    .map(|g| {
                        format!(
                            "{} [{}] {} {}",
                            g.guard,
                            g.arm,
                            g.value.map(fmt_num).unwrap_or_else(|| "-".into()),
                            g.verdict()
                        )
                    })
                    .collect();
                let mut row = vec![
                    (i + 1).to_string(),
                    s.start.clone(),
                    s.end.clone(),
                    s.requests
                        .iter()
                        .map(|(v, n)| format!("{v}:{n}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    match &s.reason {
                        Some(r) => format!("{}: {r}", s.verdict),
                        None => s.verdict.clone(),
                    },
                    guards.join("; "),
                ];
                if self.disagreements.is_some() {
                    row.push(s.real.clone().unwrap_or_else(|| "(still running)".into()));
                }
                row
            })
            .collect();
        let mut headers: Vec<String> = ["step", "from", "to", "requests", "backtest", "guards"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        if self.disagreements.is_some() {
            headers.push("controller".into());
        }
        let mut grids = vec![Grid {
            title: Some(format!("guard backtest of {} ({})", self.model, self.timeline)),
            headers,
            rows,
        }];
        if let Some(aa) = &self.aa {
            grids.push(Grid {
                title: Some("A/A false trips".into()),
                headers: vec!["steps".into(), "tripped".into(), "rate".into(), "alpha".into()],
                rows: vec![vec![
                    aa.steps.to_string(),
                    aa.tripped.to_string(),
                    fmt_num(aa.rate),
                    fmt_num(self.alpha),
                ]],
            });
        }
        grids
    }
}

fn time(flag: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    v.as_ref()
        .map(|s| {
            crate::wire::log::parse_ts(s).ok_or_else(|| {
                Error::Usage(format!(
                    "{flag} {s:?}: expected an RFC 3339 time like 2026-11-28T10:00:00Z"
                ))
            })
        })
        .transpose()
}

/// A rollout state that judges `candidate` against `stable` with `guards`, 50/50.
fn synthetic(
    stable: &str,
    candidate: &str,
    guards: Vec<crate::rollout::strategy::Guard>,
    alpha: f64,
) -> Result<RolloutState> {
    let spec: RolloutSpec = serde_json::from_value(serde_json::json!({
        "strategy": "canary", "candidate": candidate, "steps": [50.0, 100.0], "interval_ms": 1,
    }))
    .map_err(|e| Error::State(e.to_string()))?;
    let spec = RolloutSpec { guards, alpha, ..spec };
    crate::rollout::strategy::check_guards(Strategy::Canary, &spec.guards, false)?;
    Ok(RolloutState::begin(spec, stable.into(), String::new(), 1))
}

/// The time range of the replay: the flags, else the first and last logged records.
fn range(a: &GuardsBacktestArgs, survey: &backtest::Survey) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let from = time("--from", &a.from)?.or(survey.first);
    let to = time("--to", &a.to)?.or(survey.last.map(|l| l + chrono::Duration::microseconds(1)));
    match (from, to) {
        (Some(f), Some(t)) if f < t => Ok((f, t)),
        (Some(_), Some(_)) => Err(Error::Usage("--from must be before --to".into())),
        _ => Err(Error::Usage(format!(
            "no logged predictions of model {:?} to replay",
            a.model
        ))),
    }
}

/// `model`'s audit history: from the PostgreSQL database replicas share when
/// `MLCTL_STATE` names one, else from the data dir's SQLite file.
fn history(dir: &std::path::Path, model: &str) -> Result<Vec<crate::store::EventRecord>> {
    use crate::store::{StateUrl, Store};
    let state = match std::env::var("MLCTL_STATE") {
        Ok(s) => StateUrl::parse(&s).map_err(Error::Usage)?,
        Err(_) => StateUrl::Sqlite,
    };
    if state != StateUrl::Sqlite {
        // Only the history is read: the blob cache goes to a throwaway dir.
        let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        return Store::open_at(scratch.path(), &state)?.events(model);
    }
    let db = dir.join("mlctl.db");
    if !db.is_file() {
        return Err(Error::Usage(format!(
            "{}: no mlctl state here (--last-rollout reads the gateway's history; pass --data-dir, or MLCTL_STATE for replicas on PostgreSQL)",
            db.display()
        )));
    }
    Store::open(dir)?.events(model)
}

pub fn backtest_cmd(a: &GuardsBacktestArgs, g: &GlobalArgs) -> Result<(BacktestReport, Option<Error>)> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(Error::Usage(format!(
            "--alpha {}: expected a level between 0 and 1",
            a.alpha
        )));
    }
    let dir = super::data_dir(g);
    let guards = a.guards.iter().map(|s| parse_guard(s)).collect::<Result<Vec<_>>>()?;
    let (timeline, spans, aa_source): (&str, Vec<Span>, Option<String>) = if a.last_rollout {
        let events = history(&dir, &a.model)?;
        let mut spans = rollout_spans(&events)?;
        if !guards.is_empty() {
            // What-if: the real timeline judged with other guards.
            for s in &mut spans {
                s.state.spec.guards = guards.clone();
                s.state.spec.alpha = a.alpha;
            }
        }
        ("last-rollout", spans, None)
    } else {
        if guards.is_empty() {
            return Err(Error::Usage("--guard is required (except with --last-rollout)".into()));
        }
        // One pass over the logs for whichever defaults are needed (none: no pass).
        let survey = if a.stable.is_none() || a.from.is_none() || a.to.is_none() {
            backtest::survey(&dir, &a.model)?
        } else {
            backtest::Survey::default()
        };
        let stable = match &a.stable {
            Some(s) => s.clone(),
            None => survey
                .versions
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(v, _)| v.clone())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "no logged predictions of model {:?} under {} (pass the gateway's --data-dir)",
                        a.model,
                        dir.display()
                    ))
                })?,
        };
        let (from, to) = range(a, &survey)?;
        if a.aa {
            let state = synthetic(AA_CONTROL, AA_TREATMENT, guards, a.alpha)?;
            ("aa", fixed_spans(&state, from, to, a.step)?, Some(stable))
        } else {
            let candidate = a
                .candidate
                .clone()
                .ok_or_else(|| Error::Usage("pass --candidate (or --aa, or --last-rollout)".into()))?;
            let state = synthetic(&stable, &candidate, guards, a.alpha)?;
            ("versions", fixed_spans(&state, from, to, a.step)?, None)
        }
    };
    let replay = Replay {
        model: a.model.clone(),
        tick: a.tick,
        aa: aa_source,
        check_split: a.aa || a.last_rollout,
    };
    let steps = backtest::backtest(&dir, &replay, &spans)?;
    let guard_exprs = spans
        .first()
        .map(|s| s.state.spec.guards.iter().map(|g| g.expr()).collect())
        .unwrap_or_default();
    let alpha = spans.first().map_or(a.alpha, |s| s.state.spec.alpha);
    let aa = a.aa.then(|| aa_summary(&steps));
    let disagreements = a.last_rollout.then(|| {
        steps
            .iter()
            .filter(|s| s.real.as_ref().is_some_and(|r| !agrees(s, r)))
            .count()
    });
    let gate = aa.filter(|s| s.rate > a.alpha).map(|s| {
        Error::GateFailed(format!(
            "A/A false-trip rate {:.3} ({} of {} steps) exceeds --alpha {}: these guards would roll back identical models on this traffic",
            s.rate, s.tripped, s.steps, a.alpha
        ))
    });
    Ok((
        BacktestReport {
            model: a.model.clone(),
            timeline: timeline.into(),
            guards: guard_exprs,
            alpha,
            steps,
            aa,
            disagreements,
        },
        gate,
    ))
}

/// The replayed verdict says what the controller did: both passed, both tripped (the same
/// guard), both inconclusive, or both a sample-ratio pause.
pub fn agrees(s: &StepVerdict, real: &str) -> bool {
    match s.verdict.as_str() {
        "passed" => real == "passed",
        "tripped" => {
            let guard = s
                .reason
                .as_deref()
                .and_then(|r| r.strip_prefix("guard tripped: "))
                .and_then(|r| r.split(" on ").next())
                .unwrap_or("");
            (real.starts_with("rollback: guard tripped") || real.starts_with("pause: guard tripped"))
                && real.contains(guard)
        }
        "inconclusive" => real.starts_with("pause: inconclusive"),
        _ => real.contains("sample ratio mismatch"),
    }
}
