//! Small real data sets compiled into the binary, from the scikit-learn 1.9.1 wheel
//! (`data/sklearn/`, BSD-3-Clause; the original sets are from the UCI repository, see
//! data/README.md for attribution, shapes and checksums).

use super::Table;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const DIABETES_DATA: &[u8] = include_bytes!("../../../../data/sklearn/diabetes_data_raw.csv.gz");
const DIABETES_TARGET: &[u8] = include_bytes!("../../../../data/sklearn/diabetes_target.csv.gz");
const WINE: &[u8] = include_bytes!("../../../../data/sklearn/wine_data.csv");
const BREAST_CANCER: &[u8] = include_bytes!("../../../../data/sklearn/breast_cancer.csv");
const DIGITS: &[u8] = include_bytes!("../../../../data/sklearn/digits.csv.gz");

/// Names of the built-in sets.
pub const VENDORED: &[&str] = &["diabetes", "wine", "breast-cancer", "digits"];

fn source(name: &str) -> PathBuf {
    PathBuf::from(format!("(built-in {name})"))
}

/// Parses CSV rows after `skip` leading lines (the scikit-learn files start with a line
/// `rows,columns,class names…`).
fn csv_after(bytes: &[u8], skip: usize, name: &str) -> Result<Table> {
    let mut start = 0;
    for _ in 0..skip {
        start += bytes[start..].iter().position(|&b| b == b'\n').map(|i| i + 1).unwrap_or(bytes.len() - start);
    }
    Table::parse_csv(&bytes[start..], &source(name), false)
}

fn rename(mut table: Table, names: &[&str]) -> Table {
    table.names = names.iter().map(|s| s.to_string()).collect();
    table
}

/// Loads a built-in set as a table whose last column is the target:
/// - `diabetes`: 442 × 10 raw clinical features (age, sex, bmi, bp, s1–s6) + disease
///   progression after one year (regression);
/// - `wine`: 178 × 13 chemical measurements + cultivar class 0–2;
/// - `breast-cancer`: 569 × 30 cell-nucleus features + class (0 malignant, 1 benign);
/// - `digits`: 1797 × 64 pixel intensities 0–16 of 8 × 8 images + digit 0–9.
pub fn load_vendored(name: &str) -> Result<Table> {
    let path = source(name);
    match name {
        "diabetes" => {
            let features = super::table::gunzip(DIABETES_DATA, &path)?;
            let text = String::from_utf8_lossy(&features).replace(' ', ",");
            let x = Table::parse_csv(text.as_bytes(), &path, false)?;
            let y = Table::parse_csv(&super::table::gunzip(DIABETES_TARGET, &path)?, &path, false)?;
            let mut values = Vec::with_capacity(x.rows * (x.columns + 1));
            for r in 0..x.rows {
                values.extend_from_slice(&x.values[r * x.columns..(r + 1) * x.columns]);
                values.push(y.values[r]);
            }
            let names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"];
            Ok(Table { source: path, names: names.iter().map(|s| s.to_string()).collect(), rows: x.rows, columns: x.columns + 1, values })
        }
        "wine" => Ok(rename(
            csv_after(WINE, 1, name)?,
            &[
                "alcohol",
                "malic_acid",
                "ash",
                "alcalinity_of_ash",
                "magnesium",
                "total_phenols",
                "flavanoids",
                "nonflavanoid_phenols",
                "proanthocyanins",
                "color_intensity",
                "hue",
                "od280/od315_of_diluted_wines",
                "proline",
                "class",
            ],
        )),
        "breast-cancer" => {
            let mut t = csv_after(BREAST_CANCER, 1, name)?;
            t.names = (1..t.columns).map(|c| format!("feature {c}")).chain(["class".to_string()]).collect();
            Ok(t)
        }
        "digits" => {
            let mut t = Table::parse_csv(&super::table::gunzip(DIGITS, &path)?, &path, false)?;
            t.names = (0..64).map(|p| format!("pixel ({}, {})", p / 8, p % 8)).chain(["digit".to_string()]).collect();
            Ok(t)
        }
        other => Err(Error::invalid("data.source", format!("{other:?}"), format!("is not a built-in set ({})", VENDORED.join(", ")))),
    }
}

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Whether the Fashion-MNIST files are in `dir` (Debian's package installed).
pub fn fashion_mnist_available(dir: &Path) -> bool {
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        .iter()
        .all(|f| dir.join(f).exists())
}

/// Loads Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, MIT licence; Debian package
/// `dataset-fashion-mnist`) from `dir`: the `train` (60 000) or `test` (10 000) split, at most
/// `limit` images, as a table of 784 pixel columns scaled to [0, 1] and the class 0–9 last.
/// MNIST itself is not packaged anywhere this tool can reach; Fashion-MNIST, with the same
/// format and size, stands in for it.
pub fn load_fashion_mnist(dir: &Path, split: &str, limit: Option<usize>) -> Result<Table> {
    let prefix = match split {
        "train" => "train",
        "test" => "t10k",
        other => return Err(Error::invalid("data.split", format!("{other:?}"), "must be \"train\" or \"test\"")),
    };
    let images_path = dir.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let labels_path = dir.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    for p in [&images_path, &labels_path] {
        if !p.exists() {
            return Err(Error::Data {
                path: p.clone(),
                message: "Fashion-MNIST file not found; install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or set data.path".into(),
            });
        }
    }
    let (image_dims, images) = super::idx::read_idx(&super::table::read(&images_path)?, &images_path)?;
    let (label_dims, labels) = super::idx::read_idx(&super::table::read(&labels_path)?, &labels_path)?;
    if image_dims.len() != 3 || label_dims.len() != 1 || image_dims[0] != label_dims[0] {
        return Err(Error::Data {
            path: images_path,
            message: format!("image shape {image_dims:?} does not match label shape {label_dims:?}"),
        });
    }
    let pixels = image_dims[1] * image_dims[2];
    let rows = limit.map_or(image_dims[0], |l| l.min(image_dims[0]));
    let mut values = Vec::with_capacity(rows * (pixels + 1));
    for r in 0..rows {
        values.extend(images[r * pixels..(r + 1) * pixels].iter().map(|&p| p as f64 / 255.0));
        values.push(labels[r] as f64);
    }
    let names = (0..pixels).map(|p| format!("pixel {p}")).chain(["class".to_string()]).collect();
    Ok(Table { source: dir.join(split), names, rows, columns: pixels + 1, values })
}
