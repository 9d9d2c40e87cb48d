/work/wt/olddemo/target-sim/release/deps/crypto_common-3e3fe29a1a6ea7a3.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libcrypto_common-3e3fe29a1a6ea7a3.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libcrypto_common-3e3fe29a1a6ea7a3.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs:
