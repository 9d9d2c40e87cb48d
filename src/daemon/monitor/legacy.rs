//! Apple's unauthenticated heartbeat text, and what ends it: the peer
//! proving that it speaks protocol v1 (docs/protocol.md).

use super::Monitor;
use crate::config::NetId;
use crate::daemon::throttle::AuthLog;
use crate::engine::Input;
use crate::log;
use crate::proto::{self, Kind};
use std::time::{Duration, Instant};

/// Whether the peer speaks protocol v1. Only this file changes it.
pub(super) struct V1 {
    /// The peer has sent an accepted protocol v1 datagram, since we
    /// started or (`recorded`) ever.
    speaks: bool,
    /// The state file says so: the datagram carried a valid MAC. Without a
    /// key a v1 datagram is as easy to forge as Apple's text, so it proves
    /// nothing beyond this run.
    recorded: bool,
    /// Apple's text dropped because the peer speaks v1: logged, not silent,
    /// in case the primary really is an old Mac again.
    superseded_log: AuthLog,
}

impl V1 {
    /// `recorded`: what the state file says.
    pub(super) fn new(recorded: bool) -> V1 {
        V1 { speaks: recorded, recorded, superseded_log: AuthLog::new(Duration::from_secs(3600)) }
    }

    /// For the state file.
    pub(super) fn recorded(&self) -> bool {
        self.recorded
    }
}

impl Monitor {
    /// Apple's unauthenticated heartbeat. Without a MAC only its source
    /// vouches for it: the primary's private address (`peer`) on the
    /// private network, one of the service addresses (Apple's primary owns
    /// them) on the public one. Once the primary has spoken protocol v1 in
    /// this run, Apple's datagrams are ignored: a forger must not be able
    /// to keep the secondary from taking over with them.
    pub(super) fn legacy(&mut self, net: NetId, src: std::net::SocketAddr) {
        let expected = match net {
            NetId::Private => self.cfg.peer == Some(src.ip()),
            NetId::Public => self.cfg.addresses.iter().any(|a| a.addr == src.ip()),
        };
        if !expected {
            log::debug!("{} network: dropped Apple's heartbeat text from {src}: wrong-source", net.as_str());
            return self.reject(net, src, proto::Reject::WrongSource, 1);
        }
        if self.v1.speaks {
            log::debug!(
                "{} network: dropped Apple's heartbeat text from {src}: legacy-superseded",
                net.as_str()
            );
            self.reject(net, src, proto::Reject::LegacySuperseded, 1);
            if let Some(line) = self.v1.superseded_log.note(
                Instant::now(),
                net.as_str(),
                src,
                proto::Reject::LegacySuperseded,
                1,
            ) {
                let recorded = if self.v1.recorded { ", recorded in the state file" } else { "" };
                log::warn!(
                    "{line}: the primary has spoken protocol v1{recorded}, so Apple's text no longer counts \
                     (if the primary is an old Mac again, see ipfailoverd(8), MIGRATING FROM MAC OS X SERVER)"
                );
            }
            return;
        }
        log::debug!("{} network: accepted Apple's heartbeat text from {src}", net.as_str());
        self.view.stats[net.index()].legacy += 1;
        // An Apple primary holds its addresses through the OS: static mode.
        let flags = proto::Flags(proto::Flags::STATIC | proto::Flags::PUBLIC_UP | proto::Flags::PRIVATE_UP);
        self.feed(Input::Heard { net, kind: Kind::Heartbeat, flags, claim: None, order: None });
    }

    /// An accepted protocol v1 datagram. With a key it proves that the
    /// peer speaks v1, for good: recorded at once, so that forgeries of
    /// Apple's text do not count after a restart either.
    pub(super) fn heard_v1(&mut self) {
        if !self.v1.speaks && self.cfg.legacy_heartbeat.accepts() {
            log::notice!("the primary speaks protocol v1: Apple's heartbeat text no longer counts");
        }
        self.v1.speaks = true;
        if self.stamp.signed() && !self.v1.recorded {
            self.v1.recorded = true;
            self.persist(true);
        }
    }
}
