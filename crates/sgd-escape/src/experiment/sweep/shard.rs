//! Running a sweep's points, all of them or one shard of them: shard I of N takes the points
//! at positions I, I + N, I + 2N, … of the plan sorted by id, so the split depends only on the
//! plan. Each point runs in `DIR/points/ID/` exactly as `sgd-escape run` would (folder claim,
//! journal, atomic outputs): a complete point is skipped, an interrupted one resumes.

use super::plan::{Plan, Point};
use crate::error::{Error, Result};
use crate::experiment::run::{RunOptions, run_in_dir};
use crate::report::folder::{Existing, is_complete};
use std::path::{Path, PathBuf};

/// One shard of a sweep: `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0 ≤ index < count.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` (`--shard`).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || Error::invalid("--shard", text, "must be I/N with 0 ≤ I < N, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID` relative to
    /// `SLURM_ARRAY_TASK_MIN` (and `SLURM_ARRAY_TASK_STEP`), of `SLURM_ARRAY_TASK_COUNT`;
    /// `None` outside an array job. `var` reads the environment (a parameter for tests).
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else { return Ok(None) };
        let number = |name: &str, default: Option<usize>| -> Result<usize> {
            match var(name) {
                Some(v) => v.trim().parse().map_err(|_| Error::invalid(name, &v, "must be a non-negative integer")),
                None => default.ok_or_else(|| Error::invalid(name, "(unset)", "is required beside SLURM_ARRAY_TASK_ID")),
            }
        };
        let task = number("SLURM_ARRAY_TASK_ID", None)?;
        let min = number("SLURM_ARRAY_TASK_MIN", Some(0))?;
        let step = number("SLURM_ARRAY_TASK_STEP", Some(1))?.max(1);
        let count = number("SLURM_ARRAY_TASK_COUNT", None)?;
        let offset = task.checked_sub(min).filter(|o| o % step == 0).map(|o| o / step);
        match offset {
            Some(index) if index < count => Ok(Some(Shard { index, count })),
            _ => Err(Error::invalid(
                "SLURM_ARRAY_TASK_ID",
                id,
                format!("is not a task of an array of {count} from {min} in steps of {step}"),
            )),
        }
    }

    /// This shard's points: every `count`-th point of the plan sorted by id, from `index`.
    pub fn points<'a>(&self, plan: &'a Plan) -> Vec<&'a Point> {
        let mut sorted: Vec<&Point> = plan.points.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.into_iter().skip(self.index).step_by(self.count).collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The folder of a point's results.
pub fn point_dir(dir: &Path, point: &Point) -> PathBuf {
    dir.join("points").join(&point.id)
}

/// Whether a point's results are complete: its folder is complete for `run` (this version,
/// unchanged inputs) and holds its summary and its per-replica table in the plan's format.
pub fn point_complete(dir: &Path, plan: &Plan, point: &Point) -> Result<bool> {
    let folder = point_dir(dir, point);
    let table = |name: &str| folder.join(format!("{name}.{}", plan.format.extension())).exists();
    Ok(is_complete(&folder, "run")? && folder.join("summary.json").exists() && (table("escape_times") || table("ams_runs")))
}

/// What happened to one point of a shard.
#[derive(Clone, Debug, PartialEq)]
pub enum PointResult {
    /// Already complete; not run again.
    Skipped,
    /// Run (or resumed) to completion, taking this many seconds.
    Ran(f64),
    /// Failed with this message; the other points still ran.
    Failed(String),
}

/// Runs the points of `shard` that are not complete, in id order, reporting each as it ends.
/// A point that fails does not stop the others; the shard then fails at its end, naming them.
pub fn run_shard(dir: &Path, plan: &Plan, shard: Shard, existing: Existing, report: &dyn Fn(&Point, &PointResult)) -> Result<()> {
    let mut failed = Vec::new();
    for point in shard.points(plan) {
        let result = if point_complete(dir, plan, point)? {
            PointResult::Skipped
        } else {
            let started = std::time::Instant::now();
            let options = RunOptions { existing, format: plan.format, ..RunOptions::default() };
            let outcome =
                point.parse(plan).and_then(|config| run_in_dir(&config, &plan.base_dir, &point_dir(dir, point), &options, &|_| {}));
            match outcome {
                Ok(_) => PointResult::Ran(started.elapsed().as_secs_f64()),
                Err(e) => {
                    failed.push(format!("{} ({}): {e}", point.id, point.describe(&plan.axes)));
                    PointResult::Failed(e.to_string())
                }
            }
        };
        report(point, &result);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Sweep(format!("{} point(s) of shard {shard} failed:\n  {}", failed.len(), failed.join("\n  "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_from_the_option_and_from_slurm() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).unwrap_err().to_string().contains("--shard"), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::from_slurm(env(&[])).unwrap(), None);
        let s = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_MIN", "2")]));
        assert_eq!(s.unwrap(), Some(Shard { index: 2, count: 3 }));
        let s = Shard::from_slurm(env(&[
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]));
        assert_eq!(s.unwrap(), Some(Shard { index: 3, count: 4 }));
        let e = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "3")])).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID"), "{e}");
        let e = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_COUNT"), "{e}");
    }
}
