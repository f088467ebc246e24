//! `etcd-console lab` and `lab serve`: start the lab, then run the console on
//! it or wait for a signal; stop the members either way.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use super::scenario::Scenario;
use super::{Lab, LabOptions};
use crate::cli::{ConsoleArgs, KubeArgs, LabArgs};

/// The lab's options from the flags; a bad scenario is a clear error.
fn options(args: &LabArgs, console: &ConsoleArgs, dir: Option<PathBuf>) -> Result<LabOptions, i32> {
    let mut scenario = Scenario::load(&args.scenario).map_err(|e| {
        eprintln!("etcd-console: {e}");
        2
    })?;
    scenario.hosted |= args.hosted;
    let quota_bytes = match scenario.quota_bytes() {
        Ok(quota) => quota.unwrap_or(console.quota_bytes),
        Err(e) => {
            eprintln!("etcd-console: {e}");
            return Err(2);
        }
    };
    Ok(LabOptions {
        members: args.members,
        quota_bytes,
        etcd_bin: args.etcd_bin.clone(),
        dir,
        scenario,
        api: !args.no_api,
        speed: args.speed,
        isolated_pods: args.isolated_pods,
    })
}

async fn start(options: LabOptions) -> Result<Lab, i32> {
    eprintln!(
        "etcd-console: starting {} etcd members from {} (scenario {}{}) ...",
        options.members,
        options.etcd_bin.display(),
        options.scenario.name,
        if options.scenario.hosted { ", hosted" } else { "" }
    );
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
    let options = match options(args, console, Some(dir)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let lab = match start(options).await {
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
    println!("lab ready: {} members, scenario {}", lab.members.len(), lab.scenario.name);
    for member in &lab.members {
        println!("  {}  {}  (log {})", member.name, member.client_url, member.log.display());
    }
    if let (Some(api), Some(kubeconfig)) = (&lab.api, &lab.kubeconfig) {
        println!("  OpenShift API  {}  (kubeconfig {})", api.url, kubeconfig.display());
    }
    println!("source {} to use etcdctl, kubectl or etcd-console; stop with Ctrl-C", env.display());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    stop(lab).await;
    0
}

pub async fn run_with_console(
    args: &LabArgs,
    console: &ConsoleArgs,
    kube: &KubeArgs,
    log_problem: Option<String>,
) -> i32 {
    let options = match options(args, console, None) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let lab = match start(options).await {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let context = format!("lab, {} members, {}", lab.members.len(), lab.scenario.name);
    // The console watches the lab's own API, never one the environment names.
    let kube = lab.kubeconfig.clone().map(|path| KubeArgs { kubeconfig: Some(path), context: None, ..kube.clone() });
    let mut console = console.clone();
    console.lab_dir = Some(lab.dir.clone());
    let code = crate::tui::run(lab.connection(), console, kube, Some(context), log_problem).await;
    stop(lab).await;
    code
}
