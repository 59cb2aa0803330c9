//! lanner's common ground: the event model, syscall tables, the argument-spec table, decoding,
//! [`SyscallSet`], and the [`Driver`] trait. Drivers depend on this crate only.

pub mod decode;
pub mod driver;
pub mod event;
pub mod json;
pub mod paths;
pub mod priority;
pub mod replay;
pub mod set;
pub mod spec;
pub mod syscalls;
pub mod time;

pub use driver::{
    Driver, DriverError, DriverStats, Next, ProbeReport, ResultFilter, Started, Target,
};
pub use event::{Event, EventKind};
pub use paths::{OpenCall, OpenFilter, PathPattern, PathRule};
pub use set::SyscallSet;
pub use syscalls::{Abi, SyscallId};
