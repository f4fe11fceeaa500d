//! `mlctl serve`: run the gateway in the foreground until SIGINT/SIGTERM.

use std::io::Write;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::error::Result;
use crate::serving::log::LogPolicy;
use crate::serving::server;
use crate::serving::state::ServeConfig;
use crate::wire::TOKEN_FILE;

pub fn config(args: &ServeArgs, g: &GlobalArgs) -> ServeConfig {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    ServeConfig {
        listen: args.listen.clone(),
        data_dir: super::data_dir(g),
        max_body: args.max_body,
        max_blob: args.max_blob,
        require_token_for_inference: args.require_token_for_inference,
        log_inputs: args.log_inputs,
        log_policy: LogPolicy {
            flush: args.log_flush,
            fsync: args.log_fsync,
        },
        default_upstream_timeout: args.upstream_timeout,
        inference_threads: args.inference_threads.unwrap_or(cores),
        controller_tick: args.controller_tick.max(std::time::Duration::from_millis(50)),
    }
}

pub async fn run(args: ServeArgs, g: GlobalArgs) -> Result<()> {
    let cfg = config(&args, &g);
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
            println!("mlctl: listening on http://{}", gw.addr);
            let _ = std::io::stdout().flush();
        },
        server::shutdown_signal(),
    )
    .await?;
    eprintln!("mlctl: stopped; logs flushed");
    Ok(())
}
