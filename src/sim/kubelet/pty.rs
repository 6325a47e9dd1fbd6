//! A pseudo-terminal for `tty=1` sessions: the master stays with the stand-in (non-blocking,
//! driven by tokio), the slave becomes the child's stdin, stdout and stderr and its
//! controlling terminal (a new session, `TIOCSCTTY`), as a container runtime sets it up.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};
use tokio::io::unix::AsyncFd;

use crate::stream::TerminalSize;

/// The master side, and the slave to hand to the child.
#[derive(Debug)]
pub(crate) struct Pty {
    /// The master, non-blocking.
    pub(crate) master: AsyncFd<OwnedFd>,
    slave: OwnedFd,
}

impl Pty {
    /// Opens a pair sized `size` (80x24 until the client says otherwise).
    pub(crate) fn open(size: TerminalSize) -> std::io::Result<Self> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        // NOCTTY: the slave must become the child's terminal, never the stand-in's.
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        let slave = rustix::fs::open(name.as_c_str(), flags, Mode::empty())?;
        rustix::io::ioctl_fionbio(&master, true)?;
        // SAFETY: an OwnedFd stays open, and the same descriptor, for as long as it is owned.
        let master = unsafe { AsyncFd::register(master) }?;
        let pty = Pty { master, slave };
        Pty::resize_fd(&pty.master, size)?;
        Ok(pty)
    }

    /// Sets the terminal size on a master (the child gets SIGWINCH).
    pub(crate) fn resize_fd(master: &AsyncFd<OwnedFd>, size: TerminalSize) -> std::io::Result<()> {
        let ws = Winsize {
            ws_row: size.height,
            ws_col: size.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(master.get_ref(), ws)?;
        Ok(())
    }

    /// Three handles on the slave for the child's stdio; the stand-in keeps none (so reading
    /// the master ends with EIO once the child and its children have exited).
    pub(crate) fn take_slave(self) -> std::io::Result<(AsyncFd<OwnedFd>, [Stdio; 3])> {
        let a = self.slave.try_clone()?;
        let b = self.slave.try_clone()?;
        Ok((
            self.master,
            [Stdio::from(self.slave), Stdio::from(a), Stdio::from(b)],
        ))
    }
}

/// In the child, before exec: a new session whose controlling terminal is stdin (the slave).
///
/// # Safety
/// Runs between fork and exec: only async-signal-safe system calls (rustix makes them directly).
pub(crate) fn become_session_leader() -> std::io::Result<()> {
    rustix::process::setsid()?;
    let stdin = unsafe { std::os::fd::BorrowedFd::borrow_raw(0) };
    rustix::process::ioctl_tiocsctty(stdin.as_fd())?;
    Ok(())
}

/// Reads what the child wrote; `Ok(0)` once the slave is closed everywhere (Linux: EIO).
pub(crate) async fn read(master: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        let mut guard = master.readable().await?;
        match guard
            .try_io(|fd| rustix::io::read(fd.get_ref(), &mut *buf).map_err(std::io::Error::from))
        {
            Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                return Ok(0);
            }
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// Writes all of `data` to the child's terminal.
pub(crate) async fn write_all(master: &AsyncFd<OwnedFd>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut guard = master.writable().await?;
        match guard.try_io(|fd| rustix::io::write(fd.get_ref(), data).map_err(std::io::Error::from))
        {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}
