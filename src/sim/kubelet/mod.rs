//! The kubelet stand-in: kubelet's own endpoints and protocols on the simulated guests' side,
//! so the service's kubelet client is exercised end to end. [`exec`]: exec and attach running
//! real processes in a scratch directory ([`runner`], with a [`pty`] for `tty`).

pub mod exec;
mod pty;
mod runner;

pub use exec::SimExec;
