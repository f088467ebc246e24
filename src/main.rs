//! Thin: parse the flags, start logging, build core's settings, run the
//! subcommand. The one place that wires the lab (`etcd-console lab`, and the
//! lab's hosts for `--lab-dir` / ETCD_CONSOLE_LAB_DIR).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{parser::ValueSource, CommandFactory, FromArgMatches};
use etcd_console::cli::{Cli, Command, ConsoleArgs, KubeArgs, LabArgs, LabCommand};
use etcd_console::{commands, logging, tui};
use etcd_console_core::hosts::HostShell;
use etcd_console_lab::serve::{LabSettings, Session};
use etcd_console_lab::shell::LabShell;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Completions and the man page print before logging starts: they touch no file.
    match cli.command {
        Some(Command::Completions(ref args)) => return exit_code(commands::completions::completions(args.shell)),
        Some(Command::Man) => return exit_code(commands::completions::man()),
        _ => {}
    }
    // A Defragment call gets 30s unless --command-timeout (or its variable) says otherwise.
    cli.console.defrag_timeout = given(&matches, "command_timeout").then_some(cli.connection.command_timeout);
    cli.console.quota_given = given(&matches, "quota_bytes");
    // The console's restore wizard reaches the lab's hosts when a lab's lab.env says where they are.
    cli.console.host_shell = std::env::var_os("ETCD_CONSOLE_LAB_DIR").map(|dir| lab_shell(PathBuf::from(dir)));
    let log = logging::init(cli.console.log_dir.clone());
    let log_problem = log.err();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            commands::output::err(format_args!("etcd-console: cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let (connection, kube) = (cli.connection.settings(), cli.kube.settings());
    let code = runtime.block_on(async {
        match cli.command {
            Some(Command::Status(args)) => commands::status::run(&connection, &cli.console, &kube, args.output).await,
            Some(Command::Defrag(ref args)) => commands::defrag::run(&connection, &cli.console, &kube, args).await,
            Some(Command::Backup(ref args)) => {
                let shell = args.lab_dir.clone().map(lab_shell);
                commands::backup::run(&connection, &cli.console, &kube, args, shell).await
            }
            Some(Command::Encryption(ref args)) => {
                commands::encryption::run(&connection, &cli.console, &kube, &args.command).await
            }
            Some(Command::Snapshot(ref args)) => commands::snapshot::run(&args.command),
            Some(Command::Space(ref args)) => commands::space::run(&connection, &cli.console, &kube, args).await,
            Some(Command::Restore(ref args)) => {
                let shell = args.target().lab_dir.clone().map(lab_shell);
                commands::restore::run(&connection, &cli.console, &kube, args, shell).await
            }
            Some(Command::Member(ref args)) => {
                let shell = args.target().lab_dir.clone().map(lab_shell);
                commands::member::run(&connection, &cli.console, &kube, args, shell).await
            }
            Some(Command::Watch(args)) => commands::watch::run(&connection, &cli.console, &kube, args.output).await,
            Some(Command::Csr(args)) => commands::csr::run(&kube, cli.console.read_only, &args.command).await,
            Some(Command::Lab(args)) => lab(args, cli.console, cli.kube, log_problem).await,
            Some(Command::Completions(_) | Command::Man) => 0,
            None => tui::run(connection, cli.console, Some(kube), None, log_problem).await,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

fn lab_shell(dir: PathBuf) -> Arc<dyn HostShell> {
    Arc::new(LabShell::new(dir))
}

/// `etcd-console lab [serve|host|lose]`.
async fn lab(args: LabArgs, console: ConsoleArgs, kube: KubeArgs, log_problem: Option<String>) -> i32 {
    let etcd_bin = match (&args.etcd_bin, &args.etcd_version) {
        (Some(path), _) => path.clone(),
        (None, Some(version)) => {
            match version.parse().map_err(etcd_console_lab::LabError::Io).and_then(etcd_console_lab::installed_etcd) {
                Ok(path) => path,
                Err(e) => {
                    commands::output::err(format_args!("etcd-console: {e}"));
                    return 2;
                }
            }
        }
        (None, None) => PathBuf::from("/usr/bin/etcd"),
    };
    let settings = LabSettings {
        members: args.members,
        etcd_bin,
        scenario: args.scenario.clone(),
        hosted: args.hosted,
        speed: args.speed,
        no_api: args.no_api,
        isolated_pods: args.isolated_pods,
        quota_bytes: console.quota_bytes,
    };
    match args.command {
        Some(LabCommand::Serve { ref dir }) => etcd_console_lab::serve::run(&settings, dir.clone()).await,
        Some(LabCommand::Host { ref dir, ref node, ref command }) => {
            etcd_console_lab::hosts::run_cli(dir, node, command)
        }
        Some(LabCommand::Lose { ref dir, ref node }) => match etcd_console_lab::hosts::lose_cli(dir, node) {
            Ok(said) => {
                let _ = writeln!(std::io::stdout(), "{said}");
                0
            }
            Err(e) => {
                commands::output::err(format_args!("etcd-console lab lose: {e}"));
                2
            }
        },
        Some(LabCommand::Fault { ref dir, ref fault, ref node, off }) => {
            use etcd_console_lab::hosts::faults::{self, Fault};
            let Some(fault) = Fault::parse(fault) else {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                commands::output::err(format_args!(
                    "etcd-console lab fault: no fault {fault} (the faults: {})",
                    names.join(", ")
                ));
                return 2;
            };
            match faults::set(dir, fault, node.as_deref(), !off) {
                Ok(()) => {
                    let _ = writeln!(
                        std::io::stdout(),
                        "{} {}{}",
                        fault.name(),
                        if off { "off" } else { "on" },
                        node.as_ref().filter(|_| fault.per_host()).map(|n| format!(" on {n}")).unwrap_or_default()
                    );
                    0
                }
                Err(e) => {
                    commands::output::err(format_args!("etcd-console lab fault: {e}"));
                    2
                }
            }
        }
        None => {
            etcd_console_lab::serve::run_with_console(&settings, |session: Session| async move {
                // The console watches the lab's own API, never one the environment names.
                let kube = session
                    .kubeconfig
                    .map(|path| KubeArgs { kubeconfig: Some(path), context: None, ..kube }.settings());
                let console = ConsoleArgs { host_shell: Some(lab_shell(session.dir)), ..console };
                tui::run(session.connection, console, kube, Some(session.context), log_problem).await
            })
            .await
        }
    }
}

/// Whether a flag came from the command line or its environment variable (not its default).
fn given(matches: &clap::ArgMatches, id: &str) -> bool {
    let here =
        |m: &clap::ArgMatches| matches!(m.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
    here(matches) || matches.subcommand().is_some_and(|(_, sub)| here(sub))
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
