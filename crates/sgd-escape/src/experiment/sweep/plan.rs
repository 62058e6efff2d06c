//! The plan of a sweep: a base configuration and axes of values, expanded to the grid of
//! their combinations, each point a resolved configuration named by the hash of its contents.
//!
//! A sweep file (TOML):
//!
//! ```toml
//! base = "double-well.toml"          # relative to the sweep file
//! [[axes]]
//! key = "dynamics.noise.lr"          # any key of the configuration, dotted
//! values = [0.05, 0.1]
//! [[axes]]
//! key = "seed"
//! values = [1, 2, 3]
//! ```
//!
//! Several axes form a grid (the first axis varies slowest). Every point is parsed and checked
//! like a configuration file when the plan is made, so a bad value is reported before anything
//! runs, naming the point and the key.

use crate::error::{Error, Result};
use crate::experiment::config::{Config, parse_toml};
use crate::report::TableFormat;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The plan's file name inside the sweep folder.
pub const PLAN_FILE: &str = "plan.json";

/// A sweep file ([module docs](self)).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    /// The base configuration, relative to the sweep file's folder.
    base: PathBuf,
    /// The axes; none gives a plan of one point, the base itself.
    #[serde(default)]
    axes: Vec<Axis>,
}

/// One axis: a configuration key and the values it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// The dotted key (`dynamics.lr`, `seed`, `dynamics.noise.batch_size`).
    pub key: String,
    /// Its values, in order.
    pub values: Vec<toml::Value>,
}

/// One point of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The first 16 hex digits of the SHA-256 of the resolved configuration's JSON: equal
    /// configurations have equal ids wherever and whenever they are planned.
    pub id: String,
    /// The value of each axis at this point, in the order of the axes.
    pub values: Vec<toml::Value>,
    /// The configuration that runs, as TOML (the base with the point's values set).
    pub config: String,
}

impl Point {
    /// `key = value` for each axis, for messages.
    pub fn describe(&self, axes: &[Axis]) -> String {
        if axes.is_empty() {
            return "the base configuration".into();
        }
        axes.iter().zip(&self.values).map(|(a, v)| format!("{} = {v}", a.key)).collect::<Vec<_>>().join(", ")
    }

    /// The point's configuration, parsed.
    pub fn parse(&self, plan: &Plan) -> Result<Config> {
        Config::from_toml(&self.config, &plan.base)
    }
}

/// `plan.json`: everything `sweep run` and `sweep merge` need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The sgd-escape version that made the plan.
    pub version: String,
    /// The sweep file, as given.
    pub sweep: String,
    /// The base configuration (absolute path).
    pub base: PathBuf,
    /// The folder relative paths in the configurations (data files, start parameters) are
    /// resolved against: the base configuration's folder, absolute.
    pub base_dir: PathBuf,
    /// The format of each point's per-replica table.
    pub format: TableFormat,
    /// The axes.
    pub axes: Vec<Axis>,
    /// The points, in grid order.
    pub points: Vec<Point>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { action, path, source }
}

/// Sets `key` (dotted) in `table`, creating missing tables on the way.
fn set_key(table: &mut toml::Table, key: &str, value: toml::Value) -> std::result::Result<(), String> {
    let segments: Vec<&str> = key.split('.').collect();
    let (last, parents) = segments.split_last().expect("split yields one segment");
    let mut node = table;
    for (i, s) in parents.iter().enumerate() {
        node = match node.entry(s.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
            toml::Value::Table(t) => t,
            other => return Err(format!("{} is {other} in the base configuration, not a table", segments[..=i].join("."))),
        };
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// The id of a configuration ([`Point::id`]).
pub fn config_id(config: &Config) -> String {
    let json = serde_json::to_string(config).expect("a configuration serialises");
    crate::report::provenance::sha256_hex(json.as_bytes())[..16].to_string()
}

/// Checks the axes: each key well formed and used once, no key inside another, values given.
fn check_axes(sweep: &Path, axes: &[Axis]) -> Result<()> {
    let bad = |i: usize, message: String| Error::Config { path: sweep.to_path_buf(), key: format!("axes[{i}]"), message };
    for (i, a) in axes.iter().enumerate() {
        if a.key.is_empty() || a.key.split('.').any(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
            return Err(bad(i, format!("key {:?} is not a dotted configuration key such as \"dynamics.lr\"", a.key)));
        }
        if a.values.is_empty() {
            return Err(bad(i, format!("key {:?} has no values", a.key)));
        }
        for (j, b) in axes.iter().enumerate().take(i) {
            let nested = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
            if nested(&a.key, &b.key) || nested(&b.key, &a.key) {
                return Err(bad(i, format!("key {:?} overlaps axes[{j}] ({:?}): each key may be set by one axis", a.key, b.key)));
            }
        }
    }
    Ok(())
}

/// Reads a sweep file and expands it into its plan. Every point's configuration is checked;
/// two points with the same resolved configuration are refused.
pub fn plan(sweep: &Path, format: TableFormat) -> Result<Plan> {
    let text = std::fs::read_to_string(sweep).map_err(io("cannot read sweep file", sweep))?;
    let file: SweepFile = parse_toml(&text, sweep)?;
    check_axes(sweep, &file.axes)?;
    let sweep_dir = sweep.parent().unwrap_or(Path::new("."));
    let base = std::path::absolute(sweep_dir.join(&file.base)).map_err(io("cannot resolve base configuration", &file.base))?;
    let base_text = std::fs::read_to_string(&base).map_err(io("cannot read base configuration", &base))?;
    let base_table: toml::Table =
        toml::from_str(&base_text).map_err(|e| Error::ConfigSyntax { path: base.clone(), message: e.to_string() })?;
    let base_dir = base.parent().map(Path::to_path_buf).unwrap_or_default();
    let combinations: usize = file.axes.iter().map(|a| a.values.len()).product();
    let mut points: Vec<Point> = Vec::with_capacity(combinations);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..combinations {
        // Mixed radix, first axis slowest.
        let mut rest = n;
        let mut values = vec![toml::Value::Boolean(false); file.axes.len()];
        for (k, a) in file.axes.iter().enumerate().rev() {
            values[k] = a.values[rest % a.values.len()].clone();
            rest /= a.values.len();
        }
        let mut table = base_table.clone();
        let mut point = Point { id: String::new(), values, config: String::new() };
        let at = |point: &Point, message: String| Error::Config {
            path: sweep.to_path_buf(),
            key: "axes".into(),
            message: format!("at the point {}: {message}", point.describe(&file.axes)),
        };
        for (a, v) in file.axes.iter().zip(&point.values) {
            set_key(&mut table, &a.key, v.clone()).map_err(|m| at(&point, m))?;
        }
        point.config = toml::to_string(&table).expect("a TOML table serialises");
        let config = Config::from_toml(&point.config, &base).map_err(|e| at(&point, e.to_string()))?;
        point.id = config_id(&config);
        if let Some(&first) = seen.get(&point.id) {
            let earlier = points[first].describe(&file.axes);
            return Err(at(&point, format!("it resolves to the same configuration as the point {earlier}")));
        }
        seen.insert(point.id.clone(), points.len());
        points.push(point);
    }
    Ok(Plan { version: crate::VERSION.into(), sweep: sweep.display().to_string(), base, base_dir, format, axes: file.axes, points })
}

/// Writes the plan into `dir` (created if needed). A folder already holding the same plan is
/// left as it is (planning twice is harmless); one holding another sweep's plan is refused, so
/// two sweeps never mix their points.
pub fn write_plan(dir: &Path, plan: &Plan) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io("cannot create sweep folder", dir))?;
    if dir.join(PLAN_FILE).exists() {
        let old = read_plan(dir)?;
        if old.points == plan.points && old.format == plan.format && old.base_dir == plan.base_dir {
            return Ok(());
        }
        return Err(Error::invalid(
            "--out",
            dir.display(),
            format!("holds the plan of another sweep ({} points from {}); choose another folder", old.points.len(), old.sweep),
        ));
    }
    crate::report::write_json(&dir.join(PLAN_FILE), plan)
}

/// Reads the plan of the sweep folder `dir`.
pub fn read_plan(dir: &Path) -> Result<Plan> {
    let path = dir.join(PLAN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::invalid("DIR", dir.display(), "holds no plan.json: make one with `sgd-escape sweep plan SWEEP.toml --out DIR`")
        } else {
            Error::Io { action: "cannot read", path: path.clone(), source }
        }
    })?;
    serde_json::from_str(&text).map_err(|e| Error::invalid("DIR", dir.display(), format!("its plan.json is unreadable ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_set_through_nested_tables() {
        let mut t: toml::Table = toml::from_str("seed = 1\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n").unwrap();
        set_key(&mut t, "dynamics.lr", toml::Value::Float(0.2)).unwrap();
        set_key(&mut t, "seed", toml::Value::Integer(7)).unwrap();
        set_key(&mut t, "exit.axis", toml::Value::Integer(0)).unwrap();
        assert_eq!(t["dynamics"]["lr"].as_float(), Some(0.2));
        assert_eq!(t["seed"].as_integer(), Some(7));
        assert_eq!(t["exit"]["axis"].as_integer(), Some(0));
        let e = set_key(&mut t, "seed.x", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("seed is 7"), "{e}");
    }

    #[test]
    fn overlapping_and_malformed_axes_are_refused() {
        let axis = |key: &str| Axis { key: key.into(), values: vec![toml::Value::Integer(1)] };
        let p = Path::new("s.toml");
        assert!(check_axes(p, &[axis("dynamics.lr"), axis("dynamics.noise.lr")]).is_ok());
        let e = check_axes(p, &[axis("dynamics"), axis("dynamics.lr")]).unwrap_err().to_string();
        assert!(e.contains("`axes[1]`") && e.contains("overlaps"), "{e}");
        let e = check_axes(p, &[axis("seed"), axis("seed")]).unwrap_err().to_string();
        assert!(e.contains("overlaps"), "{e}");
        let e = check_axes(p, &[axis("dynamics..lr")]).unwrap_err().to_string();
        assert!(e.contains("`axes[0]`") && e.contains("dotted"), "{e}");
        let e = check_axes(p, &[Axis { key: "seed".into(), values: vec![] }]).unwrap_err().to_string();
        assert!(e.contains("no values"), "{e}");
    }
}
