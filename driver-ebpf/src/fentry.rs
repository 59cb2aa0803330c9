//! The `fentry` attach mode's stubs: one tiny trampoline program per traced syscall function,
//! which tail-calls the body of its kind (lanner.bpf.c, `lanner_fentry_body` and
//! `lanner_fexit_body`).
//!
//! A trampoline program is bound at load to one kernel function, so each traced syscall needs a
//! program of its own; loading the bodies once per syscall would verify them fifty times over
//! (seconds of start-up). A stub is six instructions the verifier checks at once. The stubs are
//! made here, in bytes, because the object file can hold only one program per attach target.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Which side of the call a stub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// fentry: before the syscall's function runs.
    Entry,
    /// fexit: after it returned, with its result.
    Exit,
}

impl Side {
    fn attach_type(self) -> libbpf_sys::bpf_attach_type {
        match self {
            Side::Entry => libbpf_sys::BPF_TRACE_FENTRY,
            Side::Exit => libbpf_sys::BPF_TRACE_FEXIT,
        }
    }
}

/// The x86_64 syscall functions in the kernel's BTF: for each name, its entries (BTF id, id of
/// its prototype), lowest id first. A function may be listed more than once: the kernel's BTF
/// holds two copies of the syscall prototype (6.1 and 6.12 both), and some functions appear
/// once with each.
pub struct KernelBtf {
    functions: std::collections::HashMap<String, Vec<(u32, u32)>>,
}

/// The function the bodies are loaded against (lanner.bpf.c): libbpf takes its lowest id.
const BODY_TARGET: &str = "__x64_sys_close";

impl KernelBtf {
    /// Reads the running kernel's BTF.
    pub fn load() -> Result<KernelBtf, String> {
        // SAFETY: no arguments; returns a new object or an error pointer.
        let btf = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
        // SAFETY: libbpf_get_error takes any pointer libbpf returned.
        if btf.is_null() || unsafe { libbpf_sys::libbpf_get_error(btf.cast()) } != 0 {
            return Err(format!(
                "reading the kernel's BTF: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut functions: std::collections::HashMap<String, Vec<(u32, u32)>> =
            std::collections::HashMap::new();
        // SAFETY: a live BTF object, asked for ids below its count; the pointers it returns
        // live as long as it does, and the object is freed only after the walk.
        unsafe {
            let count = libbpf_sys::btf__type_cnt(btf);
            for id in 1..count {
                let ty = libbpf_sys::btf__type_by_id(btf, id);
                if ty.is_null() || ((*ty).info >> 24) & 0x1f != libbpf_sys::BTF_KIND_FUNC {
                    continue;
                }
                let name = libbpf_sys::btf__name_by_offset(btf, (*ty).name_off);
                if name.is_null() {
                    continue;
                }
                let name = CStr::from_ptr(name).to_bytes();
                if !name.starts_with(b"__x64_sys_") {
                    continue;
                }
                functions
                    .entry(String::from_utf8_lossy(name).into_owned())
                    .or_default()
                    .push((id, (*ty).__bindgen_anon_1.type_));
            }
            libbpf_sys::btf__free(btf);
        }
        Ok(KernelBtf { functions })
    }

    /// The prototype the bodies were loaded with: a stub tail-calls them only if its own
    /// function has the same one (the kernel compares the two).
    pub fn body_prototype(&self) -> Option<u32> {
        self.functions
            .get(BODY_TARGET)
            .and_then(|entries| entries.first())
            .map(|&(_, proto)| proto)
    }

    /// The BTF id of the function that runs x86_64 syscall `name` (`__x64_sys_<name>`, or
    /// `__x64_sys_new<name>` for the calls whose kernel function took that name, such as
    /// `fstat`), in the entry with prototype `proto`. None where there is no such entry: the
    /// wrappers of argument-less syscalls (getpid, setsid) are aliases BTF does not list.
    pub fn syscall_function(&self, name: &str, proto: u32) -> Option<u32> {
        [format!("__x64_sys_{name}"), format!("__x64_sys_new{name}")]
            .iter()
            .filter_map(|function| self.functions.get(function))
            .flatten()
            .find(|&&(_, p)| p == proto)
            .map(|&(id, _)| id)
    }
}

/// An attached stub: its program and the link that holds it on its function. Dropping it
/// detaches it.
#[derive(Debug)]
pub struct Stub {
    pub program: OwnedFd,
    /// Held, never read: closing it detaches the stub.
    _link: OwnedFd,
}

/// One instruction, by its fields.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> libbpf_sys::bpf_insn {
    let mut insn = libbpf_sys::bpf_insn {
        code,
        off,
        imm,
        ..Default::default()
    };
    insn.set_dst_reg(dst);
    insn.set_src_reg(src);
    insn
}

/// The stub: `bpf_tail_call(ctx, bodies, 0); return 0;`. The context (r1) is the
/// trampoline's, passed on unchanged.
fn stub_instructions(bodies_map: i32) -> [libbpf_sys::bpf_insn; 6] {
    const LD_IMM64: u8 = (libbpf_sys::BPF_LD | libbpf_sys::BPF_DW | libbpf_sys::BPF_IMM) as u8;
    const MOV64_IMM: u8 = (libbpf_sys::BPF_ALU64 | libbpf_sys::BPF_MOV | libbpf_sys::BPF_K) as u8;
    const CALL: u8 = (libbpf_sys::BPF_JMP | libbpf_sys::BPF_CALL) as u8;
    const EXIT: u8 = (libbpf_sys::BPF_JMP | libbpf_sys::BPF_EXIT) as u8;
    let map_fd = libbpf_sys::BPF_PSEUDO_MAP_FD as u8;
    [
        // r2 = the program array (a 64-bit immediate: two slots).
        insn(LD_IMM64, 2, map_fd, 0, bodies_map),
        insn(0, 0, 0, 0, 0),
        // r3 = 0: the array's one entry.
        insn(MOV64_IMM, 3, 0, 0, 0),
        insn(CALL, 0, 0, 0, libbpf_sys::BPF_FUNC_tail_call as i32),
        // Reached only if the array were empty.
        insn(MOV64_IMM, 0, 0, 0, 0),
        insn(EXIT, 0, 0, 0, 0),
    ]
}

/// Loads a stub for the function with BTF id `function` on `side`, tail-calling through the
/// program array `bodies`, and attaches it.
pub fn attach_stub(function: u32, side: Side, bodies: &impl AsRawFd) -> Result<Stub, String> {
    let insns = stub_instructions(bodies.as_raw_fd());
    let mut log = vec![0u8; 4096];
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: side.attach_type(),
        attach_btf_id: function,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr().cast(),
        ..Default::default()
    };
    let name = c"lanner_stub";
    let license = c"Dual BSD/GPL";
    // SAFETY: valid instructions, NUL-terminated strings, and options whose log buffer lives
    // through the call.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            name.as_ptr(),
            license.as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    };
    if fd < 0 {
        let log = CStr::from_bytes_until_nul(&log)
            .map(|s| s.to_string_lossy().trim().to_string())
            .unwrap_or_default();
        return Err(format!(
            "loading a stub: {}{}",
            std::io::Error::from_raw_os_error(-fd),
            if log.is_empty() {
                String::new()
            } else {
                format!(" (verifier: {log})")
            }
        ));
    }
    // SAFETY: a descriptor the kernel just returned, owned by nothing else.
    let program = unsafe { OwnedFd::from_raw_fd(fd) };
    // A tracing program attaches through raw_tracepoint_open without a name (Linux 5.5+).
    // SAFETY: a NULL name and a program descriptor.
    let link =
        unsafe { libbpf_sys::bpf_raw_tracepoint_open(std::ptr::null(), program.as_raw_fd()) };
    if link < 0 {
        return Err(format!(
            "attaching a stub: {}",
            std::io::Error::from_raw_os_error(-link)
        ));
    }
    // SAFETY: as above.
    let link = unsafe { OwnedFd::from_raw_fd(link) };
    Ok(Stub {
        program,
        _link: link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stub_loads_the_array_then_tail_calls_entry_zero() {
        let insns = stub_instructions(42);
        assert_eq!(insns[0].code, 0x18, "ld_imm64");
        assert_eq!(insns[0].dst_reg(), 2);
        assert_eq!(insns[0].src_reg(), libbpf_sys::BPF_PSEUDO_MAP_FD as u8);
        assert_eq!(insns[0].imm, 42);
        assert_eq!(
            (insns[1].code, insns[1].imm),
            (0, 0),
            "the immediate's upper half"
        );
        assert_eq!(
            (insns[2].code, insns[2].dst_reg(), insns[2].imm),
            (0xb7, 3, 0)
        );
        assert_eq!(
            (insns[3].code, insns[3].imm),
            (0x85, 12),
            "call bpf_tail_call"
        );
        assert_eq!(
            (insns[4].code, insns[4].dst_reg(), insns[4].imm),
            (0xb7, 0, 0)
        );
        assert_eq!(insns[5].code, 0x95, "exit");
    }
}
