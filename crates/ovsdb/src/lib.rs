//! An async OVSDB client: RFC 7047 (`list_dbs`, `get_schema`, `transact`, `monitor`,
//! `echo`) plus the `monitor_cond`/`update2` extensions OVN relies on, over unix and TCP
//! sockets, and a [`Session`] that keeps a replica of some tables current across
//! reconnections. See the README for an overview.

mod cluster;
pub mod columns;
mod connection;
mod endpoint;
mod error;
mod framing;
mod monitor;
mod op;
mod replica;
mod schema;
mod session;
#[cfg(feature = "test-util")]
pub mod testing;
mod value;

pub use connection::{Connection, DEFAULT_CONNECT_TIMEOUT, Update, UpdateReceiver};
pub use endpoint::{Endpoint, Remote};
pub use error::{Error, Result};
pub use monitor::{MonitorRequest, RowUpdate, TableUpdates};
pub use op::{Condition, Function, Mutation, Mutator, Op, OpResult, parse_transact_result};
pub use replica::Replica;
pub use schema::{AtomicType, BaseType, ColumnSchema, ColumnType, RefType, Schema, TableSchema};
pub use session::{Session, SessionOptions, TableColumns};
pub use uuid::Uuid;
pub use value::{Atom, Row, Value};
