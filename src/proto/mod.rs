//! The wire protocol (`docs/protocol.md`): the datagram codec, pair ids,
//! the replay defence and the persisted generation state.
#![forbid(unsafe_code)]

pub mod codec;
pub mod pair;
pub mod replay;
pub mod store;

pub use codec::{decode, encode, Flags, Kind, Message, Reject};
