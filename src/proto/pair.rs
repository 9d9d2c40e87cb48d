//! Pair identity (docs/design.md §10, `docs/protocol.md` "Pair id"): every datagram
//! names the pair it belongs to, inside the MAC, so that two pairs on one
//! network that share a key (or have none) never take each other's
//! datagrams for their own.

use super::ids::PairId;
use crate::crypto::sha256::Sha256;

/// The id of an unnamed pair: a peer from before pair ids (empty body),
/// or a node with neither a `pair` line nor a service address to derive
/// a name from. It cannot tell pairs apart, so it is accepted.
pub(crate) const UNNAMED: PairId = PairId(0);

/// Hashed before the name, so that a pair id is never the hash of
/// anything else this program hashes.
const LABEL: &[u8] = b"ipfailover pair id v1\0";

/// The wire id of a pair name: the first 8 bytes of SHA-256 over the
/// label and the name, big-endian; never `UNNAMED`.
pub(crate) fn id(name: &str) -> PairId {
    let mut h = Sha256::new();
    h.update(LABEL);
    h.update(name.as_bytes());
    let d = h.finalize();
    PairId(u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]).max(1))
}

/// Whether a datagram naming pair `theirs` may belong to our pair `own`.
/// Only two named pairs that differ are told apart: a peer that predates
/// pair ids sends `UNNAMED`, and an unnamed node knows no better.
pub(crate) fn admits(own: PairId, theirs: PairId) -> bool {
    own == UNNAMED || theirs == UNNAMED || own == theirs
}

/// As shown in logs and `ipfailoverd status`.
pub(crate) fn hex(id: PairId) -> String {
    format!("{id:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_the_labelled_hash_of_the_name() {
        let mut h = Sha256::new();
        h.update(b"ipfailover pair id v1\0web");
        let d = h.finalize();
        assert_eq!(id("web").0.to_be_bytes(), d[..8]);
        assert_ne!(id("web"), id("db"));
        assert_ne!(id("web"), UNNAMED);
        assert_eq!(hex(PairId(0x0102)), "0000000000000102");
    }

    #[test]
    fn only_two_named_pairs_that_differ_are_apart() {
        let (web, db) = (id("web"), id("db"));
        assert!(admits(web, web));
        assert!(!admits(web, db) && !admits(db, web));
        assert!(admits(web, UNNAMED), "a peer from before pair ids");
        assert!(admits(UNNAMED, db), "an unnamed node cannot tell");
    }
}
