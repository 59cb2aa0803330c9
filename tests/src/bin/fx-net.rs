//! `fx-net`: loopback TCP connect/accept and one UDP datagram.
//!
//! After the usual start-up, on its only thread, in this order (fd numbers
//! assume only fds 0-2 are open at start):
//!
//! 1. `socket(AF_INET, SOCK_STREAM, 0)` = 3 (listener)
//! 2. `bind(3, {AF_INET, 127.0.0.1, port 0}, 16)` = 0
//! 3. `listen(3, 16)` = 0
//! 4. `getsockname(3, .., [16])` = 0 → port P (kernel-chosen ephemeral port)
//! 5. `socket(AF_INET, SOCK_STREAM, 0)` = 4 (client)
//! 6. `connect(4, {AF_INET, 127.0.0.1, port P}, 16)` = 0 (blocking; loopback
//!    completes as soon as the connection is queued on the listener)
//! 7. `accept4(3, .., [16], SOCK_CLOEXEC)` = 5, peer 127.0.0.1:<client port>
//! 8. `write(1, "port P\n", ..)` — the only stdout output, e.g. `port 40123`
//! 9. `close(5)`, `close(4)`, `close(3)`, each = 0
//! 10. `socket(AF_INET, SOCK_DGRAM, 0)` = 3
//! 11. `sendto(3, "x", 1, 0, {AF_INET, 127.0.0.1, port 9}, 16)` = 1
//!     normally (the socket is not connected, so the ICMP port-unreachable
//!     is not reported; any error from this sendto is ignored)
//! 12. `close(3)` = 0
//! 13. exit status 0.
//!
//! Any unexpected failure in steps 1-10 or 12 prints a message on stderr
//! and exits with 1 (fds are closed on the way out).

use std::io::{Error, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

const ADDRLEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

fn loopback(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn socket(ty: libc::c_int) -> Result<OwnedFd, String> {
    // SAFETY: socket has no memory-safety preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, ty, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", Error::last_os_error()));
    }
    // SAFETY: `fd` is a freshly created fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Closes `fd` explicitly so a close failure is reported.
fn close(fd: OwnedFd) -> Result<(), String> {
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: we own `raw` (just released from the OwnedFd) and close it once.
    if unsafe { libc::close(raw) } != 0 {
        return Err(format!("close({raw}): {}", Error::last_os_error()));
    }
    Ok(())
}

fn tcp() -> Result<(), String> {
    let listener = socket(libc::SOCK_STREAM)?;
    let any = loopback(0);
    // SAFETY: `any` is a valid sockaddr_in of ADDRLEN bytes.
    let r = unsafe {
        libc::bind(
            listener.as_raw_fd(),
            (&any as *const libc::sockaddr_in).cast(),
            ADDRLEN,
        )
    };
    if r != 0 {
        return Err(format!("bind: {}", Error::last_os_error()));
    }
    // SAFETY: listen has no memory-safety preconditions.
    if unsafe { libc::listen(listener.as_raw_fd(), 16) } != 0 {
        return Err(format!("listen: {}", Error::last_os_error()));
    }
    let mut bound = loopback(0);
    let mut len = ADDRLEN;
    // SAFETY: `bound` is writable for `len` bytes; `len` is a valid in/out.
    let r = unsafe {
        libc::getsockname(
            listener.as_raw_fd(),
            (&mut bound as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(format!("getsockname: {}", Error::last_os_error()));
    }
    let port = u16::from_be(bound.sin_port);

    let client = socket(libc::SOCK_STREAM)?;
    let target = loopback(port);
    // SAFETY: `target` is a valid sockaddr_in of ADDRLEN bytes.
    let r = unsafe {
        libc::connect(
            client.as_raw_fd(),
            (&target as *const libc::sockaddr_in).cast(),
            ADDRLEN,
        )
    };
    if r != 0 {
        return Err(format!(
            "connect(127.0.0.1:{port}): {}",
            Error::last_os_error()
        ));
    }
    let mut peer = loopback(0);
    let mut len = ADDRLEN;
    // SAFETY: `peer` is writable for `len` bytes; `len` is a valid in/out.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut peer as *mut libc::sockaddr_in).cast(),
            &mut len,
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(format!("accept4: {}", Error::last_os_error()));
    }
    // SAFETY: `fd` is the freshly accepted connection, owned by nobody else.
    let accepted = unsafe { OwnedFd::from_raw_fd(fd) };

    let mut out = std::io::stdout().lock();
    out.write_all(format!("port {port}\n").as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing stdout: {e}"))?;

    close(accepted)?;
    close(client)?;
    close(listener)
}

fn udp() -> Result<(), String> {
    let sock = socket(libc::SOCK_DGRAM)?;
    let discard = loopback(9);
    let payload = b"x";
    // SAFETY: the payload is valid for 1 byte and `discard` is a valid
    // sockaddr_in of ADDRLEN bytes.
    let _ignored = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            payload.as_ptr().cast(),
            payload.len(),
            0,
            (&discard as *const libc::sockaddr_in).cast(),
            ADDRLEN,
        )
    };
    close(sock)
}

fn main() -> ExitCode {
    match tcp().and_then(|()| udp()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fx-net: {e}");
            ExitCode::FAILURE
        }
    }
}
