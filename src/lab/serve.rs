//! `etcd-console lab` and `lab serve`: start the lab, then run the console on
//! it or wait for a signal; stop the members either way.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use super::{Lab, LabOptions};
use crate::cli::{ConsoleArgs, LabArgs};

fn options(args: &LabArgs, console: &ConsoleArgs, dir: Option<PathBuf>) -> LabOptions {
    LabOptions { members: args.members, quota_bytes: console.quota_bytes, etcd_bin: args.etcd_bin.clone(), dir }
}

async fn start(options: LabOptions) -> Result<Lab, i32> {
    eprintln!("etcd-console: starting {} etcd members from {} ...", options.members, options.etcd_bin.display());
    match Lab::start(options).await {
        Ok(lab) => {
            tracing::info!(dir = %lab.dir.display(), members = lab.members.len(), "lab started");
            Ok(lab)
        }
        Err(e) => {
            eprintln!("etcd-console: {e}");
            Err(2)
        }
    }
}

async fn stop(mut lab: Lab) {
    eprintln!("etcd-console: stopping the lab's {} members ...", lab.members.len());
    let _ = tokio::task::spawn_blocking(move || {
        lab.stop(Duration::from_secs(5));
        tracing::info!("lab stopped");
    })
    .await;
}

pub async fn run(args: &LabArgs, console: &ConsoleArgs, dir: PathBuf) -> i32 {
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        eprintln!("etcd-console: cannot listen for SIGINT/SIGTERM");
        return 2;
    };
    let lab = match start(options(args, console, Some(dir))).await {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let env = match lab.write_env_file() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("etcd-console: {e}");
            stop(lab).await;
            return 2;
        }
    };
    println!("lab ready: {} members", lab.members.len());
    for member in &lab.members {
        println!("  {}  {}  (log {})", member.name, member.client_url, member.log.display());
    }
    println!("source {} to use etcdctl or etcd-console; stop with Ctrl-C", env.display());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    stop(lab).await;
    0
}

pub async fn run_with_console(args: &LabArgs, console: &ConsoleArgs, log_problem: Option<String>) -> i32 {
    let lab = match start(options(args, console, None)).await {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let context = format!("lab, {} members", lab.members.len());
    let code = crate::tui::run(lab.connection(), console.clone(), Some(context), log_problem).await;
    stop(lab).await;
    code
}
