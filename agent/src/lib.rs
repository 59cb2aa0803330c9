//! The `lanner` agent as a library: the binary (`main.rs`) is a thin shell over these modules, and
//! the integration tests and benchmarks use them directly.

pub mod bench;
pub mod ecs;
pub mod engine;
pub mod fargate;
pub mod metrics;
pub mod outputs;
