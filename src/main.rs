//! `mlctl`: parse arguments, dispatch, map `Error` to the documented exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mlctl::cli::{
    AbtestCommand, Cli, Command, DriftCommand, FeaturesCommand, GuardsCommand, MonitorCommand, SkewCommand,
};
use mlctl::commands;
use mlctl::error::{Error, Result};
use mlctl::output::{OutputFormat, Report, Stream, render, styled};

fn print<R: Report>(report: &R, format: OutputFormat) -> Result<()> {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`mlctl status | head`) is not an error worth a message.
    let _ = out.write_all(render(report, format).as_bytes());
    Ok(())
}

fn write_raw(bytes: &[u8]) -> Result<()> {
    let _ = std::io::stdout().lock().write_all(bytes);
    Ok(())
}

async fn dispatch(cli: Cli) -> Result<()> {
    let g = cli.global;
    let fmt = g.output;
    match cli.command {
        Command::Serve(a) => commands::serve::run(a, g).await,
        Command::Deploy(a) => {
            let (report, gate) = commands::deploy::run(a, &g).await?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Promote(a) => print(&commands::rollout::promote(a, &g).await?, fmt),
        Command::Pause(a) => print(&commands::rollout::pause(a, &g).await?, fmt),
        Command::Resume(a) => print(&commands::rollout::resume(a, &g).await?, fmt),
        Command::Approve(a) => print(&commands::rollout::approve(a, &g).await?, fmt),
        Command::Rollback(a) => print(&commands::rollout::rollback(a, &g).await?, fmt),
        Command::History(a) => print(&commands::rollout::history(a, &g).await?, fmt),
        Command::Predict(a) => print(&commands::predict::run(a, &g).await?, fmt),
        Command::Loadtest(a) => {
            let (report, gate) = commands::loadtest::run(a, &g).await?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Status(a) if a.watch => loop {
            let report = commands::status::run(&a, &g).await?;
            if styled(Stream::Stdout) {
                print!("\x1b[2J\x1b[H");
            }
            print(&report, fmt)?;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        },
        Command::Status(a) => print(&commands::status::run(&a, &g).await?, fmt),
        Command::Abtest(AbtestCommand::Analyze(a)) => {
            let (report, gate) = commands::abtest::analyze(a)?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Abtest(AbtestCommand::Plan(a)) => print(&commands::abtest::plan_cmd(a)?, fmt),
        Command::Drift(DriftCommand::Baseline(a)) => print(&commands::drift::baseline_cmd(a)?, fmt),
        Command::Drift(DriftCommand::Check(a)) => {
            let (report, gate) = commands::drift::check_cmd(a)?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Guards(GuardsCommand::Backtest(a)) => {
            let (report, gate) = commands::guards::backtest_cmd(&a, &g)?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Features(FeaturesCommand::Load(a)) => print(&commands::features::load(&a, &g).await?, fmt),
        Command::Features(FeaturesCommand::Get(a)) => print(&commands::features::get(&a, &g).await?, fmt),
        Command::Features(FeaturesCommand::Ls) => print(&commands::features::ls(&g)?, fmt),
        Command::Features(FeaturesCommand::Join(a)) => print(&commands::features::join_cmd(&a, &g)?, fmt),
        Command::Skew(SkewCommand::Check(a)) => {
            let (report, gate) = commands::skew::check_cmd(&a)?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Monitor(MonitorCommand::Rules(a)) => write_raw(commands::monitor::rules_yaml(&a)?.as_bytes()),
        Command::Monitor(MonitorCommand::Add(a)) => print(&commands::monitors::add(&a, &g).await?, fmt),
        Command::Monitor(MonitorCommand::Ls) => print(&commands::monitors::ls(&g).await?, fmt),
        Command::Monitor(MonitorCommand::Rm(a)) => print(&commands::monitors::rm(&a, &g).await?, fmt),
        Command::Monitor(MonitorCommand::Status(a)) => print(&commands::monitors::status(&a, &g).await?, fmt),
        Command::Monitor(MonitorCommand::Quality(a)) => {
            let (report, gate) = commands::quality::quality_cmd(&a, &g)?;
            print(&report, fmt)?;
            gate.map_or(Ok(()), Err)
        }
        Command::Monitor(MonitorCommand::Dashboard) => {
            let mut json = serde_json::to_string_pretty(&commands::dashboard::dashboard()).unwrap_or_default();
            json.push('\n');
            write_raw(json.as_bytes())
        }
        Command::Demo(a) => print(&commands::demo::run(a, &g).await?, fmt),
        Command::Completions(a) => write_raw(&commands::completions::completions(a.shell)),
        Command::Man => write_raw(&commands::completions::man().map_err(|e| Error::io("stdout", e))?),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("mlctl={default_level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(styled(Stream::Stderr))
        .try_init();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    let runtime = match rt.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mlctl: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mlctl: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
