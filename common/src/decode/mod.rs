//! Turning raw values into the names people read: flags, enumerations, errno and signal names,
//! file modes, socket addresses. Pure functions, no I/O.

pub mod consts;
pub mod errno;
pub mod flags;
pub mod mode;
pub mod signal;
pub mod sockaddr;
