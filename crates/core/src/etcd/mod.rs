//! Talking to etcd: TLS material, one client per member, where the members are
//! found (given endpoints, or through the cluster: `discovery`), the questions
//! asked of each member, and the poller that keeps asking them.

pub mod connect;
pub mod discovery;
pub mod poller;
pub mod probe;
pub mod source;
pub mod tls;

pub use connect::{Connector, EtcdError};
