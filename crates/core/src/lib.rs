//! etcd-console's engine room: the members and the OpenShift API as the
//! console sees them, snapshot files, and the wizards, each a pure engine and
//! the one executor that touches the outside world. No terminal, no flags and
//! no simulator here: the console builds the plain [`settings`] this crate
//! takes, and host steps go through the [`hosts::HostShell`] it is given.

pub mod backup;
pub mod cluster;
pub mod etcd;
pub mod hosts;
pub mod journal;
pub mod openshift;
pub mod paths;
#[cfg(test)]
pub(crate) mod referee;
pub mod settings;
pub mod space;
pub mod timeline;
pub mod units;
pub mod wizard;

#[cfg(test)]
mod fuzz;
