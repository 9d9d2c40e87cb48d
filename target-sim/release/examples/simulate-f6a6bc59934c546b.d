/work/wt/olddemo/target-sim/release/examples/simulate-f6a6bc59934c546b.d: examples/simulate.rs

/work/wt/olddemo/target-sim/release/examples/simulate-f6a6bc59934c546b: examples/simulate.rs

examples/simulate.rs:
