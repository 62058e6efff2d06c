//! The kill harness: the binary is killed (SIGKILL) at random moments — while replicas run,
//! while a resumption reads, trims or compacts a large journal, while outputs are written —
//! and rerun into the same folder. After every kill, every replica the journal held before
//! that attempt is still there with the same outcome, and a summary is never left beside a
//! journal it does not cover. The run finally completed is bit-identical to an uninterrupted
//! one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// About a second of work and a journal of 200 000 lines (≈ 7 MB), so that a resumption
/// spends a measurable time reading and repairing it.
const CONFIG: &str = r#"
seed = 5
replicas = 200000
max_steps = 1000000
[model]
kind = "double-well"
epsilon = 0.25
[dynamics]
kind = "sde"
dt = 0.05
[dynamics.noise]
kind = "paper"
lr = 0.4
[dynamics.solver]
kind = "euler-maruyama"
[exit]
kind = "coordinate"
threshold = 1.0
"#;

const KILLS: usize = 55;

fn journal(dir: &Path) -> BTreeMap<u64, String> {
    let Ok(text) = std::fs::read_to_string(dir.join("replicas.journal")) else { return BTreeMap::new() };
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    let mut map = BTreeMap::new();
    for line in complete.lines().skip(1) {
        if let Some((replica, _)) = line.split_once(',')
            && let Ok(r) = replica.parse()
        {
            map.entry(r).or_insert_with(|| line.to_string());
        }
    }
    map
}

/// `SGD_ESCAPE_CRASH_BIN=path` runs the harness against another build (to count what an
/// earlier version lost).
fn command(config: &Path, out: &Path) -> Command {
    let bin = std::env::var_os("SGD_ESCAPE_CRASH_BIN").unwrap_or(env!("CARGO_BIN_EXE_sgd-escape").into());
    let mut c = Command::new(bin);
    c.args(["run", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--threads", "2"]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

const OUTPUTS: [&str; 3] = ["summary.json", "escape_times.csv", "survival.csv"];

#[test]
fn random_kills_lose_no_finished_replica_and_the_result_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crash.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let reference = dir.path().join("reference");
    let started = Instant::now();
    assert!(command(&config, &reference).status().unwrap().success());
    let uninterrupted = started.elapsed();
    let expected: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| std::fs::read(reference.join(f)).unwrap()).collect();

    // splitmix64 for the kill times: the same schedule every run.
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let window = (uninterrupted.as_millis() as u64).clamp(300, 3000);
    let (mut kills, mut rounds, mut lost, mut compactions, mut stale, mut differing) = (0, 0, 0, 0, 0, 0);
    while kills < KILLS {
        rounds += 1;
        let out = dir.path().join(format!("round-{rounds}"));
        loop {
            let before = journal(&out);
            // Every fourth attempt starts from a journal with a repeated line, as an older
            // version could leave it: that resumption compacts the journal by a rename.
            if kills % 4 == 3 && !before.is_empty() {
                let line = format!("{}\n", before.values().next().unwrap());
                let mut text = std::fs::read(out.join("replicas.journal")).unwrap();
                let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                text.truncate(complete);
                text.extend_from_slice(line.as_bytes());
                std::fs::write(out.join("replicas.journal"), text).unwrap();
                compactions += 1;
            }
            let mut child = command(&config, &out).spawn().unwrap();
            let delay = Duration::from_millis(next() % window);
            let deadline = Instant::now() + delay;
            let finished = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    if !status.success() {
                        println!("round {rounds}: a rerun after a kill failed ({status})");
                        differing += 1;
                    }
                    break true;
                }
                if Instant::now() >= deadline {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    break false;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            let after = journal(&out);
            // Killed after the outputs were written and the journal removed: the run is
            // complete, every replica is in its outputs (checked below).
            let complete = !out.join("replicas.journal").exists() && out.join("summary.json").exists();
            if !complete {
                for (replica, line) in &before {
                    if after.get(replica) != Some(line) {
                        lost += 1;
                    }
                }
            }
            // A summary beside a journal must cover it: the journal then holds every replica.
            if out.join("summary.json").exists() && out.join("replicas.journal").exists() && after.len() != 200_000 {
                stale += 1;
            }
            if finished || complete {
                break;
            }
            if kills >= KILLS {
                // Finish this round without interruption.
                if !command(&config, &out).status().unwrap().success() {
                    println!("round {rounds}: the final uninterrupted rerun failed");
                    differing += 1;
                }
                break;
            }
        }
        for (file, bytes) in OUTPUTS.iter().zip(&expected) {
            if std::fs::read(out.join(file)).ok().as_ref() != Some(bytes) {
                differing += 1;
                println!("round {rounds}: {file} differs from the uninterrupted run");
            }
        }
    }
    println!(
        "{kills} kills over {rounds} round(s) ({compactions} resumptions compacting a journal): {lost} finished replicas lost, {stale} summaries beside an incomplete journal; uninterrupted run {:.2} s",
        uninterrupted.as_secs_f64()
    );
    assert_eq!((lost, stale, differing), (0, 0, 0));
}
