//! The wire protocol (`docs/protocol.md`): the datagram codec, the replay
//! defence and the persisted generation state.
#![forbid(unsafe_code)]

pub mod codec;
pub mod replay;
pub mod store;

pub use codec::{decode, encode, Flags, Kind, Message, Reject};
