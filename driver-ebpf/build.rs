//! Compiles the kernel-side programs (src/bpf/*.bpf.c) with clang and generates their Rust
//! skeleton (maps, programs, and the shared record types of src/bpf/lanner.h).

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SOURCE: &str = "src/bpf/lanner.bpf.c";

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // libbpf's own headers (bpf_helpers.h, ...), as built by libbpf-sys.
    let bpf_include = env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include dir");
    // Debian's clang is versioned; LANNER_CLANG picks another.
    let clang = env::var("LANNER_CLANG").unwrap_or_else(|_| "clang-19".to_owned());
    println!("cargo:rerun-if-env-changed=LANNER_CLANG");
    println!("cargo:rerun-if-changed=src/bpf");
    let result = SkeletonBuilder::new()
        .source(SOURCE)
        .clang(&clang)
        .clang_args([
            "-O2".to_owned(),
            "-g".to_owned(),
            "-D__TARGET_ARCH_x86".to_owned(),
            // asm/types.h and friends, without a vmlinux.h.
            "-I/usr/include/x86_64-linux-gnu".to_owned(),
            format!("-I{bpf_include}"),
            "-Wall".to_owned(),
        ])
        .build_and_generate(out_dir.join("lanner.skel.rs"));
    if let Err(err) = result {
        // The whole chain, so that a missing clang or a compile error is readable.
        panic!(
            "building {SOURCE} with {clang} failed: {err:#}\n\
             (clang-19 and libelf-dev come from `cargo xtask install-deps`)"
        );
    }
}
