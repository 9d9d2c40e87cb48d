/work/wt/olddemo/target-sim/release/deps/cfg_if-45badf5bac9e41f9.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libcfg_if-45badf5bac9e41f9.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/wt/olddemo/target-sim/release/deps/libcfg_if-45badf5bac9e41f9.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs:
