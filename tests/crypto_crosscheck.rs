//! Our SHA-256 and HMAC against the `sha2` and `hmac` crates on many
//! pseudo-random inputs, keys and chunkings.

use hmac::Mac;
use ipfailover::crypto::{hmac as ours_hmac, sha256};
use sha2::Digest;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

#[test]
fn sha256_matches_sha2_crate() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..3000 {
        let len = (rng.next() % 2000) as usize;
        let data = rng.bytes(len);
        let want: [u8; 32] = sha2::Sha256::digest(&data).into();
        assert_eq!(sha256::digest(&data), want);
        let mut h = sha256::Sha256::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = ((rng.next() % 130) as usize + 1).min(rest.len());
            h.update(&rest[..n]);
            rest = &rest[n..];
        }
        assert_eq!(h.finalize(), want, "len {len}");
    }
}

#[test]
fn hmac_matches_hmac_crate() {
    let mut rng = Rng(0xfeed_face_cafe_beef);
    for _ in 0..3000 {
        let klen = (rng.next() % 200) as usize;
        let key = rng.bytes(klen);
        let dlen = (rng.next() % 2000) as usize;
        let data = rng.bytes(dlen);
        let mut reference = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        reference.update(&data);
        let want: [u8; 32] = reference.finalize().into_bytes().into();
        let ours = ours_hmac::Key::new(&key);
        assert_eq!(ours.mac(&data), want);
        assert!(ours.verify(&data, &want));
    }
}
