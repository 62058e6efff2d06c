//! The fuzz suite: hundreds of malformed configurations, data files and command lines (mutations
//! of small valid cases, tests/fuzz/cases.rs), each run by the binary in its own folder under a
//! time limit and an address-space limit. Every case must either exit 0 with a sound result
//! (and, where the mutation does not change the input's meaning, exactly the unmutated
//! result), or exit 2 with a message naming the key or file. Never a panic, an abort, a hang,
//! exit 1, or a wrong answer.
//!
//! `SGD_ESCAPE_FUZZ_BIN=path` runs the suite against another build of the binary, and
//! `SGD_ESCAPE_FUZZ_REPORT=1` prints every case's verdict instead of failing on the first
//! kind of failure (the counts before and after a change are made that way).

#[path = "fuzz/cases.rs"]
mod cases;

use cases::{Case, Expect};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Value mutations per base case.
const PER_BASE: usize = 24;
/// A case that takes longer is a hang.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// The address-space limit of each case (KiB): a runaway allocation fails fast instead of
/// taking the machine's memory.
const MEMORY_LIMIT_KIB: u64 = 4 << 20;

#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    Clean,
    Panic(String),
    Abort(String),
    Hang,
    /// Exit 1, or exit 2 without naming a key or file.
    Unnamed(String),
    Wrong(String),
}

impl Verdict {
    fn kind(&self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Panic(_) => "panic",
            Verdict::Abort(_) => "abort",
            Verdict::Hang => "hang",
            Verdict::Unnamed(_) => "unnamed",
            Verdict::Wrong(_) => "wrong",
        }
    }
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    timed_out: bool,
}

fn run_case(bin: &Path, case: &Case, dir: &Path) -> Run {
    for (name, bytes) in &case.files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let script = format!("ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\"");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(&case.args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .expect("sh runs");
    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, false);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&std::fs::read(dir.join("stderr.txt")).unwrap_or_default()).into_owned();
    Run { code: status.code(), signal: status.signal(), stderr, timed_out }
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The part of a case's result that must not change under a meaning-preserving mutation.
fn result_of(command: &str, out: &Path) -> Result<String, String> {
    match command {
        "run" => {
            let s = read_json(&out.join("summary.json"))?;
            Ok(format!("{}\n{}", s["escape"], s["minimum"]))
        }
        "landscape" => {
            let s = read_json(&out.join("landscape.json"))?;
            Ok(format!("{}\n{}", s["minimum"], s["predictions"]))
        }
        "train" => std::fs::read_to_string(out.join("log.csv")).map_err(|e| e.to_string()),
        other => Err(format!("unknown command {other}")),
    }
}

/// Whether a successful run's outputs are sound: complete, consistent and finite where they
/// must be.
fn soundness(command: &str, out: &Path) -> Result<(), String> {
    match command {
        "run" if out.join("ams_runs.csv").exists() => {
            let s = read_json(&out.join("summary.json"))?;
            let p = s["ams"]["probability"]["estimate"].as_f64().ok_or("no AMS probability")?;
            let t = s["escape"]["mean_time"].as_f64().ok_or("no mean time")?;
            if !((0.0..=1.0).contains(&p) && t.is_finite() && t > 0.0) {
                return Err(format!("AMS p = {p}, mean time {t}"));
            }
            Ok(())
        }
        "run" => {
            let s = read_json(&out.join("summary.json"))?;
            let e = &s["escape"];
            let n = |k: &str| e[k].as_u64().ok_or(format!("escape.{k} missing"));
            let replicas = n("replicas")?;
            if n("escaped")? + n("censored")? + n("diverged")? != replicas {
                return Err(format!("escaped + censored + diverged ≠ replicas in {e}"));
            }
            if replicas != s["config"]["replicas"].as_u64().unwrap_or(0) {
                return Err("escape.replicas differs from config.replicas".into());
            }
            if n("diverged")? > 0 && !s["warnings"].to_string().contains("diverged") {
                return Err("replicas diverged without a warning".into());
            }
            let csv = std::fs::read_to_string(out.join("escape_times.csv")).map_err(|e| e.to_string())?;
            for line in csv.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                let time: f64 = f[2].parse().map_err(|_| format!("bad time in {line}"))?;
                if f[3] == "escaped" && !(time.is_finite() && time > 0.0) {
                    return Err(format!("an escape at a time that is not finite and positive: {line}"));
                }
            }
            if out.join("replicas.journal").exists() {
                return Err("the journal was left beside a finished summary".into());
            }
            Ok(())
        }
        "landscape" => read_json(&out.join("landscape.json")).map(|_| ()),
        "train" => {
            let log = std::fs::read_to_string(out.join("log.csv")).map_err(|e| e.to_string())?;
            let last = log.lines().last().unwrap_or("");
            let loss: f64 = last.split(',').nth(3).and_then(|v| v.parse().ok()).ok_or("no loss in log.csv")?;
            if !loss.is_finite() {
                return Err(format!("training finished with loss {loss}"));
            }
            read_json(&out.join("train.json")).map(|_| ())
        }
        _ => Ok(()),
    }
}

fn names_something(case: &Case, stderr: &str) -> bool {
    let named_key = case.key.as_ref().is_some_and(|k| stderr.contains(k.rsplit('.').next().unwrap()));
    let named_file = case.files.iter().any(|(f, _)| stderr.contains(f.as_str()));
    let named_argument = case.args.iter().skip(1).any(|a| stderr.contains(&format!(" {a}")));
    named_key || named_file || named_argument || stderr.contains("cannot read") || stderr.contains('`') || stderr.contains("--")
}

fn judge(case: &Case, run: &Run, dir: &Path, base_results: &[Option<String>]) -> Verdict {
    let tail = |s: &str| s.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    if run.timed_out {
        return Verdict::Hang;
    }
    if run.stderr.contains("panicked at") || run.code == Some(101) {
        return Verdict::Panic(tail(&run.stderr));
    }
    if let Some(sig) = run.signal {
        return Verdict::Abort(format!("signal {sig}: {}", tail(&run.stderr)));
    }
    let command = case.args[0].as_str();
    let out = dir.join("out");
    match (run.code, case.expect) {
        (Some(0), Expect::Refused) => Verdict::Wrong(format!("accepted an invalid input: {}", tail(&run.stderr))),
        (Some(0), expect) => {
            if let Some(phrase) = case.must_say
                && !run.stderr.contains(phrase)
            {
                return Verdict::Wrong(format!("stderr does not say {phrase:?}: {}", tail(&run.stderr)));
            }
            if let Err(e) = soundness(command, &out) {
                return Verdict::Wrong(e);
            }
            if expect == Expect::Same {
                let result = result_of(command, &out);
                match (&base_results[case.base], result) {
                    (Some(base), Ok(r)) if *base == r => {}
                    (None, _) => {}
                    (_, r) => return Verdict::Wrong(format!("result differs from the unmutated case: {r:?}")),
                }
            }
            Verdict::Clean
        }
        (Some(2), Expect::Same) => Verdict::Wrong(format!("refused a valid input: {}", tail(&run.stderr))),
        (Some(2), _) if run.stderr.contains("error") && names_something(case, &run.stderr) => Verdict::Clean,
        (code, _) => Verdict::Unnamed(format!("exit {code:?}: {}", tail(&run.stderr))),
    }
}

#[test]
fn malformed_inputs_never_panic_abort_hang_or_mislead() {
    let bin = std::env::var_os("SGD_ESCAPE_FUZZ_BIN").map(std::path::PathBuf::from).unwrap_or(env!("CARGO_BIN_EXE_sgd-escape").into());
    let report = std::env::var_os("SGD_ESCAPE_FUZZ_REPORT").is_some();
    let all = cases::cases(PER_BASE, 2026);
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // The unmutated bases first: their results are the reference of the `Same` cases.
    let bases: Vec<&Case> = all.iter().filter(|c| c.name.ends_with("/unchanged")).collect();
    let mut base_results = vec![None; cases::bases().len()];
    for c in &bases {
        let dir = root.path().join(c.name.replace('/', "_"));
        std::fs::create_dir_all(&dir).unwrap();
        let run = run_case(&bin, c, &dir);
        assert_eq!(run.code, Some(0), "base case {} fails: {}", c.name, run.stderr);
        base_results[c.base] = Some(result_of(&c.args[0], &dir.join("out")).unwrap());
    }
    let verdicts: Mutex<Vec<(String, Verdict)>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = all.get(i) else { break };
                    let dir = root.path().join(format!("case-{i}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    let run = run_case(&bin, case, &dir);
                    let verdict = judge(case, &run, &dir, &base_results);
                    let _ = std::fs::remove_dir_all(&dir);
                    verdicts.lock().unwrap().push((case.name.clone(), verdict));
                }
            });
        }
    });
    let verdicts = verdicts.into_inner().unwrap();
    let count = |k: &str| verdicts.iter().filter(|(_, v)| v.kind() == k).count();
    let failures: Vec<&(String, Verdict)> = verdicts.iter().filter(|(_, v)| *v != Verdict::Clean).collect();
    if report {
        for (name, v) in &failures {
            println!("{:<8} {name}: {v:?}", v.kind());
        }
    }
    println!(
        "fuzz: {} cases in {:.1} s: {} clean, {} panics, {} aborts, {} hangs, {} unnamed or exit 1, {} wrong",
        verdicts.len(),
        started.elapsed().as_secs_f64(),
        count("clean"),
        count("panic"),
        count("abort"),
        count("hang"),
        count("unnamed"),
        count("wrong")
    );
    assert!(verdicts.len() >= 300, "only {} cases", verdicts.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), verdicts.len(), {
        failures.iter().map(|(n, v)| format!("{n}: {v:?}")).collect::<Vec<_>>().join("\n")
    });
}
