/work/wt/olddemo/target-sim/release/deps/subtle-102251aaf0c471d9.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libsubtle-102251aaf0c471d9.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libsubtle-102251aaf0c471d9.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs:
