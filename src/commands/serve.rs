//! `mlctl serve`: run the gateway in the foreground until SIGINT/SIGTERM.

use std::io::Write;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::error::{Error, Result};
use crate::serving::listener::ConnLimits;
use crate::serving::log::LogPolicy;
use crate::serving::server;
use crate::serving::state::ServeConfig;
use crate::store::StateUrl;
use crate::wire::TOKEN_FILE;

/// The token `serve` accepts: `--token-file`, else `--token`/`MLCTL_TOKEN`, else `None`
/// (the data dir's token file).
fn token(args: &ServeArgs, g: &GlobalArgs) -> Result<Option<String>> {
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Some(text.lines().next().unwrap_or("").trim().to_string())
        }
        None => {
            if std::env::args().any(|a| a == "--token" || a.starts_with("--token=")) {
                eprintln!(
                    "mlctl: warning: a token on the command line is visible to other users (ps); prefer MLCTL_TOKEN or --token-file"
                );
            }
            g.token.clone()
        }
    };
    match token {
        Some(t) if t.len() < 32 => Err(Error::Usage(format!(
            "the admin token is {} characters; use at least 32 (e.g. openssl rand -hex 32)",
            t.len()
        ))),
        other => Ok(other),
    }
}

pub fn config(args: &ServeArgs, g: &GlobalArgs) -> Result<ServeConfig> {
    for url in &args.notify {
        crate::serving::notify::check_url("--notify", url)?;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    Ok(ServeConfig {
        listen: args.listen.clone(),
        grpc_listen: args.grpc_listen.clone(),
        data_dir: super::data_dir(g),
        token: token(args, g)?,
        body_timeout: args.body_timeout,
        load_timeout: args.load_timeout,
        max_response: args.max_response,
        max_inflight_bytes: args.max_inflight_bytes,
        on_log_failure: args.on_log_failure,
        conn_limits: ConnLimits {
            max_connections: args.max_connections.max(1),
            headroom: 64,
            idle_timeout: args.idle_timeout,
        },
        max_body: args.max_body,
        max_blob: args.max_blob,
        require_token_for_inference: args.require_token_for_inference,
        log_inputs: args.log_inputs,
        log_features: args.log_features,
        feature_store: args.feature_store.clone(),
        feature_timeout: args.feature_timeout,
        log_policy: LogPolicy {
            flush: args.log_flush,
            fsync: args.log_fsync,
        },
        default_upstream_timeout: args.upstream_timeout,
        inference_threads: args.inference_threads.unwrap_or(cores),
        controller_tick: args.controller_tick.max(std::time::Duration::from_millis(50)),
        notify: args.notify.clone(),
        notify_secret_file: args.notify_secret_file.clone(),
        notify_retry_for: args.notify_retry_for,
        replica_id: replica_id(args)?,
        state: args.state.clone(),
        advertise: args.advertise.clone(),
    })
}

/// `--replica-id`, checked; by default `<hostname>-<port>` when the state is shared.
fn replica_id(args: &ServeArgs) -> Result<Option<String>> {
    let id = match (&args.replica_id, &args.state) {
        (Some(id), _) => id.clone(),
        (None, StateUrl::Sqlite) => return Ok(None),
        (None, StateUrl::Postgres(_)) => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "mlctl".into());
            let port = args.listen.rsplit(':').next().unwrap_or("0");
            let port = if port == "0" {
                std::process::id().to_string()
            } else {
                port.to_string()
            };
            format!("{}-{port}", host.trim())
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        }
    };
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        return Err(Error::Usage(format!(
            "--replica-id {id:?}: use 1-64 letters, digits, '.', '_' or '-' (not starting with '.')"
        )));
    }
    if let StateUrl::Postgres(url) = &args.state
        && args.state.redacted() != *url
        && std::env::args().any(|a| a.contains(url.as_str()))
    {
        eprintln!(
            "mlctl: warning: a database password on the command line is visible to other users (ps); prefer MLCTL_STATE"
        );
    }
    Ok(Some(id))
}

pub async fn run(args: ServeArgs, g: GlobalArgs) -> Result<()> {
    let cfg = config(&args, &g)?;
    let data_dir = cfg.data_dir.clone();
    server::serve(
        cfg,
        |gw, created| {
            if created {
                eprintln!(
                    "mlctl: admin token written to {} (mode 0600)",
                    data_dir.join(TOKEN_FILE).display()
                );
            }
            let models = gw.state.routes.load().models.len();
            eprintln!("mlctl: data dir {}, {models} model(s) restored", data_dir.display());
            if let Some(grpc) = gw.grpc_addr {
                println!("mlctl: gRPC listening on {grpc}");
            }
            println!("mlctl: listening on http://{}", gw.addr);
            let _ = std::io::stdout().flush();
        },
        server::shutdown_signal(),
    )
    .await?;
    eprintln!("mlctl: stopped; logs flushed");
    Ok(())
}
