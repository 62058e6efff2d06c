//! `sgd_escape._native`: the compiled half of the Python package. Thin: configurations arrive
//! as TOML or JSON text, results leave as JSON text and NumPy arrays, and every computation
//! runs through the library's own entry points (`run_in_dir`, `run_in_memory`, `prepare`,
//! `train_in_dir`). The Python half (`python/sgd_escape/__init__.py`) gives them their typed
//! signatures, result classes and exceptions.
//!
//! Long calls run on a worker thread while the calling thread, without the interpreter lock,
//! checks for signals every 20 ms; on Ctrl-C it requests a stop (`sgd_escape::cancel`), waits
//! for the replicas in flight, and raises `KeyboardInterrupt`.

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use sgd_escape::Error;
use sgd_escape::experiment::Config;
use sgd_escape::experiment::run::{RunOptions, run_in_dir_with_outcomes, run_in_memory};
use sgd_escape::report::TableFormat;
use sgd_escape::report::folder::Existing;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The library's error as the package's exception: `ConfigError` (a `ValueError`) for
/// configurations and values, `DataError` (also a `ValueError`) for data, `Error` for the
/// rest; `key` is set where the error names one.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let class = match &e {
        Error::Config { .. } | Error::ConfigSyntax { .. } | Error::InvalidValue { .. } => "ConfigError",
        Error::Data { .. } => "DataError",
        Error::Cancelled => return PyKeyboardInterrupt::new_err("cancelled"),
        _ => "Error",
    };
    let key = match &e {
        Error::Config { key, .. } | Error::InvalidValue { key, .. } => Some(key.clone()),
        _ => None,
    };
    let raised = py.import("sgd_escape._errors").and_then(|m| m.getattr(class)).and_then(|cls| cls.call1((e.to_string(),)));
    match raised {
        Ok(instance) => {
            if let Some(key) = key
                && let Err(err) = instance.setattr("key", key)
            {
                return err;
            }
            PyErr::from_value(instance)
        }
        Err(err) => err,
    }
}

/// Runs `work` on a worker thread (on a pool of `threads` threads, or the global one) while
/// this thread polls for signals without the interpreter lock. `progress` = (counter, total,
/// unit) prints `done/total unit` to stderr every half second.
fn cancellable<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    progress: Option<(Arc<AtomicUsize>, usize, &str)>,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    let pool = match threads {
        Some(0) => return Err(to_py(py, Error::invalid("threads", 0, "must be ≥ 1"))),
        Some(n) => Some(rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(|e| PyRuntimeError::new_err(e.to_string()))?),
        None => None,
    };
    sgd_escape::cancel::clear();
    let outcome = std::thread::scope(|s| {
        let handle = s.spawn(move || match pool {
            Some(pool) => pool.install(work),
            None => work(),
        });
        let mut shown = Instant::now();
        while !handle.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if let Err(interrupt) = py.check_signals() {
                sgd_escape::cancel::request();
                let _ = handle.join();
                return Err(interrupt);
            }
            if let Some((done, total, unit)) = &progress
                && shown.elapsed() > Duration::from_millis(500)
            {
                eprint!("\r{}/{total} {unit}", done.load(Ordering::Relaxed));
                shown = Instant::now();
            }
        }
        if let Some((_, total, unit)) = &progress {
            eprintln!("\r{total}/{total} {unit}");
        }
        handle.join().map_err(|_| PyRuntimeError::new_err("sgd-escape panicked (a bug: please report it with the configuration)"))
    });
    sgd_escape::cancel::clear();
    outcome?.map_err(|e| to_py(py, e))
}

/// The configuration as TOML text: `text` is TOML, or JSON when `json` (a Python dict). With
/// `data_file`, `[data]` reads that `.npy` table (features, then the target column); with
/// `parameters_file`, `[start] parameters` is that file. Keys those replace are refused.
fn config_text(text: &str, json: bool, origin: &Path, data_file: Option<&str>, parameters_file: Option<&str>) -> Result<String, Error> {
    let syntax = |message: String| Error::ConfigSyntax { path: origin.to_path_buf(), message };
    let mut table: toml::Table = if json {
        serde_json::from_str(text)
            .map_err(|e| syntax(format!("{e} (values are str, int, float, bool, lists and dicts; None is not a value)")))?
    } else {
        toml::from_str(text).map_err(|e| syntax(e.to_string()))?
    };
    let mut set = |section: &str, keys: &[(&str, &str)], replaced: &[&str], by: &str| -> Result<(), Error> {
        let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            return Err(Error::invalid(section, entry.to_string(), "must be a table"));
        };
        for key in replaced {
            if let Some(v) = t.get(*key) {
                return Err(Error::invalid(format!("{section}.{key}"), v, format!("not with {by}")));
            }
        }
        for (k, v) in keys {
            t.insert(k.to_string(), toml::Value::String(v.to_string()));
        }
        Ok(())
    };
    if let Some(f) = data_file {
        set("data", &[("source", "npy"), ("path", f)], &["source", "path", "features", "target", "skip"], "features and targets arrays")?;
    }
    if let Some(f) = parameters_file {
        set("start", &[("parameters", f)], &["parameters", "point"], "a parameters array")?;
    }
    Ok(toml::to_string(&table).expect("a TOML table serialises"))
}

/// `run`: (summary JSON, replica, steps, time, status) of a run, in memory or in `out`.
#[pyfunction]
#[pyo3(signature = (config, json, origin, base_dir, seed=None, replicas=None, threads=None, out=None, force=false, progress=false, data_file=None, parameters_file=None, format="csv"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn run<'py>(
    py: Python<'py>,
    config: &str,
    json: bool,
    origin: &str,
    base_dir: &str,
    seed: Option<u64>,
    replicas: Option<usize>,
    threads: Option<usize>,
    out: Option<&str>,
    force: bool,
    progress: bool,
    data_file: Option<&str>,
    parameters_file: Option<&str>,
    format: &str,
) -> PyResult<(String, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>, Vec<String>)> {
    let origin = PathBuf::from(origin);
    let parsed = (|| -> Result<(Config, TableFormat), Error> {
        let text = config_text(config, json, &origin, data_file, parameters_file)?;
        let mut config = Config::from_toml(&text, &origin)?;
        config.override_run(seed, replicas, "replicas")?;
        Ok((config, TableFormat::parse("format", format)?))
    })();
    let (config, format) = parsed.map_err(|e| to_py(py, e))?;
    let total = config.ams().map_or(config.replicas.get(), |a| a.runs.get());
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    let unit = if config.ams().is_some() { "AMS runs" } else { "replicas" };
    let base_dir = PathBuf::from(base_dir);
    let (summary, outcomes) = cancellable(py, threads, progress.then_some((done, total, unit)), move || {
        let on_done = |_: &sgd_escape::escape::ReplicaOutcome| {
            counter.fetch_add(1, Ordering::Relaxed);
        };
        match out {
            Some(dir) => {
                let options =
                    RunOptions { existing: if force { Existing::MoveAside } else { Existing::Refuse }, format, ..RunOptions::default() };
                run_in_dir_with_outcomes(&config, &base_dir, Path::new(dir), &options, &on_done)
            }
            None => run_in_memory(&config, &base_dir, None, &on_done),
        }
    })?;
    let json = serde_json::to_string(&summary).expect("a summary serialises");
    let replica: Vec<i64> = outcomes.iter().map(|o| o.replica as i64).collect();
    let steps: Vec<i64> = outcomes.iter().map(|o| o.steps as i64).collect();
    let time: Vec<f64> = outcomes.iter().map(|o| o.time).collect();
    let status: Vec<String> = outcomes.iter().map(|o| o.status.name().to_string()).collect();
    Ok((json, replica.into_pyarray(py), steps.into_pyarray(py), time.into_pyarray(py), status))
}

/// `landscape`: the analysis (landscape.json's contents) as JSON, in memory or in `out`.
#[pyfunction]
#[pyo3(signature = (config, json, origin, base_dir, out=None, force=false, data_file=None, parameters_file=None))]
#[allow(clippy::too_many_arguments)]
fn landscape(
    py: Python<'_>,
    config: &str,
    json: bool,
    origin: &str,
    base_dir: &str,
    out: Option<&str>,
    force: bool,
    data_file: Option<&str>,
    parameters_file: Option<&str>,
) -> PyResult<String> {
    use sgd_escape::experiment::landscape::{LandscapeReport, landscape_in_dir};
    let origin = PathBuf::from(origin);
    let config = config_text(config, json, &origin, data_file, parameters_file)
        .and_then(|text| Config::from_toml(&text, &origin))
        .map_err(|e| to_py(py, e))?;
    let base_dir = PathBuf::from(base_dir);
    let report = cancellable(py, None, None, move || match out {
        Some(dir) => landscape_in_dir(&config, &base_dir, Path::new(dir), if force { Existing::MoveAside } else { Existing::Refuse }),
        None => {
            let prepared = sgd_escape::experiment::prepare(&config, &base_dir)?;
            let inputs = sgd_escape::report::provenance::hash_inputs(&prepared.config.input_files(&base_dir))?;
            Ok(LandscapeReport::new(&prepared, &inputs))
        }
    })?;
    Ok(serde_json::to_string(&report).expect("a report serialises"))
}

/// `train`: `{"log": [...], "theta": [...], "resumed_from": e, "parameters": P}` as JSON;
/// the run lives in `out` (checkpoints, log.csv, params.json).
#[pyfunction]
#[pyo3(signature = (config, json, origin, base_dir, out, threads=None, force=false, data_file=None))]
#[allow(clippy::too_many_arguments)]
fn train(
    py: Python<'_>,
    config: &str,
    json: bool,
    origin: &str,
    base_dir: &str,
    out: &str,
    threads: Option<usize>,
    force: bool,
    data_file: Option<&str>,
) -> PyResult<String> {
    use sgd_escape::experiment::config::TrainConfig;
    use sgd_escape::experiment::train::{resolve, train_in_dir};
    let origin = PathBuf::from(origin);
    let base_dir = PathBuf::from(base_dir);
    let spec = config_text(config, json, &origin, data_file, None)
        .and_then(|text| TrainConfig::from_toml(&text, &origin))
        .and_then(|config| resolve(&config, &base_dir))
        .map_err(|e| to_py(py, e))?;
    let existing = if force { Existing::MoveAside } else { Existing::Refuse };
    let outcome =
        cancellable(py, threads, None, move || train_in_dir(&spec, Path::new(out), existing, &|_| {}, &sgd_escape::cancel::requested))?;
    let value = serde_json::json!({
        "log": outcome.log,
        "theta": outcome.theta,
        "resumed_from": outcome.resumed_from,
    });
    Ok(value.to_string())
}

/// β = B/(η h*) (docs/theory.md eq. 11–13).
#[pyfunction]
fn beta(lr: f64, batch_size: usize, h_star: f64) -> f64 {
    sgd_escape::theory::rates::beta(lr, batch_size, h_star)
}

/// The paper's exponent β + 1 − n/2 of κ ∝ c^−(β + 1 − n/2).
#[pyfunction]
fn log_barrier_exponent(beta: f64, n: usize) -> f64 {
    sgd_escape::theory::rates::log_barrier_exponent(beta, n)
}

/// n_c = 2(β + 1).
#[pyfunction]
fn critical_dimension(beta: f64) -> f64 {
    sgd_escape::theory::rates::critical_dimension(beta)
}

/// φ = 1 + β of the stationary law P ∝ L^−φ.
#[pyfunction]
fn stationary_exponent(beta: f64) -> f64 {
    sgd_escape::theory::stationary::stationary_exponent(beta)
}

/// The 1-D barrier geometry: curvature h* > 0 at the minimum, h_saddle < 0 at the saddle.
fn geometry(loss_minimum: f64, loss_saddle: f64, h_star: f64, h_saddle: f64) -> sgd_escape::theory::rates::BarrierGeometry {
    sgd_escape::theory::rates::BarrierGeometry::one_dimensional(loss_minimum, loss_saddle, h_star, h_saddle)
}

/// The paper's log-barrier rate per unit t in one dimension (eq. 13).
#[pyfunction]
fn log_barrier_rate(loss_minimum: f64, loss_saddle: f64, h_star: f64, h_saddle: f64, lr: f64, batch_size: usize) -> Option<f64> {
    sgd_escape::theory::rates::log_barrier_rate(&geometry(loss_minimum, loss_saddle, h_star, h_saddle), lr, batch_size)
}

/// The linear-barrier rate per unit t in one dimension, noise frozen at the minimum (eq. 14).
#[pyfunction]
fn linear_barrier_rate(loss_minimum: f64, loss_saddle: f64, h_star: f64, h_saddle: f64, lr: f64, batch_size: usize) -> Option<f64> {
    sgd_escape::theory::rates::linear_barrier_rate(&geometry(loss_minimum, loss_saddle, h_star, h_saddle), lr, batch_size)
}

/// Kesten's tail exponent α of SGD on 1-D linear regression with Gaussian inputs (eq. 24).
#[pyfunction]
fn kesten_tail_exponent_gaussian(lr: f64, batch_size: usize, h: f64) -> Option<f64> {
    sgd_escape::theory::stationary::kesten_tail_exponent_gaussian(lr, batch_size, h)
}

/// Kesten's exponent α for isotropic Gaussian inputs in d dimensions, B = 1 (eq. 24b).
#[pyfunction]
fn kesten_tail_exponent_isotropic_gaussian(lr: f64, dim: usize) -> Option<f64> {
    sgd_escape::theory::stationary::kesten_tail_exponent_isotropic_gaussian(lr, dim)
}

/// The mean first-passage time from `start` to `target` of dθ = drift(θ)dt + √(2D(θ)) dW by
/// quadrature (eq. 20–21), with the far boundary found automatically.
#[pyfunction]
#[pyo3(signature = (drift, diffusion, start, target, intervals=4000))]
fn mean_first_passage_time(
    drift: &Bound<'_, PyAny>,
    diffusion: &Bound<'_, PyAny>,
    start: f64,
    target: f64,
    intervals: usize,
) -> PyResult<f64> {
    if !(start.is_finite() && target.is_finite()) || start == target || intervals < 2 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "need finite start != target and intervals >= 2, got start = {start}, target = {target}, intervals = {intervals}"
        )));
    }
    let failure: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
    let call = |f: &Bound<'_, PyAny>, x: f64| match f.call1((x,)).and_then(|v| v.extract::<f64>()) {
        Ok(v) => v,
        Err(e) => {
            failure.borrow_mut().get_or_insert(e);
            f64::NAN
        }
    };
    let t = sgd_escape::theory::mfpt::mean_first_passage_time_auto(|x| call(drift, x), |x| call(diffusion, x), start, target, intervals);
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(t),
    }
}

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    sgd_escape::VERSION
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(landscape, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(beta, m)?)?;
    m.add_function(wrap_pyfunction!(log_barrier_exponent, m)?)?;
    m.add_function(wrap_pyfunction!(critical_dimension, m)?)?;
    m.add_function(wrap_pyfunction!(stationary_exponent, m)?)?;
    m.add_function(wrap_pyfunction!(log_barrier_rate, m)?)?;
    m.add_function(wrap_pyfunction!(linear_barrier_rate, m)?)?;
    m.add_function(wrap_pyfunction!(kesten_tail_exponent_gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(kesten_tail_exponent_isotropic_gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(mean_first_passage_time, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
