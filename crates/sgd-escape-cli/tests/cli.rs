//! The `sgd-escape` binary end to end: outputs, thread-count independence, and invalid input
//! (exit status 2 with a message naming the key and the value).

use std::process::Command;

mod common;
use common::{sgd_escape, write};

const CURVE_SGD: &str = r#"
seed = 3
replicas = 300
max_steps = 10000000
[model]
kind = "curve"
noise = 0.8
samples = 2000
[dynamics]
kind = "sgd"
lr = 0.1
sampling = "without-replacement"
[exit]
kind = "coordinate"
threshold = 0.9
"#;

const DOUBLE_WELL_SDE: &str = r#"
seed = 4
replicas = 300
[model]
kind = "double-well"
epsilon = 0.25
[dynamics]
kind = "sde"
dt = 0.01
[dynamics.noise]
kind = "time-changed"
lr = 0.2
[exit]
kind = "coordinate"
threshold = 1.0
"#;

#[test]
fn run_writes_outputs_and_threads_do_not_change_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("curve.toml", CURVE_SGD), ("dw.toml", DOUBLE_WELL_SDE)] {
        let cfg = write(dir.path(), name, text);
        let mut summaries = Vec::new();
        for threads in ["1", "2"] {
            let out = dir.path().join(format!("{name}-{threads}"));
            let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap(), "--threads", threads]);
            assert_eq!(code, 0, "{err}");
            let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
            let csv = std::fs::read_to_string(out.join("escape_times.csv")).unwrap();
            assert_eq!(csv.lines().next(), Some("replica,steps,time,status,escaped"));
            assert_eq!(csv.lines().count(), 301);
            let survival = std::fs::read_to_string(out.join("survival.csv")).unwrap();
            assert_eq!(survival.lines().next(), Some("time,at_risk,events,survival,stderr"));
            assert!(!out.join("replicas.journal").exists(), "journal removed after success");
            summaries.push((summary, csv, survival));
        }
        assert_eq!(summaries[0], summaries[1], "{name}: outputs differ between 1 and 2 threads");
        let json: serde_json::Value = serde_json::from_str(&summaries[0].0).unwrap();
        for key in ["version", "seed", "config", "minimum", "escape"] {
            assert!(json.get(key).is_some(), "summary lacks {key}");
        }
        let escape = &json["escape"];
        for key in ["replicas", "escaped", "censored", "mean_time", "mean_time_stderr", "mean_steps"] {
            assert!(escape.get(key).is_some(), "escape lacks {key}");
        }
        for rate in ["rate_per_time", "rate_per_step"] {
            for key in ["estimate", "ci_low", "ci_high"] {
                assert!(escape[rate][key].is_f64(), "{rate}.{key}");
            }
        }
        assert!(json["minimum"]["theta"].is_array() && json["minimum"]["loss"].is_f64());
        // The resolved config is complete: defaults written out.
        assert!(json["config"]["max_steps"].is_u64() && json["config"]["model"]["samples"].is_u64() || name == "dw.toml");
    }
}

#[test]
fn seed_and_replicas_flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "dw.toml", DOUBLE_WELL_SDE);
    let out = dir.path().join("o");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap(), "--seed", "99", "--replicas", "20"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["seed"], 99);
    assert_eq!(json["escape"]["replicas"], 20);
}

/// Each invalid input: status 2 and a message containing every listed fragment.
#[test]
fn invalid_inputs_exit_with_status_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ragged = write(d, "ragged.csv", "x,y\n1,2\n3\n");
    let nan = write(d, "nan.csv", "x,y\n1,2\nNaN,4\n");
    let text = write(d, "text.csv", "x,y\n1,2\n3,abc\n");
    let empty = write(d, "empty.csv", "");
    let lr = |body: &str| {
        format!(
            "[model]\nkind = \"linear-regression\"\nsamples = 10\n[dynamics]\nkind = \"sgd\"\n{body}\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n"
        )
    };
    let data = |path: &str| {
        format!(
            "[model]\nkind = \"linear-regression\"\ndata = \"{path}\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n"
        )
    };
    // `dw(step, noise)`: the SDE's own keys, then its [dynamics.noise] table.
    let dw = |step: &str, noise: &str| {
        format!(
            "[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sde\"\n{step}\n[dynamics.noise]\n{noise}\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n"
        )
    };
    let paper = "kind = \"paper\"\nlr = 0.1";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("unknown key", dw("dt = 0.01", "kind = \"paper\"\nlr = 0.1\nlearning_rate = 3"), vec!["dynamics.noise.learning_rate"]),
        ("unknown top-level key", format!("repl = 3\n{}", dw("dt = 0.01", paper)), vec!["repl"]),
        ("wrong type", lr("lr = \"fast\""), vec!["lr", "fast"]),
        ("negative lr", lr("lr = -0.1"), vec!["dynamics.lr", "-0.1"]),
        ("zero lr", lr("lr = 0.0"), vec!["dynamics.lr", "0"]),
        ("B > N", lr("lr = 0.1\nbatch_size = 20"), vec!["dynamics.batch_size", "20", "N = 10"]),
        ("dt = 0", dw("dt = 0.0", paper), vec!["dynamics.dt", "0"]),
        ("dt < 0", dw("dt = -1e-3", paper), vec!["dynamics.dt", "-0.001"]),
        ("unknown noise", dw("dt = 0.01", "kind = \"pink\"\nlr = 0.1"), vec!["dynamics.noise", "pink"]),
        ("exact noise on analytic model", dw("dt = 0.01", "kind = \"exact\"\nlr = 0.1"), vec!["dynamics.noise", "exact", "analytic"]),
        ("noise as a bare name", dw("dt = 0.01\nnoise = \"paper\"", "").replace("[dynamics.noise]\n\n", ""), vec!["dynamics.noise", "lr"]),
        (
            "sgd on analytic model",
            "[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"never\"\n".into(),
            vec!["dynamics.kind", "sgd"],
        ),
        (
            "key of another kind",
            dw("dt = 0.01", "kind = \"isotropic\"\ntemperature = 0.1\nlr = 0.1"),
            vec!["dynamics.noise.lr", "isotropic"],
        ),
        ("missing lr", lr(""), vec!["dynamics.lr", "missing"]),
        ("bad ratio", lr("lr = 0.1").replace("ratio = 1.5", "ratio = 0.5"), vec!["exit.ratio", "0.5"]),
        ("axis out of range", dw("dt = 0.01", paper).replace("threshold = 1.0", "threshold = 1.0\naxis = 3"), vec!["exit.axis", "3"]),
        ("start point length", format!("{}[start]\npoint = [1.0, 2.0]\n", dw("dt = 0.01", paper)), vec!["start.point", "1 entries"]),
        ("exit holds at start", dw("dt = 0.01", paper).replace("threshold = 1.0", "threshold = -2.0"), vec!["exit", "already holds"]),
        ("unknown model", "[model]\nkind = \"resnet\"\n".into(), vec!["model.kind", "resnet"]),
        (
            "negative epsilon",
            dw("dt = 0.01", paper).replace("kind = \"double-well\"", "kind = \"double-well\"\nepsilon = -1.0"),
            vec!["model.epsilon", "-1"],
        ),
        ("missing data file", data("nowhere.csv"), vec!["model.data", "nowhere.csv"]),
        ("ragged csv", data(&ragged), vec!["model.data", "row 3", "1 fields"]),
        ("NaN in csv", data(&nan), vec!["model.data", "row 3", "column 1", "not finite"]),
        ("text in csv", data(&text), vec!["model.data", "row 3", "column 2", "abc"]),
        ("empty csv", data(&empty), vec!["model.data", "empty"]),
    ];
    for (what, body, fragments) in cases {
        let cfg = write(d, "bad.toml", &body);
        let out = d.join("out-bad");
        let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{what}: status {code}, message: {err}");
        for f in fragments {
            assert!(err.contains(f), "{what}: message lacks {f:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    let (code, err) = sgd_escape(&["run", "/no/such/config.toml", "--out", d.join("o").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/config.toml"), "{err}");
    let cfg = write(d, "dw.toml", DOUBLE_WELL_SDE);
    let (code, err) = sgd_escape(&["run", &cfg, "--out", d.join("o").to_str().unwrap(), "--threads", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--threads"), "{err}");
}

/// SGD that diverges to infinity is reported per replica, not a panic.
#[test]
fn divergence_is_reported_per_replica() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "div.toml",
        "replicas = 20\nmax_steps = 100000\n[model]\nkind = \"linear-regression\"\nsamples = 100\n[dynamics]\nkind = \"sgd\"\nlr = 5.0\n[exit]\nkind = \"never\"\n",
    );
    let out = dir.path().join("o");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("diverged"), "{err}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["escape"]["diverged"], 20);
    let csv = std::fs::read_to_string(out.join("escape_times.csv")).unwrap();
    assert_eq!(csv.matches(",diverged,").count(), 20);
}

/// `sgd-escape landscape` writes landscape.json with the documented blocks, and prints a table.
#[test]
fn landscape_writes_json_with_every_theory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "dw.toml", &DOUBLE_WELL_SDE.replace("kind = \"double-well\"", "kind = \"double-well\"\ndim = 2"));
    let out = dir.path().join("o");
    let output = Command::new(env!("CARGO_BIN_EXE_sgd-escape")).args(["landscape", &cfg, "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    for row in ["log_barrier", "linear_barrier", "xie (s = 1", "xie (s = 0", "kramers_isotropic", "valid", "outliers  n = 2"] {
        assert!(table.contains(row), "table lacks {row}: {table}");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("landscape.json")).unwrap()).unwrap();
    for key in ["theta", "loss", "hessian_eigenvalues"] {
        assert!(!json["minimum"][key].is_null(), "minimum.{key}");
    }
    assert_eq!(json["minimum"]["outliers"]["n"], 2);
    assert_eq!(json["minimum"]["outliers"]["h_star"], 2.0);
    for key in ["theta", "loss", "index", "escape_eigenvalue", "method"] {
        assert!(!json["saddle"][key].is_null(), "saddle.{key}");
    }
    assert_eq!(json["saddle"]["index"], 1);
    for key in ["ratio", "log", "linear"] {
        assert!(json["barrier"][key].is_f64(), "barrier.{key}");
    }
    let p = &json["predictions"];
    for prediction in
        [&p["log_barrier"], &p["linear_barrier"], &p["xie"]["minimum_curvature"], &p["xie"]["saddle_curvature"], &p["kramers_isotropic"]]
    {
        for key in ["rate_per_time", "rate_per_step", "mean_time"] {
            assert!(prediction[key].is_f64(), "{key} in {prediction}");
        }
        assert!(prediction["valid"].is_boolean() && prediction["assumptions"].is_array(), "{prediction}");
    }
    assert!(json["critical_dimension"].is_f64() && json["stationary_exponent"].is_f64());
    // Invalid landscape keys are input errors.
    let bad = write(dir.path(), "bad.toml", &format!("{DOUBLE_WELL_SDE}[landscape]\nsaddle = \"simplex\"\n"));
    let (code, err) = sgd_escape(&["landscape", &bad, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("landscape.saddle") && err.contains("simplex"), "{err}");
}

/// `reproduce NAME --quick` (the README's main command runs `all`): the page and figures are
/// written, and stdout ends with the checks table and its tally; an unknown name is an input
/// error (status 2).
#[test]
fn reproduce_prints_the_checks_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sgd-escape"))
        .args(["reproduce", "fig3a", "--quick", "--out", dir.path().to_str().unwrap()])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("experiment") && stdout.contains("holds"), "{stdout}");
    assert!(stdout.trim_end().ends_with("3 of 3 checks hold (quick mode: small ensembles)"), "{stdout}");
    for file in ["fig3a.md", "fig3a.png", "fig3a.svg", "fig3a.csv", "fig3a.json"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let (code, stderr) = sgd_escape(&["reproduce", "fig9", "--quick", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("fig9"), "{stderr}");
}

/// An MLP end to end: `train` on a built-in set, then `landscape` and `run` (SGD and the
/// exact-noise SDE) from the trained parameters; a dense Hessian asked of a network above the
/// dense limit and a missing [data] section are input errors.
#[test]
fn mlp_train_then_landscape_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = write(
        d,
        "train.toml",
        "[model]\nkind = \"mlp\"\nhidden = [6]\nactivation = \"tanh\"\n[data]\nsource = \"wine\"\nstandardize = true\n[train]\nlr = 0.05\nbatch_size = 8\nepochs = 30\n",
    );
    let out =
        Command::new(env!("CARGO_BIN_EXE_sgd-escape")).args(["train", &train, "--out", d.join("t").to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no test set") && !stdout.contains("NaN"), "{stdout}");
    let log = std::fs::read_to_string(d.join("t/log.csv")).unwrap();
    assert_eq!(log.lines().count(), 32);
    let params = d.join("t/params.json");
    for (i, dynamics) in [
        "kind = \"sgd\"\nlr = 0.05\nbatch_size = 8",
        "kind = \"sde\"\ndt = 0.05\n[dynamics.noise]\nkind = \"exact\"\nlr = 0.05\nbatch_size = 8",
    ]
    .into_iter()
    .enumerate()
    {
        let run = write(
            d,
            "run.toml",
            &format!(
                "seed = 2\nreplicas = 20\nmax_steps = 2000\n[model]\nkind = \"mlp\"\nhidden = [6]\nactivation = \"tanh\"\n[data]\nsource = \"wine\"\nstandardize = true\n[dynamics]\n{dynamics}\n[start]\nparameters = \"{}\"\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n[landscape]\nsaddle = \"none\"\n",
                params.display()
            ),
        );
        // One folder per configuration (a folder of another configuration is refused).
        let r = d.join(format!("r{i}"));
        let (code, stderr) = sgd_escape(&["run", &run, "--out", r.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(r.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["escape"]["replicas"], 20);
        assert!(summary["landscape"]["outliers"]["n"].as_u64().unwrap() >= 1);
        let (code, stderr) = sgd_escape(&["landscape", &run, "--out", r.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
    }
    let big = write(
        d,
        "big.toml",
        "[model]\nkind = \"mlp\"\nhidden = [512]\n[data]\nsource = \"digits\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"never\"\n[landscape]\nhessian = \"dense\"\n",
    );
    let (code, stderr) = sgd_escape(&["run", &big, "--out", d.join("b").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("landscape.hessian") && stderr.contains("lanczos"), "{stderr}");
    let nodata = write(d, "nodata.toml", "[model]\nkind = \"mlp\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"never\"\n");
    let (code, stderr) = sgd_escape(&["run", &nodata, "--out", d.join("n").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("[data]"), "{stderr}");
    let bad_params =
        write(d, "badp.toml", &std::fs::read_to_string(d.join("run.toml")).unwrap().replace(&params.display().to_string(), "missing.json"));
    let (code, stderr) = sgd_escape(&["run", &bad_params, "--out", d.join("p").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("start.parameters") && stderr.contains("missing.json"), "{stderr}");
}
