use std::io::Write;
use std::process::ExitCode;

use clap::{parser::ValueSource, CommandFactory, FromArgMatches};
use etcd_console::cli::{Cli, Command, LabCommand};
use etcd_console::{
    backup_command, csr_command, defrag_command, encryption_command, lab, logging, restore_command, snapshot_command,
    status, tui,
};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // A Defragment call gets 30s unless --command-timeout (or its variable) says otherwise.
    cli.console.defrag_timeout = given(&matches, "command_timeout").then_some(cli.connection.command_timeout);
    cli.console.quota_given = given(&matches, "quota_bytes");
    let log = logging::init(cli.console.log_dir.clone());
    let log_problem = log.as_ref().err().cloned();
    let _guard = log.ok().map(|(guard, _)| guard);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("etcd-console: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Some(Command::Status(args)) => status::run(&cli.connection, &cli.console, &cli.kube, args.output).await,
            Some(Command::Defrag(ref args)) => {
                defrag_command::run(&cli.connection, &cli.console, &cli.kube, args).await
            }
            Some(Command::Backup(ref args)) => {
                backup_command::run(&cli.connection, &cli.console, &cli.kube, args).await
            }
            Some(Command::Encryption(ref args)) => {
                encryption_command::run(&cli.connection, &cli.console, &cli.kube, &args.command).await
            }
            Some(Command::Snapshot(ref args)) => snapshot_command::run(&args.command),
            Some(Command::Restore(ref args)) => {
                restore_command::run(&cli.connection, &cli.console, &cli.kube, args).await
            }
            Some(Command::Csr(args)) => csr_command::run(&cli.kube, cli.console.read_only, &args.command).await,
            Some(Command::Lab(args)) => match args.command {
                Some(LabCommand::Serve { ref dir }) => lab::serve::run(&args, &cli.console, dir.clone()).await,
                Some(LabCommand::Host { ref dir, ref node, ref command }) => lab::hosts::run_cli(dir, node, command),
                Some(LabCommand::Lose { ref dir, ref node }) => match lab::hosts::lose_cli(dir, node) {
                    Ok(said) => {
                        let _ = writeln!(std::io::stdout(), "{said}");
                        0
                    }
                    Err(e) => {
                        eprintln!("etcd-console lab lose: {e}");
                        2
                    }
                },
                None => lab::serve::run_with_console(&args, &cli.console, &cli.kube, log_problem).await,
            },
            None => {
                tui::run(cli.connection.clone(), cli.console.clone(), Some(cli.kube.clone()), None, log_problem).await
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

/// Whether a flag came from the command line or its environment variable (not its default).
fn given(matches: &clap::ArgMatches, id: &str) -> bool {
    let here =
        |m: &clap::ArgMatches| matches!(m.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
    here(matches) || matches.subcommand().is_some_and(|(_, sub)| here(sub))
}
