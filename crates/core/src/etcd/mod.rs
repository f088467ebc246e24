//! Talking to etcd: TLS material, one client per member, the questions asked of
//! each member, and the poller that keeps asking them.

pub mod connect;
pub mod poller;
pub mod probe;
pub mod source;
pub mod tls;

pub use connect::{Connector, EtcdError};
