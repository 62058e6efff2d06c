//! The fuzz cases: base configurations (each a small, fast run of one command), and their
//! mutations — of a value, of the file's text, of a data file, and of the command line.
//! Everything is generated from a fixed seed, so a failing case is reproducible by its name.

use toml::Value;

/// What a case must do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// Exit 0 with exactly the base case's result (the mutation does not change the input's
    /// meaning: a BOM, CRLF line ends, comments).
    Same,
    /// Exit 2 naming the key or file (the input is invalid: NaN, infinities, garbage).
    Refused,
    /// Exit 0 with a sound result, or exit 2 naming the key or file.
    Either,
}

/// One invocation of the binary in a fresh folder.
#[derive(Clone, Debug)]
pub struct Case {
    /// A unique name: base, mutation and target.
    pub name: String,
    /// The index of the base case (for `Expect::Same`).
    pub base: usize,
    /// Arguments after the binary (paths relative to the case's folder).
    pub args: Vec<String>,
    /// Files written into the case's folder first.
    pub files: Vec<(String, Vec<u8>)>,
    /// What must happen.
    pub expect: Expect,
    /// The key whose value was mutated, if any.
    pub key: Option<String>,
    /// A phrase the case's stderr must contain (e.g. a warning), if any.
    pub must_say: Option<&'static str>,
}

/// A small deterministic generator (splitmix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A CSV table: 2 features and a target, 80 rows.
fn csv_data() -> String {
    let mut text = String::from("x1,x2,y\n");
    let mut rng = Rng::new(7);
    let mut u = || (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    for _ in 0..80 {
        let (a, b) = (2.0 * u(), 2.0 * u());
        text.push_str(&format!("{a:.6},{b:.6},{:.6}\n", 0.7 * a - 0.3 * b + u()));
    }
    text
}

/// A `.npy` file (format 1.0) holding `rows × cols` little-endian f8 values.
pub fn npy(shape: &str, descr: &str, values: &[f64]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

fn npy_values() -> Vec<f64> {
    let mut rng = Rng::new(11);
    (0..60 * 3).map(|_| (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5).collect()
}

/// A base case: command, configuration text, data files.
pub struct Base {
    pub name: &'static str,
    pub command: &'static str,
    pub config: String,
    pub data: Vec<(String, Vec<u8>)>,
}

pub fn bases() -> Vec<Base> {
    let csv = csv_data().into_bytes();
    let npy = npy("(60, 3)", "<f8", &npy_values());
    let b = |name, command, config: &str, data: Vec<(String, Vec<u8>)>| Base { name, command, config: config.to_string(), data };
    vec![
        b(
            "double-well-sde",
            "run",
            "seed = 1\nreplicas = 6\nmax_steps = 200000\n[model]\nkind = \"double-well\"\nepsilon = 0.25\n\
             [dynamics]\nkind = \"sde\"\ndt = 0.02\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.2\nbatch_size = 1\n\
             [start]\npoint = [-1.0]\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 1.0\n",
            vec![],
        ),
        b(
            "curve-sgd",
            "run",
            "seed = 2\nreplicas = 6\nmax_steps = 100000\n[model]\nkind = \"curve\"\nnoise = 0.8\nsamples = 400\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.1\nbatch_size = 1\nsampling = \"without-replacement\"\n\
             [exit]\nkind = \"coordinate\"\nthreshold = 0.9\n",
            vec![],
        ),
        b(
            "linear-regression-loss",
            "run",
            "seed = 3\nreplicas = 6\nmax_steps = 100000\n[model]\nkind = \"linear-regression\"\ndim = 1\nsamples = 300\ndata_seed = 0\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.1\nbatch_size = 1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n",
            vec![],
        ),
        b(
            "csv-regression",
            "run",
            "seed = 4\nreplicas = 6\nmax_steps = 100000\n[model]\nkind = \"linear-regression\"\n\
             [data]\nsource = \"csv\"\npath = \"data.csv\"\nheader = true\ntarget = 3\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.1\nbatch_size = 2\n[exit]\nkind = \"loss-above\"\nratio = 1.3\n",
            vec![("data.csv".into(), csv.clone())],
        ),
        b(
            "npy-landscape",
            "landscape",
            "[model]\nkind = \"linear-regression\"\n[data]\nsource = \"npy\"\npath = \"data.npy\"\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 4\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n",
            vec![("data.npy".into(), npy)],
        ),
        b(
            "mlp-wine",
            "run",
            "seed = 5\nreplicas = 4\nmax_steps = 3000\n[model]\nkind = \"mlp\"\nhidden = [3]\nactivation = \"tanh\"\ninit_seed = 0\n\
             [data]\nsource = \"wine\"\nsamples = 60\nstandardize = true\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 5\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n",
            vec![],
        ),
        b(
            "train-csv",
            "train",
            "[model]\nkind = \"mlp\"\nhidden = [4]\nactivation = \"relu\"\n\
             [data]\nsource = \"csv\"\npath = \"data.csv\"\nlabels = { kind = \"regression\" }\n\
             [train]\nlr = 0.05\nbatch_size = 10\nepochs = 3\nseed = 0\nlog_every = 1\n",
            vec![("data.csv".into(), csv)],
        ),
        b(
            "double-well-2d-landscape",
            "landscape",
            "[model]\nkind = \"double-well\"\ndim = 2\nstiffness = 2.0\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
             [dynamics.noise]\nkind = \"isotropic\"\ntemperature = 0.1\n[exit]\nkind = \"hyperplane\"\nnormal = [1.0, 0.0]\n\
             [landscape]\noutlier_gap = 10.0\n",
            vec![],
        ),
        b(
            "curve-exact-noise-sde",
            "run",
            "seed = 6\nreplicas = 4\nmax_steps = 100000\n[model]\nkind = \"curve\"\nnoise = 0.8\nsamples = 200\n\
             [dynamics]\nkind = \"sde\"\ndt = 0.02\n[dynamics.noise]\nkind = \"exact\"\nlr = 0.1\nbatch_size = 1\n\
             [dynamics.solver]\nkind = \"euler-maruyama\"\n[exit]\nkind = \"coordinate\"\nthreshold = 0.9\n",
            vec![],
        ),
        b(
            "ams-double-well",
            "run",
            "seed = 7\n[model]\nkind = \"double-well\"\nepsilon = 0.25\n[dynamics]\nkind = \"sde\"\ndt = 0.02\n\
             [dynamics.noise]\nkind = \"paper\"\nlr = 0.2\nbatch_size = 1\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n\
             [estimator]\nkind = \"ams\"\nparticles = 20\nruns = 3\nkill = 1\nresolution = 0.01\ncycles = 5\n",
            vec![],
        ),
    ]
}

/// Every leaf of a TOML table, as a dotted path.
fn leaves(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(t) => leaves(t, &path, out),
            _ => out.push(path),
        }
    }
}

fn parent<'a>(table: &'a mut toml::Table, path: &str) -> (&'a mut toml::Table, String) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap().to_string();
    let mut t = table;
    for p in parts {
        t = t.get_mut(p).and_then(Value::as_table_mut).unwrap();
    }
    (t, last)
}

/// The value mutations, each with what it must produce.
fn value_mutations() -> Vec<(&'static str, Option<Value>, Expect)> {
    use Expect::*;
    let table = |pairs: &[(&str, Value)]| Value::Table(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
    vec![
        ("nan", Some(Value::Float(f64::NAN)), Refused),
        ("inf", Some(Value::Float(f64::INFINITY)), Refused),
        ("-inf", Some(Value::Float(f64::NEG_INFINITY)), Refused),
        ("negative", Some(Value::Integer(-1)), Either),
        ("negative-float", Some(Value::Float(-0.5)), Either),
        ("zero", Some(Value::Integer(0)), Either),
        ("zero-float", Some(Value::Float(0.0)), Either),
        ("huge-float", Some(Value::Float(1e308)), Either),
        ("1e200", Some(Value::Float(1e200)), Either),
        ("tiny-float", Some(Value::Float(1e-308)), Either),
        ("i64-max", Some(Value::Integer(i64::MAX)), Either),
        ("2^61", Some(Value::Integer(1 << 61)), Either),
        ("100000", Some(Value::Integer(100_000)), Either),
        ("string", Some(Value::String("x".into())), Either),
        ("bool", Some(Value::Boolean(true)), Either),
        ("empty-array", Some(Value::Array(vec![])), Either),
        ("array", Some(Value::Array(vec![Value::Float(1.0), Value::Float(2.0)])), Either),
        ("huge-array", Some(Value::Array(vec![Value::Integer(1 << 62)])), Either),
        ("table", Some(table(&[("kind", Value::String("bogus".into()))])), Either),
        ("remove", None, Either),
    ]
}

/// Whether a mutation only makes a valid run long (a long run is not a bug): large step caps
/// and epoch counts, and 10⁵ replicas (larger counts must be refused by the memory estimate).
fn only_lengthens(path: &str, name: &str) -> bool {
    let large = matches!(name, "i64-max" | "2^61" | "100000" | "huge-array");
    let counts = ["replicas", "estimator.particles", "estimator.runs", "estimator.cycles"];
    ((path.ends_with("max_steps") || path.ends_with("epochs")) && large) || (counts.contains(&path) && name == "100000")
}

fn config_args(base: &Base) -> Vec<String> {
    let mut args: Vec<String> = vec![base.command.into(), "config.toml".into(), "--out".into(), "out".into()];
    if base.command != "landscape" {
        args.extend(["--threads".into(), "1".into()]);
    }
    args
}

fn case(
    bases: &[Base],
    i: usize,
    what: String,
    config: Vec<u8>,
    data: Option<(String, Vec<u8>)>,
    expect: Expect,
    key: Option<String>,
) -> Case {
    let base = &bases[i];
    let mut files: Vec<(String, Vec<u8>)> = base.data.iter().filter(|(n, _)| data.as_ref().is_none_or(|(d, _)| d != n)).cloned().collect();
    files.extend(data);
    files.push(("config.toml".into(), config));
    Case { name: format!("{}/{what}", base.name), base: i, args: config_args(base), files, expect, key, must_say: None }
}

/// The base cases themselves (expected to succeed), then `per_base` value mutations of each,
/// every text mutation of each, every data mutation of the bases with data files, and the
/// command-line mutations.
pub fn cases(per_base: usize, seed: u64) -> Vec<Case> {
    let bases = bases();
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        out.push(case(&bases, i, "unchanged".into(), base.config.clone().into_bytes(), None, Expect::Same, None));
        let table: toml::Table = base.config.parse().expect("base parses");
        let mut paths = Vec::new();
        leaves(&table, "", &mut paths);
        let mutations = value_mutations();
        let mut made = 0;
        while made < per_base {
            let path = &paths[rng.below(paths.len())];
            let (name, value, expect) = &mutations[rng.below(mutations.len())];
            if only_lengthens(path, name) {
                continue;
            }
            let mut t = table.clone();
            let (p, last) = parent(&mut t, path);
            match value {
                Some(v) => {
                    p.insert(last, v.clone());
                }
                None => {
                    p.remove(&last);
                }
            }
            let text = toml::to_string(&t).expect("serialises");
            out.push(case(&bases, i, format!("{path}={name}"), text.into_bytes(), None, *expect, Some(path.clone())));
            made += 1;
        }
        // An unknown key in every table, and a misspelt key.
        let mut tables = vec![String::new()];
        for p in &paths {
            if let Some((t, _)) = p.rsplit_once('.')
                && !tables.contains(&t.to_string())
            {
                tables.push(t.to_string());
            }
        }
        for t in &tables {
            let mut m = table.clone();
            let target = if t.is_empty() { &mut m } else { parent(&mut m, &format!("{t}.x")).0 };
            target.insert("bogus_key".into(), Value::Integer(1));
            out.push(case(&bases, i, format!("{t}.bogus_key"), toml::to_string(&m).unwrap().into_bytes(), None, Expect::Refused, None));
        }
        let path = &paths[rng.below(paths.len())];
        let mut m = table.clone();
        let (p, last) = parent(&mut m, path);
        let v = p.remove(&last).unwrap();
        p.insert(format!("{last}x"), v);
        out.push(case(&bases, i, format!("{path}-misspelt"), toml::to_string(&m).unwrap().into_bytes(), None, Expect::Refused, None));
        for (what, bytes, expect) in text_mutations(&base.config, &mut rng) {
            out.push(case(&bases, i, what, bytes, None, expect, None));
        }
        for (file, original) in &base.data {
            let mutations = if file.ends_with(".csv") { csv_mutations(original) } else { npy_mutations() };
            for (what, bytes, expect) in mutations {
                out.push(case(
                    &bases,
                    i,
                    format!("{file}:{what}"),
                    base.config.clone().into_bytes(),
                    Some((file.clone(), bytes)),
                    expect,
                    None,
                ));
            }
        }
    }
    out.extend(command_line_cases(&bases));
    out.extend(regression_cases(&bases));
    out
}

/// The inputs that once panicked, aborted or misled, each set on a base case.
fn regression_cases(bases: &[Base]) -> Vec<Case> {
    use Expect::*;
    let mut out = Vec::new();
    let mut set = |base: usize, path: &str, value: Value, expect: Expect, must_say: Option<&'static str>| {
        let mut t: toml::Table = bases[base].config.parse().unwrap();
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().unwrap();
        let mut p = &mut t;
        for part in parts {
            p = p.entry(part.to_string()).or_insert_with(|| Value::Table(Default::default())).as_table_mut().unwrap();
        }
        p.insert(last.to_string(), value.clone());
        let mut c = case(
            bases,
            base,
            format!("regression:{path}={value}"),
            toml::to_string(&t).unwrap().into_bytes(),
            None,
            expect,
            Some(path.into()),
        );
        c.must_say = must_say;
        out.push(c);
    };
    let int = Value::Integer;
    set(5, "model.hidden", Value::Array(vec![int(1 << 62)]), Refused, None);
    set(5, "model.hidden", Value::Array(vec![int(100_000), int(100_000)]), Refused, None);
    set(6, "model.hidden", Value::Array(vec![int(1 << 62)]), Refused, None);
    set(6, "model.hidden", Value::Array(vec![int(1_000_000), int(1_000_000)]), Refused, None);
    set(0, "model.dim", int(100_000), Refused, None);
    set(7, "model.dim", int(1 << 61), Refused, None);
    set(1, "model.samples", int(1_000_000_000_000), Refused, None);
    set(2, "model.samples", int(1 << 61), Refused, None);
    set(0, "replicas", int(1_000_000_000_000), Refused, None);
    set(5, "replicas", int(i64::MAX), Refused, None);
    set(1, "model.kappa", Value::Float(1e308), Refused, None);
    set(1, "model.s", Value::Float(1e200), Either, None);
    set(1, "dynamics.lr", Value::Float(50.0), Either, Some("linear stability"));
    set(
        7,
        "landscape.saddle",
        Value::Table([("kind".to_string(), Value::String("neb".into())), ("images".to_string(), int(1 << 61))].into_iter().collect()),
        Refused,
        None,
    );
    set(1, "landscape.chain_tolerance", Value::Float(1e-300), Either, None);
    set(2, "landscape.outliers", int(1 << 61), Refused, None);
    set(
        0,
        "dynamics.solver",
        Value::Table(
            [("kind".to_string(), Value::String("adaptive".into())), ("tolerance".to_string(), Value::Float(1e-300))].into_iter().collect(),
        ),
        Either,
        None,
    );
    let euler_maruyama = || Value::Table([("kind".to_string(), Value::String("euler-maruyama".into()))].into_iter().collect());
    for (base, dt) in [(0, 1.5), (0, 1e308), (8, 1e308)] {
        let mut t: toml::Table = bases[base].config.parse().unwrap();
        let dynamics = t["dynamics"].as_table_mut().unwrap();
        dynamics.insert("dt".into(), Value::Float(dt));
        dynamics.insert("solver".into(), euler_maruyama());
        let mut c = case(
            bases,
            base,
            format!("regression:euler-maruyama dt = {dt:e}"),
            toml::to_string(&t).unwrap().into_bytes(),
            None,
            Either,
            Some("dynamics.dt".into()),
        );
        c.must_say = Some("linear stability");
        out.push(c);
    }
    out
}

fn text_mutations(config: &str, rng: &mut Rng) -> Vec<(String, Vec<u8>, Expect)> {
    use Expect::*;
    let cut = {
        let chars: Vec<(usize, char)> = config.char_indices().collect();
        chars[rng.below(chars.len() - 1) + 1].0
    };
    let mut non_utf8 = config.as_bytes().to_vec();
    non_utf8.insert(non_utf8.len() / 2, 0xff);
    let first_line = config.lines().next().unwrap();
    vec![
        ("empty".into(), Vec::new(), Refused),
        ("binary".into(), (0..=255u8).cycle().take(700).collect(), Refused),
        ("non-utf8".into(), non_utf8, Refused),
        (format!("truncated-at-{cut}"), config.as_bytes()[..cut].to_vec(), Either),
        ("bom".into(), [b"\xef\xbb\xbf".as_slice(), config.as_bytes()].concat(), Same),
        ("crlf".into(), config.replace('\n', "\r\n").into_bytes(), Same),
        ("comments".into(), format!("# a comment\n{}", config.replace('\n', "  # note\n")).into_bytes(), Same),
        ("duplicate-line".into(), format!("{first_line}\n{config}").into_bytes(), Refused),
        ("nul-bytes".into(), config.replace('=', "=\0").into_bytes(), Refused),
    ]
}

fn csv_mutations(original: &[u8]) -> Vec<(String, Vec<u8>, Expect)> {
    use Expect::*;
    let text = String::from_utf8(original.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let with_line = |i: usize, line: &str| {
        let mut l = lines.clone();
        l[i] = line;
        l.join("\n") + "\n"
    };
    vec![
        ("empty".into(), Vec::new(), Refused),
        ("header-only".into(), format!("{}\n", lines[0]).into_bytes(), Refused),
        ("ragged".into(), with_line(5, "0.1,0.2").into_bytes(), Refused),
        ("extra-column".into(), with_line(5, "0.1,0.2,0.3,0.4").into_bytes(), Refused),
        ("nan".into(), with_line(7, "NaN,0.2,0.3").into_bytes(), Refused),
        ("inf".into(), with_line(7, "inf,0.2,0.3").into_bytes(), Refused),
        ("text-cell".into(), with_line(7, "abc,0.2,0.3").into_bytes(), Refused),
        ("empty-cell".into(), with_line(7, ",0.2,0.3").into_bytes(), Refused),
        ("1e200".into(), with_line(7, "1e200,0.2,0.3").into_bytes(), Either),
        ("1e300-target".into(), with_line(7, "0.1,0.2,1e300").into_bytes(), Either),
        ("binary".into(), (0..=255u8).cycle().take(2000).collect(), Refused),
        ("non-utf8".into(), [original, b"\xff\xfe,1,2\n".as_slice()].concat(), Refused),
        ("bom".into(), [b"\xef\xbb\xbf".as_slice(), original].concat(), Same),
        ("crlf".into(), text.replace('\n', "\r\n").into_bytes(), Same),
        ("no-final-newline".into(), text.trim_end().as_bytes().to_vec(), Same),
        ("blank-lines".into(), text.replace("\n", "\n\n").into_bytes(), Either),
        ("one-row".into(), format!("{}\n{}\n", lines[0], lines[1]).into_bytes(), Either),
        ("one-column".into(), lines.iter().map(|l| l.split(',').next().unwrap()).collect::<Vec<_>>().join("\n").into_bytes(), Either),
        (
            "constant-column".into(),
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| if i == 0 { l.to_string() } else { format!("1.0,{}", l.split_once(',').unwrap().1) })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
            Either,
        ),
        ("semicolons".into(), text.replace(',', ";").into_bytes(), Refused),
        ("quoted".into(), text.replace("x1", "\"x1\"").into_bytes(), Same),
        ("truncated".into(), original[..original.len() / 2].to_vec(), Either),
    ]
}

fn npy_mutations() -> Vec<(String, Vec<u8>, Expect)> {
    use Expect::*;
    let values = npy_values();
    let good = npy("(60, 3)", "<f8", &values);
    let mut nan = values.clone();
    nan[10] = f64::NAN;
    let mut big = values.clone();
    big[10] = 1e200;
    vec![
        ("empty".into(), Vec::new(), Refused),
        ("truncated-data".into(), good[..good.len() - 100].to_vec(), Refused),
        ("truncated-header".into(), good[..40].to_vec(), Refused),
        ("bad-magic".into(), [b"NUMPY!".as_slice(), &good[6..]].concat(), Refused),
        ("huge-shape".into(), npy("(2305843009213693952, 1)", "<f8", &values), Refused),
        ("overflowing-shape".into(), npy("(4611686018427387904, 4)", "<f8", &values), Refused),
        ("shape-too-large".into(), npy("(61, 3)", "<f8", &values), Refused),
        ("shape-too-small".into(), npy("(59, 3)", "<f8", &values), Refused),
        ("three-d".into(), npy("(6, 10, 3)", "<f8", &values), Refused),
        ("zero-rows".into(), npy("(0, 3)", "<f8", &[]), Refused),
        ("big-endian".into(), npy("(60, 3)", ">f8", &values), Refused),
        ("complex".into(), npy("(60, 3)", "<c16", &values), Refused),
        ("object".into(), npy("(60, 3)", "|O", &values), Refused),
        (
            "fortran".into(),
            {
                let text = String::from_utf8_lossy(&good[..128]).replace("'fortran_order': False", "'fortran_order': True ");
                [text.as_bytes(), &good[128..]].concat()
            },
            Refused,
        ),
        ("nan".into(), npy("(60, 3)", "<f8", &nan), Refused),
        ("1e200".into(), npy("(60, 3)", "<f8", &big), Either),
        (
            "garbage-header".into(),
            {
                let mut g = good.clone();
                for b in &mut g[12..40] {
                    *b = b'{';
                }
                g
            },
            Refused,
        ),
        (
            "version-9".into(),
            {
                let mut g = good.clone();
                g[6] = 9;
                g
            },
            Refused,
        ),
    ]
}

fn command_line_cases(bases: &[Base]) -> Vec<Case> {
    let base = &bases[0];
    let mk = |what: &str, args: &[&str], expect| Case {
        name: format!("command-line/{what}"),
        base: 0,
        args: args.iter().map(|s| s.to_string()).collect(),
        files: vec![("config.toml".into(), base.config.clone().into_bytes())],
        expect,
        key: None,
        must_say: None,
    };
    use Expect::*;
    vec![
        mk("seed--1", &["run", "config.toml", "--out", "out", "--seed", "-1"], Refused),
        mk("seed-float", &["run", "config.toml", "--out", "out", "--seed", "1.5"], Refused),
        mk("seed-u64-max", &["run", "config.toml", "--out", "out", "--seed", "18446744073709551615", "--threads", "1"], Either),
        mk("replicas-0", &["run", "config.toml", "--out", "out", "--replicas", "0"], Refused),
        mk("replicas-1e12", &["run", "config.toml", "--out", "out", "--replicas", "1000000000000"], Refused),
        mk("replicas-u64-max", &["run", "config.toml", "--out", "out", "--replicas", "18446744073709551615"], Refused),
        mk("threads-0", &["run", "config.toml", "--out", "out", "--threads", "0"], Refused),
        mk("no-such-config", &["run", "nothing.toml", "--out", "out"], Refused),
        mk("config-is-a-folder", &["run", ".", "--out", "out"], Refused),
        mk("out-is-a-file", &["run", "config.toml", "--out", "config.toml"], Refused),
        mk("no-out", &["run", "config.toml"], Refused),
        mk("unknown-command", &["walk", "config.toml"], Refused),
        mk("landscape-out-is-a-file", &["landscape", "config.toml", "--out", "config.toml"], Refused),
    ]
}
