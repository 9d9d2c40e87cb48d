//! The wire protocol (`docs/protocol.md`): the datagram codec, pair ids,
//! the replay defence and the persisted generation state.
#![forbid(unsafe_code)]

pub mod codec;
pub mod ids;
pub(crate) mod intake;
pub(crate) mod pair;
pub(crate) mod replay;
pub mod store;

pub use codec::{decode, encode, Flags, Kind, Message, Reject};
pub use ids::{ClaimId, Generation, Order, PairId, SenderId, Seq};
