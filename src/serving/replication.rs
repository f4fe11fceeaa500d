//! Several gateways as one: replicas sharing a PostgreSQL database (`--state postgres://…`).
//!
//! - **Routes.** Every committed audit event is announced (`NOTIFY mlctl_events`, sent by
//!   PostgreSQL when the transaction commits). Each replica LISTENs on its own connection
//!   and reloads versions and deployments at once; a periodic check of the newest event
//!   id (every controller tick) is the safety net, and a replica whose listener
//!   reconnects reloads first, so a disconnected replica catches up. Salts come from the
//!   shared deployment rows, so a key lands in the same bucket on every replica.
//! - **One controller.** Replicas try a session-level advisory lock every tick; the one
//!   holding it takes a new leader epoch (the fencing token) and ticks rollouts,
//!   delivers webhooks and closes monitor windows. When it dies its session ends, the
//!   lock is free, and another replica takes over within a tick; a controller commit
//!   carries its epoch and is refused once a newer one exists. Every commit is also a
//!   compare-and-swap on the deployment row the replica based it on.
//! - **Guards over all replicas.** Each replica publishes its window of every active step
//!   every tick; each reads the others' and merges them (`Rollouts::window`).
//! - **Outcomes.** An outcome whose request this replica did not answer is relayed
//!   through the database; the replica that answered it joins it on its next tick.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::loading::load_isolated;
use super::replica::Replica;
use super::state::{AppState, ModelRoute};
use crate::error::{Error, Result};
use crate::rollout::stats::ModelWindow;
use crate::store::{NOTIFY_CHANNEL, VersionSource};

/// The advisory lock whose holder is the controller.
const LEADER_LOCK: i64 = 0x6d6c_6374_6c00_0002;
/// Relayed outcomes and replicas' heartbeats are kept this long.
const RELAY_KEEP: chrono::Duration = chrono::Duration::hours(1);
const REPLICA_KEEP: chrono::Duration = chrono::Duration::days(1);

/// Start the replica's background work: the listener, the election and the tick.
pub fn start(st: &Arc<AppState>, rep: &Arc<Replica>) -> Vec<tokio::task::JoinHandle<()>> {
    st.notifier.set_active(false);
    vec![
        tokio::spawn(follow(st.clone(), rep.clone())),
        tokio::spawn(elect(st.clone(), rep.clone())),
        tokio::spawn(tick(st.clone(), rep.clone())),
    ]
}

/// Reload versions and deployments from the database and route by them: versions not
/// yet loaded are fetched (blob cache) and loaded first, off the admin lock (a rollback
/// on this replica never waits for a load); then, under the admin lock like any route
/// change, every model's route is rebuilt from its deployment row as it is now.
pub async fn reload(st: &Arc<AppState>, rep: &Replica) -> Result<()> {
    let versions = st.with_store(|s| s.versions(None)).await?;
    let mut fresh = Vec::new();
    for rec in versions {
        let key = (rec.model.clone(), rec.version.clone());
        let loaded = st
            .routes
            .load()
            .models
            .get(&rec.model)
            .is_some_and(|r| r.versions.contains_key(&rec.version));
        let failed = st
            .load_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&key);
        if loaded || failed {
            continue;
        }
        if let VersionSource::Onnx { blob_sha256 } = &rec.source {
            let sha = blob_sha256.clone();
            st.with_store(move |s| s.cache_blob(&sha)).await?;
        }
        match load_isolated(st, rec).await {
            Ok(v) => fresh.push((key, Arc::new(v))),
            Err(e) => {
                tracing::error!("{} version {}: cannot load: {e}", key.0, key.1);
                st.load_failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key, e.to_string());
            }
        }
    }
    let _admin = st.admin_lock.lock().await;
    let since = rep.route_version();
    let (deployments, newest, events) = st
        .with_store(move |s| {
            let newest = s.max_event_id()?;
            let events = if newest > since && since > 0 {
                s.events_after(since, 1000)?
            } else {
                Vec::new()
            };
            Ok((s.deployments()?, newest, events))
        })
        .await?;
    let mut table = (**st.routes.load()).clone();
    for ((model, version), v) in fresh {
        table
            .models
            .entry(model)
            .or_insert_with(|| ModelRoute::new(String::new()))
            .versions
            .insert(version, v);
    }
    let mut incomplete = false;
    let failures = st
        .load_failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for dep in &deployments {
        let route = table
            .models
            .entry(dep.model.clone())
            .or_insert_with(|| ModelRoute::new(dep.salt.clone()));
        route.apply(dep);
        // A version registered after the loads above: route by what is loaded now and
        // come back for the rest at once (a version that failed to load is not waited for).
        let mut wanted = vec![dep.live_version.clone()];
        if let Some(r) = route.rollout.as_ref().filter(|r| r.phase.active()) {
            wanted.extend(r.weights().into_iter().map(|w| w.version));
        }
        incomplete |= wanted
            .iter()
            .any(|v| !route.versions.contains_key(v) && !failures.contains_key(&(dep.model.clone(), v.clone())));
    }
    st.publish(table);
    if incomplete {
        rep.reload.notify_one();
    } else {
        rep.route_version.store(newest, Ordering::SeqCst);
    }
    // How long after its commit each route change reached this replica.
    let now = chrono::Utc::now();
    for e in events.iter().filter(|e| ROUTE_KINDS.contains(&e.kind.as_str())) {
        if let Some(t) = crate::wire::log::parse_ts(&e.ts) {
            let lag = (now - t).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            st.metrics.route_propagation.observe(lag);
            tracing::debug!("event {} ({}) routed {lag:.4} s after its commit", e.id, e.kind);
        }
    }
    Ok(())
}

/// The audit events that change what a replica routes.
const ROUTE_KINDS: &[&str] = &[
    "route",
    "rollout_start",
    "step",
    "promote",
    "rollback",
    "pause",
    "resume",
    "abort",
    "extend",
];

/// Listen for committed events (reconnecting with backoff) and reload on each; reload
/// on every (re)connect and whenever asked, and every tick if an event was missed.
async fn follow(st: Arc<AppState>, rep: Arc<Replica>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<i64>();
    let listener = {
        let (url, tx) = (rep.url().to_string(), tx.clone());
        tokio::spawn(async move { listen(url, tx).await })
    };
    let mut every = tokio::time::interval(st.config.controller_tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wanted = tokio::select! {
            Some(id) = rx.recv() => {
                let mut newest = id;
                while let Ok(more) = rx.try_recv() {
                    newest = newest.max(more);
                }
                newest == 0 || newest > rep.route_version()
            }
            _ = rep.reload.notified() => true,
            _ = every.tick() => {
                match st.with_store(|s| s.max_event_id()).await {
                    Ok(newest) => newest != rep.route_version(),
                    Err(e) => {
                        tracing::warn!("replica {}: state database: {e}", rep.id);
                        false
                    }
                }
            }
        };
        if wanted && let Err(e) = reload(&st, &rep).await {
            tracing::warn!("replica {}: reloading routes: {e}", rep.id);
        }
        if listener.is_finished() {
            return;
        }
    }
}

/// LISTEN on a connection of its own; each notification's event id goes to `tx`, and a 0
/// after every (re)connect (catch up on what was missed while away).
async fn listen(url: String, tx: tokio::sync::mpsc::UnboundedSender<i64>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel::<i64>();
                let driver = tokio::spawn(async move {
                    while let Some(msg) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                        match msg {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                let _ = ntx.send(n.payload().parse().unwrap_or(0));
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("state database listener: {e}");
                                break;
                            }
                        }
                    }
                });
                if client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await.is_ok() {
                    backoff = Duration::from_millis(100);
                    if tx.send(0).is_err() {
                        return;
                    }
                    while let Some(id) = nrx.recv().await {
                        if tx.send(id).is_err() {
                            return;
                        }
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!("state database listener: cannot connect: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The election: every tick, a replica that is not the leader tries the advisory lock on
/// a connection of its own; the holder checks that its session is alive. Losing the
/// session (or the database) ends the leadership at once.
async fn elect(st: Arc<AppState>, rep: Arc<Replica>) {
    let every = st.config.controller_tick;
    loop {
        let (client, conn) = match tokio_postgres::connect(rep.url(), tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("replica {}: election: cannot connect: {e}", rep.id);
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let driver = tokio::spawn(conn);
        loop {
            tokio::time::sleep(every).await;
            if driver.is_finished() {
                break;
            }
            if rep.epoch().is_some() {
                let alive =
                    tokio::time::timeout(every.max(Duration::from_millis(500)), client.simple_query("SELECT 1"))
                        .await
                        .is_ok_and(|r| r.is_ok());
                if !alive {
                    break;
                }
                continue;
            }
            let got = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                .await
                .map(|r| r.get::<_, bool>(0));
            match got {
                Ok(true) => {
                    let id = rep.id.clone();
                    match st.with_store(move |s| s.take_leadership(&id)).await {
                        Ok(epoch) => {
                            // Routes as the database has them before the first tick.
                            if let Err(e) = reload(&st, &rep).await {
                                tracing::warn!("replica {}: reload on taking the lead: {e}", rep.id);
                            }
                            rep.epoch.store(epoch, Ordering::SeqCst);
                            st.metrics.leader.set(1);
                            st.notifier.set_active(true);
                            tracing::info!("replica {}: now the controller (leader epoch {epoch})", rep.id);
                        }
                        Err(e) => tracing::warn!("replica {}: taking the lead: {e}", rep.id),
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("replica {}: election: {e}", rep.id);
                    break;
                }
            }
        }
        if rep.epoch.swap(0, Ordering::SeqCst) > 0 {
            st.metrics.leader.set(0);
            st.notifier.set_active(false);
            tracing::warn!("replica {}: lost the lead (its database session ended)", rep.id);
        }
        driver.abort();
    }
}

/// Every tick: heartbeat; publish this replica's windows of active steps and read the
/// others'; join relayed outcomes; the leader prunes what is no longer needed.
async fn tick(st: Arc<AppState>, rep: Arc<Replica>) {
    let mut every = tokio::time::interval(st.config.controller_tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = tick_once(&st, &rep).await {
            tracing::warn!("replica {}: {e}", rep.id);
        }
    }
}

async fn tick_once(st: &Arc<AppState>, rep: &Arc<Replica>) -> Result<()> {
    let active: Vec<(String, u64)> = st
        .routes
        .load()
        .models
        .iter()
        .filter_map(|(m, r)| Some((m.clone(), r.active_step()?)))
        .collect();
    let mine: Vec<(String, u64, String)> = active
        .iter()
        .map(|(m, step)| (m.clone(), *step, st.rollouts.stats.snapshot(m, *step).to_json()))
        .collect();
    let id = rep.id.clone();
    let address = rep.address.get().cloned().unwrap_or_default();
    let (started, version, leader) = (rep.started_at.clone(), rep.route_version(), rep.epoch().is_some());
    let cursor = rep.relay_cursor.load(Ordering::SeqCst);
    let (remote, relayed) = st
        .with_store(move |s| {
            s.heartbeat(&id, &address, &started, version, leader)?;
            let mut remote = Vec::new();
            for (model, step, json) in &mine {
                s.publish_step_stats(model, &id, *step, json)?;
                remote.push((model.clone(), *step, s.step_stats(model, *step, &id)?));
            }
            let relayed = match cursor {
                c if c < 0 => Err(s.max_relay_id()?),
                c => Ok(s.relayed_after(c, 5000)?),
            };
            if leader {
                for (model, step, _) in &mine {
                    s.prune_step_stats(model, *step)?;
                }
                let now = chrono::Utc::now();
                s.prune_relay(&crate::wire::log::timestamp(&(now - RELAY_KEEP)))?;
                s.forget_replicas(&crate::wire::log::timestamp(&(now - REPLICA_KEEP)))?;
            }
            Ok((remote, relayed))
        })
        .await?;
    for (model, step, rows) in remote {
        st.rollouts
            .set_remote(&model, ModelWindow::merge_published(step, &rows));
    }
    match relayed {
        Err(start) => rep.relay_cursor.store(start, Ordering::SeqCst),
        Ok(outcomes) => {
            for o in &outcomes {
                if o.origin != rep.id {
                    st.rollouts.stats.record_outcome(&o.request_id, &o.metric, o.value);
                }
            }
            if let Some(last) = outcomes.last() {
                rep.relay_cursor.store(last.id, Ordering::SeqCst);
            }
        }
    }
    Ok(())
}

/// Relay outcomes this replica could not join (committed before they are acknowledged).
pub async fn relay(st: &AppState, rep: &Replica, unjoined: Vec<(String, String, f64)>) -> Result<()> {
    if unjoined.is_empty() {
        return Ok(());
    }
    let origin = rep.id.clone();
    st.with_store(move |s| {
        let rows: Vec<(&str, &str, f64)> = unjoined.iter().map(|(r, m, v)| (r.as_str(), m.as_str(), *v)).collect();
        s.relay_outcomes(&origin, &rows)
    })
    .await
    .map_err(|e| Error::State(format!("outcomes could not be relayed to the other replicas: {e}")))
}

/// `GET /admin/v1/replicas`.
pub async fn list(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(r) = super::http::check_token(&st.token, &headers) {
        return r.into_response();
    }
    let Some(rep) = st.replica.clone() else {
        return axum::Json(super::api::ReplicaList {
            this: None,
            newest_event: 0,
            leader_epoch: 0,
            replicas: Vec::new(),
        })
        .into_response();
    };
    let listed = st
        .with_store(|s| Ok((s.max_event_id()?, s.leader()?.0, s.replicas()?)))
        .await;
    match listed {
        Ok((newest_event, leader_epoch, replicas)) => axum::Json(super::api::ReplicaList {
            this: Some(rep.id.clone()),
            newest_event,
            leader_epoch,
            replicas,
        })
        .into_response(),
        Err(e) => super::http::error(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
