//! Sending datagrams on one network. The socket is opened lazily and
//! reopened after an error, so an interface that disappears and comes back
//! costs only the datagrams sent while it was gone.

use crate::log;
use std::io;
use std::net::{SocketAddr, UdpSocket};

pub(in crate::daemon) struct Outbox {
    pub name: &'static str,
    ifname: String,
    dest: SocketAddr,
    sock: Option<UdpSocket>,
    /// The last error logged, so a dead link gives one line, not one per
    /// interval.
    failing: Option<Failure>,
}

/// Which error a send failed with, to tell a new one from a repeat: the
/// errno, or the kind of an error that has none (its text depends only
/// on the interface, which an outbox never changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Os(i32),
    Kind(io::ErrorKind),
}

impl Failure {
    fn of(e: &io::Error) -> Failure {
        e.raw_os_error().map_or(Failure::Kind(e.kind()), Failure::Os)
    }
}

impl Outbox {
    pub(in crate::daemon) fn new(name: &'static str, ifname: &str, dest: SocketAddr) -> Outbox {
        Outbox { name, ifname: ifname.to_string(), dest, sock: None, failing: None }
    }

    pub(in crate::daemon) fn send(&mut self, bytes: &[u8]) {
        let result = self.try_send(bytes);
        match (&result, &self.failing) {
            (Ok(()), Some(_)) => {
                log::info!("sending on the {} network ({}) works again", self.name, self.ifname);
                self.failing = None;
            }
            (Err(e), failing) if *failing != Some(Failure::of(e)) => {
                log::warn!("cannot send on the {} network ({}): {e}", self.name, self.ifname);
                self.failing = Some(Failure::of(e));
            }
            _ => {}
        }
    }

    fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut dest = self.dest;
        if self.sock.is_none() {
            let s = match dest {
                SocketAddr::V4(_) => crate::sys::net::udp_socket(&self.ifname, 0, true, false),
                SocketAddr::V6(_) => crate::sys::net::udp6_socket(&self.ifname, 0, None, false),
            };
            self.sock = Some(s?);
        }
        if let SocketAddr::V6(d) = &mut dest {
            // Link-local and link-scoped multicast destinations need the
            // interface as their zone.
            let link_scoped = (d.ip().segments()[0] & 0xffc0) == 0xfe80 || d.ip().is_multicast();
            if link_scoped {
                d.set_scope_id(crate::sys::net::if_index(&self.ifname)?);
            }
        }
        let sock = self.sock.as_ref().ok_or_else(|| io::Error::other("no socket"))?;
        match sock.send_to(bytes, dest) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.sock = None;
                Err(e)
            }
        }
    }
}
