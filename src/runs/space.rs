//! The space view's reading from the console: what `etcd-console space` does,
//! on a task, its progress on the runs' channel.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RunSettings;

/// The space view's reading: the member reached afresh, then the walk (or the newest verified
/// backup counted); the reading compared with the cluster's last one and kept.
pub(super) async fn run(
    settings: RunSettings,
    from_backup: bool,
    cancel: CancellationToken,
    progress: mpsc::UnboundedSender<crate::app::space::SpaceProgress>,
) {
    use crate::app::space::SpaceProgress;
    use etcd_console_core::space::{history, live};
    let options = crate::commands::space::options(&settings.connection, &settings.console, None);
    let reached = tokio::select! {
        reached = live::reach(&settings.source, None) => reached,
        () = cancel.cancelled() => Err("stopped by the user".into()),
    };
    let target = match reached {
        Ok(target) => target,
        Err(e) => {
            let _ = progress.send(SpaceProgress::Failed(e));
            return;
        }
    };
    if from_backup {
        let Some(dir) = settings.backup_dir.clone() else {
            let _ = progress.send(SpaceProgress::Failed("no backup directory: give --backup-dir".into()));
            return;
        };
        let id = target.cluster_id;
        let counted = tokio::task::spawn_blocking(move || etcd_console_core::space::from_latest_backup(&dir, id)).await;
        let _ = progress.send(match counted {
            Ok(Ok(reading)) => SpaceProgress::Done(Box::new(reading)),
            Ok(Err(e)) => SpaceProgress::Failed(e),
            Err(e) => SpaceProgress::Failed(format!("the analysis stopped: {e}")),
        });
        return;
    }
    tracing::info!(target: "audit", action = "space", member = ?target.source, max_qps = options.max_qps, "live space reading from the console");
    let so_far = progress.clone();
    let mut reading = live::read(&target, &options, &cancel, |r| {
        let _ = so_far.send(SpaceProgress::SoFar(Box::new(r)));
    })
    .await;
    if let Some(dir) = settings.console.space_dir.clone().or_else(etcd_console_core::paths::space_dir) {
        if let Err(e) = history::compare_and_keep(&dir, &mut reading) {
            tracing::warn!(error = %e, "the space reading is not kept");
        }
    }
    let _ = progress.send(SpaceProgress::Done(Box::new(reading)));
}
