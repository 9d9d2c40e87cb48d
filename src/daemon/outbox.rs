//! Sending datagrams on one network. The socket is opened lazily and
//! reopened after an error, so an interface that disappears and comes back
//! costs only the datagrams sent while it was gone.

use crate::log;
use std::net::{SocketAddr, UdpSocket};

pub struct Outbox {
    pub name: &'static str,
    ifname: String,
    dest: SocketAddr,
    sock: Option<UdpSocket>,
    /// The last error logged, so a dead link gives one line, not one per
    /// interval.
    failing: Option<String>,
}

impl Outbox {
    pub fn new(name: &'static str, ifname: &str, dest: SocketAddr) -> Outbox {
        Outbox { name, ifname: ifname.to_string(), dest, sock: None, failing: None }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let result = self.try_send(bytes);
        match (&result, &self.failing) {
            (Ok(()), Some(_)) => {
                log::info!("sending on the {} network ({}) works again", self.name, self.ifname);
                self.failing = None;
            }
            (Err(e), failing) if failing.as_deref() != Some(e.as_str()) => {
                log::warn!("cannot send on the {} network ({}): {e}", self.name, self.ifname);
                self.failing = Some(e.clone());
            }
            _ => {}
        }
    }

    fn try_send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut dest = self.dest;
        if self.sock.is_none() {
            let s = match dest {
                SocketAddr::V4(_) => crate::sys::net::udp_socket(&self.ifname, 0, true, false),
                SocketAddr::V6(_) => crate::sys::net::udp6_socket(&self.ifname, 0, None, false),
            };
            self.sock = Some(s.map_err(|e| e.to_string())?);
        }
        if let SocketAddr::V6(d) = &mut dest {
            // Link-local and link-scoped multicast destinations need the
            // interface as their zone.
            let link_scoped = (d.ip().segments()[0] & 0xffc0) == 0xfe80 || d.ip().is_multicast();
            if link_scoped {
                d.set_scope_id(crate::sys::net::if_index(&self.ifname).map_err(|e| e.to_string())?);
            }
        }
        let sock = self.sock.as_ref().ok_or_else(|| "no socket".to_string())?;
        match sock.send_to(bytes, dest) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.sock = None;
                Err(e.to_string())
            }
        }
    }
}
