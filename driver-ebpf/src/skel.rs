//! The generated skeleton of src/bpf/lanner.bpf.c: its maps, programs, globals and the record
//! types of src/bpf/lanner.h.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::unwrap_used,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    unused_qualifications,
    unsafe_op_in_unsafe_fn
)]

include!(concat!(env!("OUT_DIR"), "/lanner.skel.rs"));
