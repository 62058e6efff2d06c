//! Sweeps: a grid of configurations planned once, run in shards (by hand or as a Slurm job
//! array), and merged into one table.
//!
//! - [`plan`]: the sweep file (a base configuration and axes) → `DIR/plan.json`, each point
//!   named by the hash of its resolved configuration;
//! - [`shard`]: `sweep run` runs one shard's points, each in `DIR/points/ID/` like `run`
//!   (complete points skipped, interrupted ones resumed);
//! - [`merge`]: checks every point is complete and writes `merged.csv` and `merged.parquet`,
//!   the same bytes however the points were sharded.

pub mod merge;
pub mod plan;
pub mod shard;

pub use merge::{Merged, merge};
pub use plan::{Axis, PLAN_FILE, Plan, Point, plan, read_plan, write_plan};
pub use shard::{PointResult, Shard, point_complete, point_dir, run_shard};
