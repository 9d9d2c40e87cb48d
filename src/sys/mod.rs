//! The only ring that talks to the kernel: every libc call and every
//! `unsafe` block of the crate lives below this module.
//!
//! Each public function is safe, returns `io::Result` where the call can
//! fail, and names in its doc comment the syscall or ioctl it wraps. The
//! Linux implementation is in `linux/`; a BSD or macOS port is a sibling
//! directory exporting the same modules. Above it, `live_system.rs`
//! answers the configuration's questions about the host (`SystemView`)
//! through these wrappers.
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::{
    addr, addr6, addrwatch, clientwatch, fs, host, linkwatch, log, nd, net, packet, process, random, signal,
};
