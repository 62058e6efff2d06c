//! Raw numeric tables read from files: CSV (with or without a header row) and NumPy `.npy`
//! (1-D or 2-D, C order, little-endian float or integer). Every malformed input is an
//! [`Error::Data`] naming the file and, where there is one, the row and column.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A rows × columns table of finite numbers, row-major, with the column names.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Where it came from (a path, or the name of a built-in set).
    pub source: PathBuf,
    /// Column names (from the header, or `column 1`, `column 2`, …).
    pub names: Vec<String>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// Entries, row-major.
    pub values: Vec<f64>,
}

impl Table {
    /// Entry (row, column), 0-based.
    #[inline]
    pub fn get(&self, row: usize, column: usize) -> f64 {
        self.values[row * self.columns + column]
    }

    /// 64-bit FNV-1a hash of the shape and the entries' bit patterns: the checksum documented
    /// for the built-in data sets (data/README.md).
    pub fn checksum(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&(self.rows as u64).to_le_bytes());
        eat(&(self.columns as u64).to_le_bytes());
        for v in &self.values {
            eat(&v.to_bits().to_le_bytes());
        }
        h
    }

    /// Parses CSV text. `header`: the first row names the columns. Rows are numbered from 1
    /// as in the file (the header is row 1 when present); columns from 1.
    pub fn parse_csv(text: &[u8], source: &Path, header: bool) -> Result<Table> {
        let data_err = |message: String| Error::Data { path: source.to_path_buf(), message };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text);
        let mut names: Vec<String> = Vec::new();
        let mut values = Vec::new();
        let mut columns = 0;
        let mut rows = 0;
        for (i, record) in reader.records().enumerate() {
            let row = i + 1;
            let record = record.map_err(|e| data_err(format!("row {row}: {e}")))?;
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            if header && names.is_empty() {
                names = record.iter().map(str::to_string).collect();
                columns = names.len();
                continue;
            }
            if columns == 0 {
                columns = record.len();
                names = (1..=columns).map(|c| format!("column {c}")).collect();
            }
            if record.len() != columns {
                let against = if header { "the header has" } else { "the first row has" };
                return Err(data_err(format!("row {row} has {} fields, but {against} {columns}", record.len())));
            }
            for (c, field) in record.iter().enumerate() {
                let value: f64 = field
                    .parse()
                    .map_err(|_| data_err(format!("row {row}, column {} (`{}`): `{field}` is not a number", c + 1, names[c])))?;
                if !value.is_finite() {
                    return Err(data_err(format!("row {row}, column {} (`{}`): value `{field}` is not finite", c + 1, names[c])));
                }
                values.push(value);
            }
            rows += 1;
        }
        if columns == 0 {
            return Err(data_err("the file is empty (no rows)".into()));
        }
        if rows == 0 {
            return Err(data_err("the file has a header but no data rows".into()));
        }
        Ok(Table { source: source.to_path_buf(), names, rows, columns, values })
    }

    /// Reads a CSV file (see [`Table::parse_csv`]).
    pub fn from_csv(path: &Path, header: bool) -> Result<Table> {
        let bytes = read(path)?;
        Table::parse_csv(&bytes, path, header)
    }

    /// Reads a NumPy `.npy` file (format versions 1–3): a 1-D array becomes one column, a 2-D
    /// array a table. dtypes: little-endian `f8`, `f4`, `i8`, `i4`, `i2`, `u1`, `i1`, `b1`;
    /// C order only. Non-finite entries are errors naming the row and column.
    pub fn from_npy(path: &Path) -> Result<Table> {
        let bytes = read(path)?;
        Table::parse_npy(&bytes, path)
    }

    /// Parses the bytes of a `.npy` file (see [`Table::from_npy`]).
    pub fn parse_npy(bytes: &[u8], source: &Path) -> Result<Table> {
        let data_err = |message: String| Error::Data { path: source.to_path_buf(), message };
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(data_err("not a .npy file (missing the \\x93NUMPY magic string)".into()));
        }
        let (header_len, start) = match bytes[6] {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
            v => return Err(data_err(format!("unsupported .npy format version {v}"))),
        };
        let header = bytes.get(start..start + header_len).ok_or_else(|| data_err("truncated header".into()))?;
        let header = String::from_utf8_lossy(header);
        let field = |key: &str| -> Result<String> {
            let at = header.find(&format!("'{key}'")).ok_or_else(|| data_err(format!("header has no '{key}' entry: {header}")))?;
            let rest = header[at + key.len() + 2..].trim_start().trim_start_matches(':').trim_start();
            let end = if rest.starts_with('(') {
                rest.find(')').map(|i| i + 1)
            } else if let Some(quoted) = rest.strip_prefix('\'') {
                quoted.find('\'').map(|i| i + 2)
            } else {
                rest.find([',', '}'])
            }
            .ok_or_else(|| data_err(format!("cannot parse '{key}' in header: {header}")))?;
            Ok(rest[..end].trim().to_string())
        };
        let descr = field("descr")?.trim_matches('\'').to_string();
        if field("fortran_order")? != "False" {
            return Err(data_err("Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into()));
        }
        let shape_text = field("shape")?;
        let dims: Vec<usize> = shape_text
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().map_err(|_| data_err(format!("cannot parse shape {shape_text}"))))
            .collect::<Result<_>>()?;
        let (rows, columns) = match dims.as_slice() {
            [n] => (*n, 1),
            [n, m] => (*n, *m),
            _ => return Err(data_err(format!("shape {shape_text} has {} dimensions; 1 or 2 are supported", dims.len()))),
        };
        if rows == 0 || columns == 0 {
            return Err(data_err(format!("the array is empty (shape {shape_text})")));
        }
        let (size, read_one): (usize, fn(&[u8]) -> f64) = match descr.as_str() {
            "<f8" => (8, |b| f64::from_le_bytes(b.try_into().expect("8 bytes"))),
            "<f4" => (4, |b| f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64),
            "<i8" => (8, |b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64),
            "<i4" => (4, |b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64),
            "<i2" => (2, |b| i16::from_le_bytes(b.try_into().expect("2 bytes")) as f64),
            "|u1" => (1, |b| b[0] as f64),
            "|i1" => (1, |b| b[0] as i8 as f64),
            "|b1" => (1, |b| (b[0] != 0) as u8 as f64),
            other => return Err(data_err(format!("dtype {other} is not supported (use float64, float32 or an integer type)"))),
        };
        let body = &bytes[start + header_len..];
        let needed = crate::limits::product(&[rows, columns, size])
            .ok_or_else(|| data_err(format!("shape {shape_text} of {descr} is larger than any file can hold")))?;
        if body.len() != needed {
            return Err(data_err(format!("shape {shape_text} of {descr} needs {needed} data bytes, the file has {}", body.len())));
        }
        let mut values = Vec::with_capacity(rows * columns);
        for (i, chunk) in body.chunks_exact(size).enumerate() {
            let v = read_one(chunk);
            if !v.is_finite() {
                return Err(data_err(format!("row {}, column {}: value {v} is not finite", i / columns + 1, i % columns + 1)));
            }
            values.push(v);
        }
        Ok(Table { source: source.to_path_buf(), names: (1..=columns).map(|c| format!("column {c}")).collect(), rows, columns, values })
    }
}

/// Reads a whole file, gunzipping it when its name ends in `.gz`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { action: "cannot read data file", path: path.to_path_buf(), source })?;
    if path.extension().is_some_and(|e| e == "gz") { gunzip(&bytes, path) } else { Ok(bytes) }
}

/// Decompresses gzip bytes.
pub(crate) fn gunzip(bytes: &[u8], source: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Error::Data { path: source.to_path_buf(), message: format!("not valid gzip data: {e}") })?;
    Ok(out)
}
