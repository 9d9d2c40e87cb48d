//! HMAC-SHA256 (RFC 2104), tested with every RFC 4231 case.

use super::ct_eq;
use super::sha256::{Sha256, BLOCK_LEN, DIGEST_LEN};

/// Streaming HMAC-SHA256.
#[derive(Clone)]
pub(crate) struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    pub(crate) fn new(key: &[u8]) -> HmacSha256 {
        let mut block = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            block[..DIGEST_LEN].copy_from_slice(&super::sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        let mut outer = Sha256::new();
        let mut ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let mut opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        inner.update(&ipad);
        outer.update(&opad);
        // Key material, in the clear or padded, does not outlive this call.
        for buf in [&mut block[..], &mut ipad[..], &mut opad[..]] {
            buf.fill(0);
            std::hint::black_box(&*buf);
        }
        HmacSha256 { inner, outer }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    pub(crate) fn finalize(self) -> [u8; DIGEST_LEN] {
        let mut outer = self.outer;
        outer.update(&self.inner.finalize());
        outer.finalize()
    }
}

/// A key with its padded inner and outer states already absorbed, so each
/// datagram costs two compressions of its own bytes, not four more for the
/// key. Its Debug output never shows key material.
#[derive(Clone)]
pub struct Key {
    keyed: HmacSha256,
}

impl Key {
    pub fn new(bytes: &[u8]) -> Key {
        Key { keyed: HmacSha256::new(bytes) }
    }

    pub fn mac(&self, data: &[u8]) -> [u8; DIGEST_LEN] {
        let mut h = self.keyed.clone();
        h.update(data);
        h.finalize()
    }

    /// Checks `tag` in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        ct_eq(&self.mac(data), tag)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256::hex;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc4231_all_cases() {
        let big_key = vec![0xaa; 131];
        let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
            (vec![0x0b; 20], b"Hi There".to_vec(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (vec![0xaa; 20], vec![0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                big_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                big_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, data, want)) in cases.iter().enumerate() {
            assert_eq!(hex(&Key::new(key).mac(data)), *want, "case {}", i + 1);
            assert!(Key::new(key).verify(data, &unhex(want)));
        }
        // Test case 5: output truncated to 128 bits.
        let tag = Key::new(&[0x0c; 20]).mac(b"Test With Truncation");
        assert_eq!(hex(&tag[..16]), "a3b6167473100ee06e0c796c2955552b");
    }

    #[test]
    fn verify_rejects_any_change() {
        let key = Key::new(b"k");
        let tag = key.mac(b"message");
        assert!(key.verify(b"message", &tag));
        assert!(!key.verify(b"messagE", &tag));
        assert!(!key.verify(b"message", &tag[..31]));
        for i in 0..32 {
            let mut t = tag;
            t[i] ^= 1;
            assert!(!key.verify(b"message", &t));
        }
        assert_eq!(format!("{key:?}"), "Key(..)");
    }
}
