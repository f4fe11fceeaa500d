//! The rollout controller: starts rollouts, applies manual commands (promote, pause,
//! resume, rollback), and ticks inside `serve` to evaluate guards and step timers.
//! Every transition is one SQLite transaction (deployment row + audit event with the
//! evidence) committed before the route table is swapped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::gates::{self, GateKind, Verdict};
use super::guard::{self, Evaluation};
use super::host::{Host, Routed};
use super::prom;
use super::strategy::{Guard, OnTrip, RolloutSpec, Strategy};
use super::{Phase, RolloutState};
use crate::error::{Error, Result};
use crate::store::{RouteChange, now_rfc3339};

/// What a transition reports back (also the admin API's reply).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    pub model: String,
    pub from: Option<String>,
    pub to: String,
    pub state: RolloutState,
    /// Time from the call to the new route being live.
    pub swap_us: u64,
}

fn label(s: &RolloutState) -> String {
    match (s.phase, s.spec.strategy) {
        (Phase::Progressing | Phase::Paused, Strategy::Canary) => format!(
            "{}:canary step {}/{} ({}%)",
            s.phase.name(),
            s.step + 1,
            s.spec.steps.len(),
            s.spec.steps.get(s.step).copied().unwrap_or(100.0)
        ),
        (phase, strategy) => format!("{}:{}", phase.name(), strategy_name(strategy)),
    }
}

pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Single => "single",
        Strategy::Shadow => "shadow",
        Strategy::Canary => "canary",
        Strategy::Flight => "flight",
    }
}

/// Who made a transition, which event it is, and its evidence.
struct Why<'a> {
    actor: &'a str,
    kind: &'a str,
    detail: serde_json::Value,
}

/// The actor of the controller's own transitions (fenced by the leader epoch when
/// replicas share a database).
pub const ACTOR: &str = "controller";

/// Commit `next` for `model` (the event and evidence in `why`); the host routes it once it
/// is durable. The caller holds the admin lock.
async fn commit<H: Host>(
    host: &H,
    model: &str,
    prev: Option<&RolloutState>,
    next: RolloutState,
    why: Why<'_>,
    started: Instant,
) -> Result<Transition> {
    let Why {
        actor,
        kind,
        mut detail,
    } = why;
    detail["weights"] = json!(next.weights());
    let rollout = serde_json::to_string(&next).map_err(|e| Error::State(format!("rollout state: {e}")))?;
    let (from, to) = (prev.map(label), label(&next));
    host.commit(RouteChange {
        model: model.to_string(),
        live_version: next.live_version().to_string(),
        strategy: strategy_name(next.spec.strategy).to_string(),
        state: next.phase.name().to_string(),
        rollout: Some(rollout),
        actor: actor.to_string(),
        kind: kind.to_string(),
        from: from.clone(),
        to: Some(to.clone()),
        detail,
    })
    .await?;
    Ok(Transition {
        model: model.into(),
        from,
        to,
        state: next,
        swap_us: started.elapsed().as_micros() as u64,
    })
}

fn current<H: Host>(host: &H, model: &str) -> Result<(Option<RolloutState>, String)> {
    let routed = host
        .routed(model)
        .ok_or_else(|| Error::Usage(format!("unknown model '{model}'")))?;
    let live = routed.live.ok_or_else(|| {
        Error::Usage(format!(
            "model '{model}' has no stable version: deploy one first with --strategy single"
        ))
    })?;
    Ok((routed.rollout, live))
}

fn loaded<H: Host>(host: &H, model: &str, version: &str) -> Result<()> {
    if host
        .routed(model)
        .is_some_and(|r| r.loaded.iter().any(|v| v == version))
    {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "model '{model}' has no loaded version '{version}' (register it first)"
        )))
    }
}

/// Validate and start a rollout of `spec` over the current stable version.
pub async fn start<H: Host>(st: &H, model: &str, mut spec: RolloutSpec, actor: &str) -> Result<Transition> {
    let started = Instant::now();
    if !spec.prom_guards().is_empty() {
        let base = spec
            .prometheus
            .clone()
            .ok_or_else(|| Error::Usage("prom: guards need --prometheus URL".into()))?;
        prom::check_reachable(&base).await?;
    }
    // Pre-rollout gates, before the admin lock: a slow gate must not hold up a rollback.
    for g in spec.gates.iter().filter(|g| g.kind == GateKind::PreRollout) {
        let stable = st.routed(model).and_then(|r| r.live).unwrap_or_default();
        let provisional = RolloutState::begin(spec.clone(), stable, now_rfc3339(), 0);
        let url = g.url.clone().unwrap_or_default();
        if let Err(why) = st.call_gate(&url, gates::payload(model, g.kind, &provisional)).await {
            let reason = format!("pre-rollout gate refused: {why}");
            st.record_event(
                model,
                "gate_refused",
                json!({"gate": "pre-rollout", "reason": reason, "candidate": spec.candidate}),
            )
            .await?;
            return Err(Error::GateFailed(format!(
                "{reason}: the rollout of {} did not start",
                spec.candidate
            )));
        }
    }
    let _guard = st.admin_lock().lock().await;
    let (prev, stable) = match current(st, model) {
        Ok(x) => x,
        // First deployment of a model: single is the only strategy that needs no stable.
        Err(_) if spec.strategy == Strategy::Single => (None, spec.candidate.clone()),
        Err(e) => return Err(e),
    };
    if prev.as_ref().is_some_and(|p| p.phase.active()) {
        return Err(Error::Usage(format!(
            "model '{model}' already has an active rollout: promote or roll it back first"
        )));
    }
    if spec.strategy == Strategy::Flight {
        for (v, _) in spec.weights.iter_mut() {
            if v == "stable" {
                *v = stable.clone();
            }
        }
        if !spec.weights.iter().any(|(v, _)| *v == stable) {
            return Err(Error::Usage(format!(
                "--weights must include the stable version ({stable}) as control"
            )));
        }
        spec.candidate = spec
            .weights
            .iter()
            .find(|(v, _)| *v != stable)
            .map(|(v, _)| v.clone())
            .unwrap_or_default();
        for (v, _) in &spec.weights {
            loaded(st, model, v)?;
        }
    } else {
        loaded(st, model, &spec.candidate)?;
        if spec.candidate == stable && spec.strategy != Strategy::Single {
            return Err(Error::Usage(format!("version {stable} is already the stable version")));
        }
    }
    super::strategy::check_guards(spec.strategy, &spec.guards, spec.baseline.is_some())?;
    if !spec.matches.is_empty() && !matches!(spec.strategy, Strategy::Canary | Strategy::Flight) {
        return Err(Error::Usage(
            "--match routes requests to a candidate beside the stable version: canary or flight".into(),
        ));
    }
    if spec.strategy == Strategy::Canary && (spec.steps.is_empty() || spec.interval_ms == 0) {
        return Err(Error::Usage("canary needs --steps and --interval".into()));
    }
    let now = now_rfc3339();
    let next = RolloutState::begin(spec, stable, now, prev.as_ref().map_or(1, |p| p.step_id + 1));
    let detail = json!({"spec": next.spec, "stable": next.stable});
    let t = commit(
        st,
        model,
        prev.as_ref(),
        next,
        Why {
            actor,
            kind: "rollout_start",
            detail,
        },
        started,
    )
    .await?;
    // A single deployment without guards is done at once.
    if t.state.spec.strategy == Strategy::Single && t.state.spec.guards.is_empty() && t.state.spec.watch_for_ms == 0 {
        let mut done = t.state.clone();
        done.phase = Phase::Promoted;
        done.step_id += 1;
        return commit(
            st,
            model,
            Some(&t.state),
            done,
            Why {
                actor,
                kind: "promote",
                detail: json!({"reason": "single without guards"}),
            },
            started,
        )
        .await;
    }
    Ok(t)
}

/// Manual command on the current rollout.
#[derive(Debug, Clone)]
pub enum Command {
    Promote {
        to: Option<String>,
    },
    Pause,
    Resume,
    Rollback {
        to: Option<String>,
        reason: Option<String>,
    },
    /// Open the rollout's manual gate.
    Approve,
}

pub async fn command<H: Host>(st: &H, model: &str, cmd: Command, actor: &str) -> Result<Transition> {
    let started = Instant::now();
    let _guard = st.admin_lock().lock().await;
    let (prev, live) = current(st, model)?;
    let Some(prev) = prev else {
        return match cmd {
            Command::Rollback { to: Some(v), reason } => {
                rollback_plain(st, model, &live, &v, reason, actor, started).await
            }
            _ => Err(Error::Usage(format!(
                "model '{model}' has no rollout (deploy with a strategy first)"
            ))),
        };
    };
    let mut next = prev.clone();
    next.step_id += 1;
    next.reason = None;
    let (kind, detail) = match cmd {
        Command::Promote { to } => {
            if !prev.phase.active() {
                return Err(Error::Usage(format!(
                    "nothing to promote: the rollout is {}",
                    prev.phase.name()
                )));
            }
            if let Some(v) = to {
                let arms = prev.candidates();
                if !arms.contains(&v) {
                    return Err(Error::Usage(format!(
                        "--to {v}: not a candidate of this rollout ({})",
                        arms.join(", ")
                    )));
                }
                next.spec.candidate = v;
            } else if prev.spec.strategy == Strategy::Flight && prev.candidates().len() > 1 {
                return Err(Error::Usage(format!(
                    "flight has several arms ({}): say which with --to",
                    prev.candidates().join(", ")
                )));
            }
            next.phase = Phase::Promoted;
            ("promote", json!({"promoted": next.spec.candidate}))
        }
        Command::Pause => {
            if prev.phase != Phase::Progressing {
                return Err(Error::Usage(format!(
                    "cannot pause: the rollout is {}",
                    prev.phase.name()
                )));
            }
            next.phase = Phase::Paused;
            next.reason = Some("paused by operator".into());
            ("pause", json!({}))
        }
        Command::Resume => {
            if prev.phase != Phase::Paused {
                return Err(Error::Usage(format!(
                    "cannot resume: the rollout is {}",
                    prev.phase.name()
                )));
            }
            next.phase = Phase::Progressing;
            next.step_started_at = now_rfc3339();
            ("resume", json!({}))
        }
        Command::Approve => {
            if !prev.phase.active() || !prev.spec.gates.iter().any(|g| g.kind == GateKind::Manual) {
                return Err(Error::Usage(format!(
                    "nothing to approve: model '{model}' has no active rollout with --gate manual"
                )));
            }
            // Same step, same evidence: only the gate opens.
            next.step_id = prev.step_id;
            next.approved = true;
            ("approve", json!({"reason": "promotion approved"}))
        }
        Command::Rollback { to, reason } => {
            let target = to.unwrap_or_else(|| prev.stable.clone());
            loaded(st, model, &target)?;
            next.phase = Phase::RolledBack;
            next.stable = target.clone();
            next.reason = Some(reason.clone().unwrap_or_else(|| "rolled back by operator".into()));
            ("rollback", json!({"to": target, "reason": reason}))
        }
    };
    commit(st, model, Some(&prev), next, Why { actor, kind, detail }, started).await
}

/// Rollback of a model that never had a rollout (plain `single` deploys): route 100% to `to`.
async fn rollback_plain<H: Host>(
    st: &H,
    model: &str,
    live: &str,
    to: &str,
    reason: Option<String>,
    actor: &str,
    started: Instant,
) -> Result<Transition> {
    loaded(st, model, to)?;
    let now = now_rfc3339();
    let state = RolloutState {
        spec: RolloutSpec {
            strategy: Strategy::Single,
            candidate: live.to_string(),
            max_step_extensions: 0,
            ..RolloutSpec::default()
        },
        stable: to.to_string(),
        phase: Phase::RolledBack,
        step: 0,
        step_started_at: now.clone(),
        started_at: now,
        reason: Some(reason.clone().unwrap_or_else(|| "rolled back by operator".into())),
        step_id: 1,
        extensions: 0,
        approved: false,
    };
    commit(
        st,
        model,
        None,
        state,
        Why {
            actor,
            kind: "rollback",
            detail: json!({"to": to, "reason": reason}),
        },
        started,
    )
    .await
}

fn elapsed_since(ts: &str) -> Duration {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .and_then(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).to_std().ok())
        .unwrap_or(Duration::ZERO)
}

/// Ask `calls` beside the tick; their answers land in the gate tracker.
fn ask<H: Host>(st: &Arc<H>, model: &str, state: &RolloutState, calls: Vec<gates::Gate>) {
    for g in calls {
        let (st, model, step_id) = (st.clone(), model.to_string(), state.step_id);
        let payload = gates::payload(&model, g.kind, state);
        tokio::spawn(async move {
            let url = g.url.clone().unwrap_or_default();
            let answer = st.call_gate(&url, payload).await;
            st.rollouts().gates.answer(&model, step_id, &g, answer);
        });
    }
}

/// Ask Prometheus for the `prom:` guards that are due (beside the tick) and return what
/// is known so far.
fn prom_readings<H: Host>(st: &Arc<H>, model: &str, state: &RolloutState) -> HashMap<String, prom::Reading> {
    let guards = state.spec.prom_guards();
    let Some(base) = state.spec.prometheus.clone().filter(|_| !guards.is_empty()) else {
        return HashMap::new();
    };
    let exprs: Vec<String> = guards.iter().map(|(e, _)| e.clone()).collect();
    let every = Duration::from_millis(state.spec.prom_interval_ms);
    for expr in st.rollouts().prom.due(model, state.step_id, &exprs, every) {
        let Some(Guard::Prom { query, cmp, threshold }) =
            guards.iter().find(|(e, _)| *e == expr).map(|(_, g)| (*g).clone())
        else {
            continue;
        };
        let (st, model, step_id, base) = (st.clone(), model.to_string(), state.step_id, base.clone());
        let q = prom::substitute(&query, &model, state);
        tokio::spawn(async move {
            let answer = prom::query(&base, &q).await;
            st.rollouts()
                .prom
                .answer(&model, step_id, &expr, answer, |v| cmp.holds(v, threshold));
        });
    }
    st.rollouts().prom.readings(model, state.step_id)
}

/// The step after this one is another canary step (not promotion).
fn next_is_step(state: &RolloutState) -> bool {
    state.spec.strategy == Strategy::Canary && state.spec.steps.get(state.step + 1).is_some_and(|w| *w < 100.0)
}

/// One controller tick for one model.
async fn tick_model<H: Host>(host: &Arc<H>, model: &str) -> Result<()> {
    let st = &**host;
    let rollout_of = |st: &H| st.routed(model).and_then(|r: Routed| r.rollout);
    let Some(state) = rollout_of(st) else {
        return Ok(());
    };
    if state.phase != Phase::Progressing {
        return Ok(());
    }
    st.refresh_window(model, state.step_id).await;
    let window = st.rollouts().window(model, state.step_id);
    let elapsed = elapsed_since(&state.step_started_at);
    // Each extension adds one more interval (or watch period) to the step.
    let periods = 1 + u64::from(state.extensions);
    let step_end = match state.spec.strategy {
        Strategy::Canary => elapsed >= Duration::from_millis(state.spec.interval_ms * periods),
        Strategy::Single => {
            state.spec.watch_for_ms > 0 && elapsed >= Duration::from_millis(state.spec.watch_for_ms * periods)
        }
        Strategy::Shadow | Strategy::Flight => false,
    };
    let mut window = window;
    window.prom = prom_readings(host, model, &state);
    let mut ev: Evaluation = guard::evaluate(&state, &window, step_end);
    st.rollouts().set_evaluation(model, ev.clone());
    if state.spec.dry_run_guards {
        // Record what would have happened, once per step, and carry on as if it had not.
        let would = ev
            .pause_reason()
            .or_else(|| ev.trip.clone().map(|t| format!("guard tripped: {t}")))
            .or_else(|| ev.inconclusive.clone().filter(|_| step_end));
        if let Some(why) = would
            && st.rollouts().first_dry_run_trip(model, state.step_id)
        {
            let detail = json!({
                "would": match state.spec.on_trip { OnTrip::Pause => "pause", OnTrip::Rollback => "rollback" },
                "reason": why,
                "evidence": {"guards": ev.values, "requests": ev.requests},
            });
            st.record_event(model, "dry_run_trip", detail).await?;
        }
        ev.trip = None;
        ev.inconclusive = None;
        ev.sample_ratio_mismatch = None;
        ev.pause = None;
    }
    if ev.trip.is_none() && ev.pause_reason().is_none() && !step_end {
        return Ok(());
    }
    // Gates stand between a passed step and its weight increase or promotion.
    let mut gate_trip = None;
    let advancing = step_end && ev.trip.is_none() && ev.pause_reason().is_none() && ev.inconclusive.is_none();
    let needed = gates::needed(&state.spec.gates, !next_is_step(&state));
    if advancing && !needed.is_empty() {
        let timeout = Duration::from_millis(state.spec.gate_timeout_ms);
        let verdict = st
            .rollouts()
            .gates
            .judge(model, state.step_id, &needed, state.approved, timeout);
        if let Verdict::Held {
            why,
            calls,
            first,
            timed_out,
        } = verdict
        {
            ask(host, model, &state, calls);
            if timed_out {
                gate_trip = Some(format!("gate timeout ({}): {why}", humantime::format_duration(timeout)));
            } else {
                ev.held = Some(why.clone());
                st.rollouts().set_evaluation(model, ev.clone());
                if first {
                    let detail = json!({"reason": why, "step": state.step + 1, "gates": needed});
                    st.record_event(model, "gate_hold", detail).await?;
                }
                return Ok(());
            }
        }
    }
    let started = Instant::now();
    let _guard = st.admin_lock().lock().await;
    // Re-check under the lock: an operator may have acted meanwhile.
    if rollout_of(st).as_ref() != Some(&state) {
        return Ok(());
    }
    let mut next = state.clone();
    next.step_id += 1;
    let evidence = json!({"guards": ev.values, "requests": ev.requests, "shadow_dropped": window.shadow_dropped});
    let (kind, detail) = if let Some(why) = &ev.pause_reason() {
        next.phase = Phase::Paused;
        next.reason = Some(why.clone());
        ("pause", json!({"reason": why, "evidence": evidence}))
    } else if let Some(why) = ev.trip.as_ref().map(|t| format!("guard tripped: {t}")).or(gate_trip) {
        // A guard shown beyond its limit, or a pre-step gate refusing past its timeout.
        let (phase, kind) = match state.spec.on_trip {
            OnTrip::Rollback => (Phase::RolledBack, "rollback"),
            OnTrip::Pause => (Phase::Paused, "pause"),
        };
        next.phase = phase;
        next.reason = Some(why.clone());
        (kind, json!({"reason": why, "evidence": evidence}))
    } else if let Some(why) = &ev.inconclusive
        && state.extensions < state.spec.max_step_extensions
    {
        // More time, same window: the evidence gathered so far still counts.
        next.step_id = state.step_id;
        next.extensions += 1;
        let of = state.spec.max_step_extensions;
        next.reason = Some(format!("extended {}/{of}: {why}", next.extensions));
        (
            "extend",
            json!({"reason": why, "extension": next.extensions, "of": of, "evidence": evidence}),
        )
    } else if let Some(why) = &ev.inconclusive {
        next.phase = Phase::Paused;
        next.reason = Some(why.clone());
        ("pause", json!({"reason": why, "evidence": evidence}))
    } else if next_is_step(&state) {
        next.step += 1;
        next.step_started_at = now_rfc3339();
        next.extensions = 0;
        next.reason = None;
        ("step", json!({"evidence": evidence}))
    } else {
        next.phase = Phase::Promoted;
        next.reason = Some("all steps passed".into());
        // The next step would be 100%: the candidate has passed every step with a control.
        ("promote", json!({"reason": "all steps passed", "evidence": evidence}))
    };
    commit(
        st,
        model,
        Some(&state),
        next,
        Why {
            actor: ACTOR,
            kind,
            detail,
        },
        started,
    )
    .await?;
    Ok(())
}

/// Tick every `every` until the process ends.
pub async fn run<H: Host>(st: Arc<H>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !st.is_controller() {
            continue;
        }
        for m in st.progressing() {
            if let Err(e) = tick_model(&st, &m).await {
                tracing::error!("rollout controller, model {m}: {e}");
            }
        }
    }
}
