//! etcd-console: a live console for etcd on OpenShift control planes.

pub mod app;
pub mod backup;
pub mod backup_command;
pub mod cli;
pub mod cluster;
pub mod csr_command;
pub mod defrag_command;
pub mod encryption_command;
pub mod etcd;
pub mod journal;
pub mod lab;
pub mod logging;
pub mod openshift;
pub mod restore_command;
pub mod snapshot_command;
pub mod status;
pub mod tui;
pub mod ui;
pub mod units;
pub mod wizard;
