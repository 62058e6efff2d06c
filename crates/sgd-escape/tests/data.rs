//! Data loading: the built-in sets have their documented shapes and checksums
//! (data/README.md) and the feature sums and class counts scikit-learn 1.9.1 reports,
//! Fashion-MNIST loads from Debian's package, the label maps and standardisation do what they
//! say, and every malformed input is an error naming the file, row and column.

mod common;

use sgd_escape::data::{DataSpec, FASHION_MNIST_DIR, LabelMap, Scale, Table, build, load_fashion_mnist, load_vendored};
use std::path::Path;

/// (name, rows, columns, checksum, feature sum, target sum, class counts) — the sums and
/// counts from scikit-learn's own loaders (`load_diabetes(scaled=False)` etc.).
type SetFacts = (&'static str, usize, usize, u64, f64, f64, &'static [usize]);

const SETS: [SetFacts; 4] = [
    ("diabetes", 442, 11, 0xfb88_26d3_9f27_1218, 276404.2336, 67243.0, &[]),
    ("wine", 178, 14, 0xe58d_6583_af83_d5ec, 159975.295999, 167.0, &[59, 71, 48]),
    ("breast-cancer", 569, 31, 0xaa4e_4bb3_e4a4_b9ff, 1056474.4596356, 357.0, &[212, 357]),
    ("digits", 1797, 65, 0xc2ca_67ae_26e0_3257, 561718.0, 8070.0, &[178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
];

#[test]
fn built_in_sets_have_documented_shapes_checksums_and_sums() {
    for (name, rows, columns, checksum, feature_sum, target_sum, counts) in SETS {
        let t = load_vendored(name).unwrap();
        assert_eq!((t.rows, t.columns), (rows, columns), "{name}");
        assert_eq!(t.checksum(), checksum, "{name}: {:016x}", t.checksum());
        let features: f64 = (0..t.rows).flat_map(|r| (0..t.columns - 1).map(move |c| (r, c))).map(|(r, c)| t.get(r, c)).sum();
        let targets: f64 = (0..t.rows).map(|r| t.get(r, t.columns - 1)).sum();
        assert!((features / feature_sum - 1.0).abs() < 1e-12, "{name}: {features} vs {feature_sum}");
        assert!((targets - target_sum).abs() < 1e-9, "{name}: {targets}");
        if !counts.is_empty() {
            let d = build(&t, &DataSpec { labels: LabelMap::OneHot, ..Default::default() }).unwrap();
            assert_eq!(d.outputs, counts.len(), "{name}");
            for (k, &count) in counts.iter().enumerate() {
                assert_eq!((0..d.len()).filter(|&mu| d.target(mu)[k] == 1.0).count(), count, "{name} class {k}");
            }
        }
    }
    let err = load_vendored("iris").unwrap_err();
    assert!(err.to_string().contains("iris") && err.is_invalid_input(), "{err}");
}

/// Fashion-MNIST from Debian's `dataset-fashion-mnist` (installed by .ci/run).
#[test]
fn fashion_mnist_loads_from_the_debian_package() {
    if !common::fashion_mnist_for_tests() {
        return;
    }
    let dir = Path::new(FASHION_MNIST_DIR);
    let train = load_fashion_mnist(dir, "train", None).unwrap();
    assert_eq!((train.rows, train.columns), (60_000, 785));
    assert_eq!(train.checksum(), 0xa8e0_ff37_9647_8488, "{:016x}", train.checksum());
    let test = load_fashion_mnist(dir, "test", Some(100)).unwrap();
    assert_eq!((test.rows, test.columns), (100, 785));
    assert!(test.values.iter().all(|v| (0.0..=255.0).contains(v)));
    assert!((0..100).all(|r| (0.0..=1.0).contains(&test.get(r, 0)) && test.get(r, 784).fract() == 0.0));
    // Each class has 6000 training images.
    let d = build(&train, &DataSpec { labels: LabelMap::OneHot, scale: Scale::None, ..Default::default() }).unwrap();
    assert_eq!(d.outputs, 10);
    for k in 0..10 {
        assert_eq!((0..d.len()).filter(|&mu| d.target(mu)[k] == 1.0).count(), 6000);
    }
    let missing = load_fashion_mnist(Path::new("/nonexistent"), "train", None).unwrap_err().to_string();
    assert!(missing.contains("dataset-fashion-mnist"), "{missing}");
    let split = load_fashion_mnist(dir, "validation", None).unwrap_err().to_string();
    assert!(split.contains("data.split") && split.contains("validation"), "{split}");
}

#[test]
fn label_maps_subsetting_and_standardisation() {
    let t = load_vendored("wine").unwrap();
    // Binary ±1 from a class set, first 100 rows, selected features.
    let spec = DataSpec {
        features: Some(vec![0, 12]),
        labels: LabelMap::Binary { positive: vec![1, 2] },
        first: Some(100),
        scale: Scale::Standardize,
        ..Default::default()
    };
    let d = build(&t, &spec).unwrap();
    assert_eq!((d.len(), d.features, d.outputs), (100, 2, 1));
    for mu in 0..100 {
        let class = t.get(mu, 13);
        assert_eq!(d.target(mu)[0], if class >= 1.0 { 1.0 } else { -1.0 });
    }
    // Standardised columns: mean 0, variance 1 over the rows used.
    for j in 0..2 {
        let col: Vec<f64> = (0..100).map(|mu| d.row(mu)[j]).collect();
        let mean = col.iter().sum::<f64>() / 100.0;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 100.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12, "{mean} {var}");
    }
    // By default the data are as read.
    let raw = build(&t, &DataSpec { first: Some(3), ..Default::default() }).unwrap();
    assert_eq!(raw.row(0)[0], 14.23);
    assert_eq!(raw.target(2), &[t.get(2, 13)]);
    // Constant columns (digits' blank corner pixels) are centred, not divided by zero.
    let digits = build(&load_vendored("digits").unwrap(), &DataSpec { scale: Scale::Standardize, ..Default::default() }).unwrap();
    assert!(digits.x.iter().all(|v| v.is_finite()));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn expect_error(result: sgd_escape::Result<Table>, path: &Path, fragments: &[&str]) {
    let message = result.unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    for f in fragments {
        assert!(message.contains(f), "`{f}` not in: {message}");
    }
}

#[test]
fn malformed_csv_is_an_error_naming_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write(d, "empty.csv", b"");
    expect_error(Table::from_csv(&p, true), &p, &["empty"]);
    let p = write(d, "header_only.csv", b"a,b\n");
    expect_error(Table::from_csv(&p, true), &p, &["no data rows"]);
    let p = write(d, "ragged.csv", b"a,b,c\n1,2,3\n4,5\n");
    expect_error(Table::from_csv(&p, true), &p, &["row 3", "2 fields", "3"]);
    let p = write(d, "nan.csv", b"a,b\n1,2\n3,NaN\n");
    expect_error(Table::from_csv(&p, true), &p, &["row 3", "column 2", "`b`", "not finite"]);
    let p = write(d, "text.csv", b"1,2\n3,x\n");
    expect_error(Table::from_csv(&p, false), &p, &["row 2", "column 2", "not a number"]);
    let ok = Table::from_csv(&write(d, "ok.csv", b"1,2\n3,4\n"), false).unwrap();
    assert_eq!((ok.rows, ok.columns, ok.values.clone()), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
    // Wrong shapes for the data set: target or feature out of range, target among features,
    // non-integer classes.
    let spec = |s: DataSpec| build(&ok, &s).unwrap_err().to_string();
    assert!(spec(DataSpec { target: Some(5), ..Default::default() }).contains("target column 6 does not exist"));
    assert!(spec(DataSpec { features: Some(vec![0, 7]), ..Default::default() }).contains("feature column 8 does not exist"));
    assert!(spec(DataSpec { features: Some(vec![1]), target: Some(1), ..Default::default() }).contains("both a feature and the target"));
    let frac = Table::from_csv(&write(d, "frac.csv", b"1,0.5\n"), false).unwrap();
    let message = build(&frac, &DataSpec { labels: LabelMap::OneHot, ..Default::default() }).unwrap_err().to_string();
    assert!(message.contains("row 1, column 2") && message.contains("not an integer"), "{message}");
}

/// A `.npy` file as NumPy writes it (format 1.0, header padded to 64 bytes).
fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn npy_files_load_and_malformed_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = Table::from_npy(&write(d, "a.npy", &npy("<f8", "(3, 2)", &body))).unwrap();
    assert_eq!((t.rows, t.columns, t.get(2, 1)), (3, 2, 6.0));
    let t = Table::from_npy(&write(
        d,
        "b.npy",
        &npy("<f4", "(4,)", &[1.5f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()),
    ))
    .unwrap();
    assert_eq!((t.rows, t.columns, t.get(0, 0)), (4, 1, 1.5));
    let t = Table::from_npy(&write(d, "c.npy", &npy("|u1", "(2, 2)", &[0, 255, 7, 9]))).unwrap();
    assert_eq!(t.values, vec![0.0, 255.0, 7.0, 9.0]);
    let p = write(d, "short.npy", &npy("<f8", "(3, 2)", &body[..40]));
    expect_error(Table::from_npy(&p), &p, &["48 data bytes", "40"]);
    let mut nan = body.clone();
    nan[24..32].copy_from_slice(&f64::NAN.to_le_bytes());
    let p = write(d, "nan.npy", &npy("<f8", "(3, 2)", &nan));
    expect_error(Table::from_npy(&p), &p, &["row 2, column 2", "not finite"]);
    let p = write(d, "3d.npy", &npy("<f8", "(1, 3, 2)", &body));
    expect_error(Table::from_npy(&p), &p, &["3 dimensions"]);
    let p = write(d, "complex.npy", &npy("<c16", "(3,)", &body));
    expect_error(Table::from_npy(&p), &p, &["<c16", "not supported"]);
    let p = write(d, "junk.npy", b"hello world, not numpy");
    expect_error(Table::from_npy(&p), &p, &["not a .npy file"]);
    let p = write(d, "empty.npy", &npy("<f8", "(0, 2)", &[]));
    expect_error(Table::from_npy(&p), &p, &["empty"]);
}

/// Linear regression on a user's CSV file is fitted to the data as given: θ*, L* and the
/// Hessian eigenvalues equal the closed forms of the raw data (x with mean 1 and standard
/// deviation 2, and an intercept column), to 1e-10; with `standardize = true` they equal the
/// closed forms of the standardised inputs, and the statistics used are reported.
#[test]
fn linear_regression_fits_the_data_as_given() {
    use sgd_escape::experiment::{Config, prepare};
    let dir = tempfile::tempdir().unwrap();
    let n = 500;
    let mut rows = String::from("one,x,y\n");
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..n {
        // Deterministic pseudo-normal values: x = 1 + 2z, y = 0.5x + 0.9ξ.
        let z = ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 3.4;
        let xi = ((i as f64 * 0.414_213_562_3).fract() - 0.5) * 3.4;
        let (x, y) = (1.0 + 2.0 * z, 0.5 * (1.0 + 2.0 * z) + 0.9 * xi);
        rows.push_str(&format!("1,{x},{y}\n"));
        xs.push(x);
        ys.push(y);
    }
    let csv = write(dir.path(), "user.csv", rows.as_bytes());
    let mean = |f: &dyn Fn(usize) -> f64| (0..n).map(f).sum::<f64>() / n as f64;
    let run = |features: &str, standardize: bool| {
        let text = format!(
            "[model]\nkind = \"linear-regression\"\n[data]\nsource = \"csv\"\npath = \"{}\"\nfeatures = {features}\nstandardize = {standardize}\n\
             [dynamics]\nkind = \"sgd\"\nlr = 0.01\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n",
            csv.display()
        );
        prepare(&Config::from_toml(&text, Path::new("user.toml")).unwrap(), Path::new(".")).unwrap()
    };
    let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{what}: {a} vs {b}");

    // One feature, as given: θ* = E[xy]/E[x²], L* = ½(E[y²] − E[xy]²/E[x²]), H = E[x²].
    let (sxx, sxy, syy) = (mean(&|i| xs[i] * xs[i]), mean(&|i| xs[i] * ys[i]), mean(&|i| ys[i] * ys[i]));
    let p = run("[2]", false);
    close(p.start.theta[0], sxy / sxx, "θ*");
    close(p.start.loss, 0.5 * (syy - sxy * sxy / sxx), "L*");
    close(p.start.hessian_eigenvalues[0], sxx, "h*");
    assert!(p.data.as_ref().unwrap().standardization.is_none());
    assert!((sxx - 5.0).abs() < 0.5, "the inputs have E[x²] ≈ 1 + 2² = 5: {sxx}");

    // With the intercept column: the 2 × 2 normal equations, solved here by Cramer's rule.
    let (a, b, c) = (1.0, mean(&|i| xs[i]), sxx);
    let (ry0, ry1) = (mean(&|i| ys[i]), sxy);
    let det = a * c - b * b;
    let theta = [(c * ry0 - b * ry1) / det, (a * ry1 - b * ry0) / det];
    let loss = 0.5 * (syy - theta[0] * ry0 - theta[1] * ry1);
    let (tr, disc) = (a + c, ((a - c) * (a - c) + 4.0 * b * b).sqrt());
    let p = run("[1, 2]", false);
    close(p.start.theta[0], theta[0], "intercept");
    close(p.start.theta[1], theta[1], "slope");
    close(p.start.loss, loss, "L* with intercept");
    close(p.start.hessian_eigenvalues[0], 0.5 * (tr - disc), "smaller eigenvalue");
    close(p.start.hessian_eigenvalues[1], 0.5 * (tr + disc), "larger eigenvalue");
    // `model.data` is shorthand for the same file with every column but the last as inputs.
    let text = format!(
        "[model]\nkind = \"linear-regression\"\ndata = \"{}\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.01\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n",
        csv.display()
    );
    let shorthand = prepare(&Config::from_toml(&text, Path::new("user.toml")).unwrap(), Path::new(".")).unwrap();
    assert_eq!(shorthand.start.theta, p.start.theta);

    // Standardised on request: x' = (x − mean)/std, and the statistics are reported.
    let (mx, sd) = (b, (sxx - b * b).sqrt());
    let xs_std: Vec<f64> = xs.iter().map(|x| (x - mx) / sd).collect();
    let (s2, sy) = (mean(&|i| xs_std[i] * xs_std[i]), mean(&|i| xs_std[i] * ys[i]));
    let p = run("[2]", true);
    close(p.start.theta[0], sy / s2, "θ* standardised");
    close(p.start.loss, 0.5 * (syy - sy * sy / s2), "L* standardised");
    close(p.start.hessian_eigenvalues[0], 1.0, "h* standardised");
    let s = p.data.as_ref().unwrap().standardization.as_ref().unwrap();
    close(s.mean[0], mx, "reported mean");
    close(s.inv_std[0], 1.0 / sd, "reported 1/std");
}

/// Class labels under a classification label map must be exact, moderate integers: 2.5 and
/// 1e19 are errors naming the file, the row and the column.
#[test]
fn class_labels_must_be_moderate_integers() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, row) in [("2.5", 3), ("1e19", 4)] {
        let text =
            format!("x,class\n0.1,0\n0.2,1\n{}", if row == 3 { format!("0.3,{bad}\n0.4,1\n") } else { format!("0.3,1\n0.4,{bad}\n") });
        let p = write(dir.path(), "labels.csv", text.as_bytes());
        let table = Table::from_csv(&p, true).unwrap();
        for labels in [LabelMap::OneHot, LabelMap::Binary { positive: vec![1] }] {
            let message = build(&table, &DataSpec { labels: labels.clone(), ..Default::default() }).unwrap_err().to_string();
            for fragment in [p.display().to_string(), format!("row {row}"), "column 2".into(), bad.replace("1e19", "10000000000000000000")]
            {
                assert!(message.contains(&fragment), "{labels:?}: `{fragment}` not in: {message}");
            }
        }
    }
}

/// `standardize_target`: a regression target scaled to mean 0, variance 1 over the rows used,
/// the scaling recorded (alone, or beside the features'); a `[test]` set follows its training
/// set's statistics, features and target; a classification target is refused naming the key.
#[test]
fn regression_targets_can_be_standardised() {
    use sgd_escape::data::build_with;
    use sgd_escape::experiment::config::TrainConfig;
    use sgd_escape::experiment::train::resolve;
    let t = load_vendored("diabetes").unwrap();
    let spec = DataSpec { first: Some(400), scale_target: Scale::Standardize, ..Default::default() };
    let (d, s) = build_with(&t, &spec, None).unwrap();
    let s = s.unwrap();
    assert!(!s.scales_features() && s.inv_std.is_empty());
    let target = s.target.unwrap();
    let raw: Vec<f64> = (0..400).map(|r| t.get(r, 10)).collect();
    let mean = raw.iter().sum::<f64>() / 400.0;
    let sd = (raw.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 400.0).sqrt();
    assert!((target.mean - mean).abs() < 1e-12 && (target.inv_std * sd - 1.0).abs() < 1e-12);
    let y_mean = d.y.iter().sum::<f64>() / 400.0;
    let y_var = d.y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / 400.0;
    assert!(y_mean.abs() < 1e-12 && (y_var - 1.0).abs() < 1e-12, "{y_mean} {y_var}");
    assert_eq!(d.row(0)[0], t.get(0, 0), "the features as read");
    // A held-out set scaled with the training statistics, features and target.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.toml");
    std::fs::write(
        &file,
        "[model]\nkind = \"mlp\"\nhidden = [2]\nactivation = \"tanh\"\n[data]\nsource = \"diabetes\"\nsamples = 400\nstandardize = true\nstandardize_target = true\n[test]\nsource = \"diabetes\"\nskip = 400\n[train]\nlr = 0.01\n",
    )
    .unwrap();
    let trained = resolve(&TrainConfig::load(&file).unwrap(), dir.path()).unwrap();
    let scaling = trained.standardization.as_ref().unwrap();
    let target = scaling.target.unwrap();
    assert!(scaling.scales_features() && (target.mean - mean).abs() < 1e-12);
    let test = trained.test.as_ref().unwrap();
    assert_eq!(test.len(), 42);
    assert!((test.y[0] - (t.get(400, 10) - mean) * target.inv_std).abs() < 1e-12);
    assert!((test.row(0)[0] - (t.get(400, 0) - scaling.mean[0]) * scaling.inv_std[0]).abs() < 1e-12);
    // Only regression targets.
    std::fs::write(&file, "[model]\nkind = \"mlp\"\n[data]\nsource = \"wine\"\nstandardize_target = true\n[train]\nlr = 0.01\n").unwrap();
    let e = resolve(&TrainConfig::load(&file).unwrap(), dir.path()).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("data.standardize_target"), "{e}");
}
