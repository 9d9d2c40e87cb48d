//! The ids a datagram carries (docs/protocol.md, "Layout"), each a
//! type of its own so that two numbers that mean different things cannot
//! be compared or mixed up: the replay of our own datagrams was once let
//! through by exactly such a comparison (docs/robustness.md, "replay of own
//! datagrams"). Each type has the comparisons the protocol makes and no
//! others; the raw number is public for the codec, the state file and the
//! tests, which read and write it as it always was. Each prints (`Debug`
//! included, as the monitor's debug log and the simulator's traces show
//! engine inputs) exactly as its bare number did.

use std::fmt;

/// A node's random sender id, chosen at each start (`daemon::start`) and
/// carried by every datagram it sends. Equal or not; ordered only because
/// the tie-break between two nodes of one role ranks the lower id first
/// (`proto::intake`; docs/protocol.md, "Receiving: order of checks", step
/// 8) and the replay guard picks the newest stream deterministically
/// (`proto::replay`). Printed as 8 hex digits (`{:08x}`), as in logs and
/// the state file.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderId(pub u32);

impl fmt::LowerHex for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A node's life: chosen at each start above every earlier one
/// (`store::next_generation`), so "a newer life" is a comparison; its
/// clock part is in 2^-20 s units (`store::clock_units`). Printed in
/// decimal, as in logs and the state file.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(pub u64);

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A datagram's sequence number within its sender's generation: counts
/// up from 1 (`Seq::next`), so "sent later" is a comparison. Printed in
/// decimal.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seq(pub u64);

impl Seq {
    /// The sequence number after this one.
    pub fn next(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Where a datagram stands in its sender's stream: generation first, then
/// sequence. Ordered lexicographically in that order (the derived order
/// follows the field order): a newer generation is newer whatever its
/// sequence (docs/protocol.md, "Overtaken datagrams").
/// Made by the intake and the replay guard; nobody changes one after.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Order {
    pub generation: Generation,
    pub seq: Seq,
}

impl Order {
    /// Tests: the order of sequence `seq` in generation `generation`.
    #[cfg(test)]
    pub(crate) fn of(generation: u64, seq: u64) -> Order {
        Order { generation: Generation(generation), seq: Seq(seq) }
    }
}

/// The primary's claim id (docs/protocol.md, "Claims are answered, not
/// assumed"), echoed by the secondary on its status and released. Only
/// "is this the answer to the current claim" is asked of it: equal or
/// not, never ordered.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClaimId(pub u64);

impl ClaimId {
    /// The id of the primary's next claim.
    pub fn next(self) -> ClaimId {
        ClaimId(self.0.wrapping_add(1))
    }
}

impl fmt::Display for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The id of a pair's name (`proto::pair::id`; docs/protocol.md, "Pair
/// identity"): equal or not, never ordered. Printed as 16 hex digits
/// (`proto::pair::hex`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PairId(pub u64);

impl fmt::LowerHex for PairId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// `Debug` as the bare number (or, for `Order`, the bare pair) printed.
macro_rules! debug_as_number {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    )*};
}

debug_as_number!(SenderId, Generation, Seq, ClaimId, PairId);

impl fmt::Debug for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&(self.generation.0, self.seq.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_as_the_bare_numbers_were() {
        assert_eq!(format!("{:08x}", SenderId(0xbeef)), "0000beef");
        assert_eq!(format!("{:016x}", PairId(0x0102)), "0000000000000102");
        assert_eq!(format!("{} {} {}", Generation(77), Seq(9), ClaimId(5)), "77 9 5");
        let order = Some(Order::of(7, 3));
        assert_eq!(format!("{:?} {order:?}", Some(ClaimId(5))), "Some(5) Some((7, 3))");
    }

    #[test]
    fn order_is_generation_then_sequence() {
        let o = |g, s| Order { generation: Generation(g), seq: Seq(s) };
        assert!(o(5, 1) > o(4, 1_000));
        assert!(o(5, 2) > o(5, 1));
        assert_eq!(Seq(u64::MAX).next(), Seq(0));
        assert_eq!(ClaimId(7).next(), ClaimId(8));
    }
}
