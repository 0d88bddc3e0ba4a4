//! Benchmarks only: see `benches/hot_paths.rs`, `compare.sh` and `README.md`.
