//! `fx-std-guard`: frees a standard descriptor in one of the ways a process can, then copies
//! descriptor 2 with `dup`, which returns 0 (the lowest free descriptor), and once more, which
//! returns 3 or above. `dup` of a process whose standard descriptors are all open never
//! returns one of them; these are the ways it can come to.
//!
//! `fx-std-guard MODE`, where MODE is one of:
//! - `close`: `close(0)`;
//! - `close-range`: `close_range(0, 0, 0)`;
//! - `thread`: a second thread closes 0 and ends; the main thread copies;
//! - `fork`: `close(0)`, then a child copies (and exits with the parent's status);
//! - `fcntl-cloexec`, `ioctl-cloexec`, `dup3-cloexec`: marks 0 close-on-exec (`dup3` by copying
//!   2 onto it with `O_CLOEXEC`), then execs a static
//!   program that copies (and prints nothing);
//! - `setuid`: gives up root (`setuid(65534)`, as root only), then `close(0)`;
//! - `loop N`: N rounds of `close(dup(2))` with every standard descriptor open (results 3).
//!
//! Prints the copies' results on stdout, space-separated (but after an exec); exits 0.

fn copies() {
    let first = sys(libc::SYS_dup, [2, 0, 0]);
    let second = sys(libc::SYS_dup, [2, 0, 0]);
    println!("{first} {second}");
}

/// A static x86_64 program of three syscalls: `dup(2)`, `dup(2)`, `exit(0)`. No loader runs
/// before it (a dynamic program's loader opens and closes its libraries on the freed
/// descriptor, which would free it again through `close`), so what the exec closed is all
/// there is to catch.
fn copier_elf() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let code: &[u8] = &[
        0xbf, 2, 0, 0, 0, 0xb8, 32, 0, 0, 0, 0x0f,
        0x05, // mov edi, 2; mov eax, 32 (dup); syscall
        0xbf, 2, 0, 0, 0, 0xb8, 32, 0, 0, 0, 0x0f, 0x05, // the same again
        0x31, 0xff, 0xb8, 60, 0, 0, 0, 0x0f,
        0x05, // xor edi, edi; mov eax, 60 (exit); syscall
    ];
    let size = HEADERS + code.len() as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers' offset
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    for half in [64u16, 56, 1, 64, 0, 0] {
        // header size, program header size and count, section header size, count, names
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    elf.extend_from_slice(&0u64.to_le_bytes()); // offset
    elf.extend_from_slice(&BASE.to_le_bytes()); // vaddr
    elf.extend_from_slice(&BASE.to_le_bytes()); // paddr
    elf.extend_from_slice(&size.to_le_bytes()); // file size
    elf.extend_from_slice(&size.to_le_bytes()); // memory size
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // alignment
    elf.extend_from_slice(code);
    elf
}

/// Execs [`copier_elf`] from a memfd (the descriptor is above 2: 0 is still open until the
/// exec closes it).
fn exec_copier() -> ! {
    let elf = copier_elf();
    // SAFETY: memfd_create with a NUL-terminated name; write of our own buffer; execveat of
    // our own memfd with a NULL-terminated, empty argv and envp.
    unsafe {
        let fd = libc::memfd_create(c"fx-std-guard-copier".as_ptr(), 0);
        assert!(fd > 2, "memfd_create: {fd}");
        let written = libc::write(fd, elf.as_ptr().cast(), elf.len());
        assert_eq!(written, elf.len() as isize, "write");
        let argv = [c"copier".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    panic!("execveat: {}", std::io::Error::last_os_error());
}

/// A raw syscall with integer arguments on this process's own descriptors.
fn sys(nr: libc::c_long, args: [libc::c_long; 3]) -> libc::c_long {
    // SAFETY: the calls made here (close, close_range, fcntl, ioctl, dup, dup3) take integers
    // only and touch nothing but this process's descriptor table.
    unsafe { libc::syscall(nr, args[0], args[1], args[2]) }
}

fn close(fd: libc::c_long) {
    sys(libc::SYS_close, [fd, 0, 0]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("close");
    match mode {
        "close" => {
            close(0);
            copies();
        }
        "close-range" => {
            sys(libc::SYS_close_range, [0, 0, 0]);
            copies();
        }
        "thread" => {
            std::thread::spawn(|| close(0)).join().expect("thread");
            copies();
        }
        "fork" => {
            close(0);
            // SAFETY: the child only makes syscalls and prints before _exit.
            match unsafe { libc::fork() } {
                0 => {
                    copies();
                    // SAFETY: ending the child without running the parent's exit handlers.
                    unsafe { libc::_exit(0) };
                }
                -1 => panic!("fork failed"),
                child => {
                    let mut status = 0;
                    // SAFETY: waiting for our own child into a local.
                    unsafe { libc::waitpid(child, &mut status, 0) };
                    std::process::exit(libc::WEXITSTATUS(status));
                }
            }
        }
        "fcntl-cloexec" => {
            sys(
                libc::SYS_fcntl,
                [0, libc::F_SETFD.into(), libc::FD_CLOEXEC.into()],
            );
            exec_copier();
        }
        "ioctl-cloexec" => {
            sys(libc::SYS_ioctl, [0, libc::FIOCLEX as libc::c_long, 0]);
            exec_copier();
        }
        "dup3-cloexec" => {
            sys(libc::SYS_dup3, [2, 0, libc::O_CLOEXEC.into()]);
            exec_copier();
        }
        "setuid" => {
            let rc = sys(libc::SYS_setuid, [65534, 0, 0]);
            assert_eq!(rc, 0, "setuid(65534) needs root");
            close(0);
            copies();
        }
        "loop" => {
            let rounds: u64 = args.get(2).and_then(|n| n.parse().ok()).expect("loop N");
            for _ in 0..rounds {
                close(sys(libc::SYS_dup, [2, 0, 0]));
            }
        }
        other => panic!("unknown mode {other}"),
    }
}
