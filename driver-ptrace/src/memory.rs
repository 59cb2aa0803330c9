//! Reading a stopped tracee's memory: strings, fixed-size objects and pointer arrays.
//!
//! `process_vm_readv` reads many bytes per syscall; reads are split at page boundaries so that a
//! string ending just before an unmapped page is still read whole (the kernel stops a vectored
//! read at the first faulting iovec, and we learn exactly how far it got). Where
//! `process_vm_readv` is refused (some container seccomp profiles), `PTRACE_PEEKDATA` does the
//! same job a word at a time.
//!
//! A read that fails yields [`Captured::Unreadable`] with the address and errno: never silence,
//! never a guess.

use std::sync::atomic::{AtomicBool, Ordering};

use lanner_common::event::Captured;

/// Longest path or string read, in bytes (`PATH_MAX`).
pub const MAX_STRING: usize = 4096;
/// Most argv entries read.
pub const MAX_ARGV: usize = 1024;
/// Most argv bytes read in total.
pub const MAX_ARGV_BYTES: usize = 128 * 1024;

const PAGE: u64 = 4096;

/// Set once `process_vm_readv` is found unusable, so that later reads go straight to PEEKDATA.
static VM_READV_REFUSED: AtomicBool = AtomicBool::new(false);

/// Reads up to `buf.len()` bytes at `addr`; returns how many were read before a fault.
/// `Err(errno)` when not even the first byte could be read.
fn read_some(tid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, i32> {
    if buf.is_empty() {
        return Ok(0);
    }
    if !VM_READV_REFUSED.load(Ordering::Relaxed) {
        match read_vm(tid, addr, buf) {
            Ok(n) => return Ok(n),
            Err(libc::ENOSYS) | Err(libc::EPERM) => {
                tracing::debug!(
                    tid,
                    "process_vm_readv refused; reading with PTRACE_PEEKDATA"
                );
                VM_READV_REFUSED.store(true, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    read_peek(tid, addr, buf)
}

fn read_vm(tid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, i32> {
    // One remote iovec per page, so a fault in a later page still returns the earlier ones.
    let mut remote: [libc::iovec; 4] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 4];
    let mut count = 0;
    let mut at = addr;
    let end = addr.saturating_add(buf.len() as u64);
    while at < end && count < remote.len() {
        let page_end = (at / PAGE + 1).saturating_mul(PAGE).min(end);
        remote[count] = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: (page_end - at) as usize,
        };
        count += 1;
        at = page_end;
    }
    let wanted: usize = remote[..count].iter().map(|iov| iov.iov_len).sum();
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: wanted,
    };
    // SAFETY: `local` covers `wanted <= buf.len()` bytes of `buf`, which we own; the remote
    // iovecs only name addresses in the tracee, which the kernel checks.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, remote.as_ptr(), count as _, 0) };
    if n < 0 {
        Err(last_errno())
    } else if n == 0 {
        Err(libc::EFAULT)
    } else {
        Ok(n as usize)
    }
}

fn read_peek(tid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, i32> {
    let word = std::mem::size_of::<libc::c_long>() as u64;
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr + done as u64;
        let aligned = at & !(word - 1);
        clear_errno();
        // SAFETY: PEEKDATA reads a word from the tracee; no local memory is passed.
        let value = unsafe {
            libc::ptrace(
                libc::PTRACE_PEEKDATA,
                tid,
                aligned as *mut libc::c_void,
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        if value == -1 {
            let errno = last_errno();
            if errno != 0 {
                return if done == 0 { Err(errno) } else { Ok(done) };
            }
        }
        let bytes = value.to_ne_bytes();
        let skip = (at - aligned) as usize;
        let take = (bytes.len() - skip).min(buf.len() - done);
        buf[done..done + take].copy_from_slice(&bytes[skip..skip + take]);
        done += take;
    }
    Ok(done)
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn clear_errno() {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = 0 };
}

/// Reads a NUL-terminated string of at most `max` bytes.
pub fn read_string(tid: i32, addr: u64, max: usize) -> Captured {
    if addr == 0 {
        return Captured::Null;
    }
    let mut out = Vec::new();
    let mut chunk = [0u8; PAGE as usize];
    let mut at = addr;
    while out.len() < max {
        // Never ask past the current page: the next one may be unmapped although the string
        // ends in this one.
        let to_page_end = (PAGE - at % PAGE) as usize;
        let want = to_page_end.min(max - out.len()).min(chunk.len());
        match read_some(tid, at, &mut chunk[..want]) {
            Ok(n) => {
                if let Some(nul) = memchr_nul(&chunk[..n]) {
                    out.extend_from_slice(&chunk[..nul]);
                    return Captured::Bytes(out);
                }
                out.extend_from_slice(&chunk[..n]);
                at += n as u64;
                if n < want {
                    // Faulted mid-page: the string runs into unreadable memory.
                    return unreadable_tail(addr, out, libc::EFAULT);
                }
            }
            Err(errno) => return unreadable_tail(addr, out, errno),
        }
    }
    Captured::Truncated(out)
}

/// A string that ran into unreadable memory: what was read is kept only if it is something;
/// otherwise the whole argument is unreadable.
fn unreadable_tail(addr: u64, read: Vec<u8>, errno: i32) -> Captured {
    if read.is_empty() {
        Captured::Unreadable { addr, errno }
    } else {
        Captured::Truncated(read)
    }
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// Reads exactly `len` bytes (a sockaddr, a pair of fds).
pub fn read_exact(tid: i32, addr: u64, len: usize) -> Captured {
    if addr == 0 {
        return Captured::Null;
    }
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match read_some(tid, addr + done as u64, &mut buf[done..]) {
            Ok(n) => done += n,
            Err(errno) => return Captured::Unreadable { addr, errno },
        }
    }
    Captured::Bytes(buf)
}

/// Reads a little-endian word of `width` bytes (4 or 8).
pub fn read_word(tid: i32, addr: u64, width: usize) -> Result<u64, i32> {
    let mut buf = [0u8; 8];
    let mut done = 0;
    while done < width {
        done += read_some(tid, addr + done as u64, &mut buf[done..width])?;
    }
    Ok(u64::from_le_bytes(buf))
}

/// Reads a NULL-terminated array of string pointers (`char *const argv[]`), with pointers of
/// `width` bytes (8 for x86_64, 4 for i386).
pub fn read_argv(tid: i32, addr: u64, width: usize) -> Captured {
    if addr == 0 {
        return Captured::Null;
    }
    let mut list = Vec::new();
    let mut total = 0usize;
    for index in 0..MAX_ARGV {
        let slot = addr + (index * width) as u64;
        let ptr = match read_word(tid, slot, width) {
            Ok(ptr) => ptr,
            Err(errno) if index == 0 => return Captured::Unreadable { addr, errno },
            Err(_) => break,
        };
        if ptr == 0 {
            break;
        }
        let item = match read_string(tid, ptr, MAX_STRING.min(MAX_ARGV_BYTES - total)) {
            Captured::Bytes(bytes) | Captured::Truncated(bytes) => bytes,
            _ => b"<unreadable>".to_vec(),
        };
        total += item.len() + 1;
        list.push(item);
        if total >= MAX_ARGV_BYTES {
            break;
        }
    }
    Captured::List(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reads work on any process we may ptrace-read, ourselves included, which lets these
    // tests exercise the real syscalls without a tracee.
    fn me() -> i32 {
        // SAFETY: getpid takes nothing.
        unsafe { libc::getpid() }
    }

    #[test]
    fn reads_strings_and_marks_bad_pointers() {
        let s = b"/etc/hostname\0";
        assert_eq!(
            read_string(me(), s.as_ptr() as u64, MAX_STRING),
            Captured::Bytes(b"/etc/hostname".to_vec())
        );
        assert_eq!(read_string(me(), 0, MAX_STRING), Captured::Null);
        assert_eq!(
            read_string(me(), 8, MAX_STRING),
            Captured::Unreadable {
                addr: 8,
                errno: libc::EFAULT
            }
        );
        assert_eq!(
            read_string(me(), s.as_ptr() as u64, 4),
            Captured::Truncated(b"/etc".to_vec())
        );
    }

    #[test]
    fn string_ending_at_a_page_boundary_before_unmapped_memory() {
        // Map two pages, unmap the second, put a string flush against the end of the first.
        // SAFETY: anonymous private mapping, unmapped below; we only touch the first page.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            assert_eq!(libc::munmap(base.cast::<u8>().add(4096).cast(), 4096), 0);
            let text = b"abc\0";
            let at = base.cast::<u8>().add(4096 - text.len());
            std::ptr::copy_nonoverlapping(text.as_ptr(), at, text.len());
            assert_eq!(
                read_string(me(), at as u64, MAX_STRING),
                Captured::Bytes(b"abc".to_vec())
            );
            // Without the NUL the string runs into the hole: what was read is kept, marked cut.
            *at.add(3) = b'd';
            assert_eq!(
                read_string(me(), at as u64, MAX_STRING),
                Captured::Truncated(b"abcd".to_vec())
            );
            libc::munmap(base, 4096);
        }
    }

    #[test]
    fn reads_argv_arrays() {
        let a = b"ls\0";
        let b = b"-l\0";
        let argv: [u64; 3] = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
        assert_eq!(
            read_argv(me(), argv.as_ptr() as u64, 8),
            Captured::List(vec![b"ls".to_vec(), b"-l".to_vec()])
        );
    }

    #[test]
    fn peekdata_path_matches_vm_readv() {
        let text = b"0123456789abcdef-unaligned\0";
        let mut via_vm = [0u8; 20];
        let mut via_peek = [0u8; 20];
        let addr = text.as_ptr() as u64 + 3;
        assert_eq!(read_vm(me(), addr, &mut via_vm), Ok(20));
        // PEEKDATA on oneself fails (not a tracee): check the splicing logic on a word we
        // compose by hand instead, through the public reader on a real tracee in the
        // integration tests. Here: the error path.
        assert!(read_peek(me(), addr, &mut via_peek).is_err());
        assert_eq!(&via_vm, &text[3..23]);
    }
}
