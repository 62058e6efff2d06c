//! Tables as Apache Parquet files, for pandas, polars and Arrow: typed columns (integers,
//! doubles, booleans, UTF-8 text; doubles may be null), one row group, no compression. The
//! bytes depend only on the table (the writer records `created_by = "sgd-escape VERSION"` and
//! nothing time-dependent), so the same table always gives the same file.

use crate::error::{Error, Result};
use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::path::Path;
use std::sync::Arc;

/// One column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// 64-bit integers.
    Int(Vec<i64>),
    /// Doubles.
    Float(Vec<f64>),
    /// Doubles that may be missing (null).
    OptionalFloat(Vec<Option<f64>>),
    /// Booleans.
    Bool(Vec<bool>),
    /// UTF-8 text.
    Text(Vec<String>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::OptionalFloat(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn schema(&self, name: &str) -> Type {
        let (physical, logical, repetition) = match self {
            Column::Int(_) => (PhysicalType::INT64, None, Repetition::REQUIRED),
            Column::Float(_) => (PhysicalType::DOUBLE, None, Repetition::REQUIRED),
            Column::OptionalFloat(_) => (PhysicalType::DOUBLE, None, Repetition::OPTIONAL),
            Column::Bool(_) => (PhysicalType::BOOLEAN, None, Repetition::REQUIRED),
            Column::Text(_) => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String), Repetition::REQUIRED),
        };
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
            .expect("a primitive column type is valid")
    }
}

fn format_error(e: parquet::errors::ParquetError) -> Error {
    Error::Numerical(format!("cannot encode a Parquet table: {e}"))
}

/// The Parquet file of a table: named columns of equal length.
pub fn parquet_bytes(columns: &[(String, Column)]) -> Result<Vec<u8>> {
    if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != columns[0].1.len()) {
        return Err(Error::Numerical(format!("Parquet column {name} has {} values, the first column {}", c.len(), columns[0].1.len())));
    }
    let fields = columns.iter().map(|(name, c)| Arc::new(c.schema(name))).collect();
    let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build().map_err(format_error)?);
    let properties = Arc::new(WriterProperties::builder().set_created_by(format!("sgd-escape {}", crate::VERSION)).build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties).map_err(format_error)?;
    let mut group = writer.next_row_group().map_err(format_error)?;
    for (_, values) in columns {
        let mut column = group.next_column().map_err(format_error)?.expect("one writer per schema column");
        match values {
            Column::Int(v) => column.typed::<Int64Type>().write_batch(v, None, None),
            Column::Float(v) => column.typed::<DoubleType>().write_batch(v, None, None),
            Column::OptionalFloat(v) => {
                let present: Vec<f64> = v.iter().flatten().copied().collect();
                let levels: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
                column.typed::<DoubleType>().write_batch(&present, Some(&levels), None)
            }
            Column::Bool(v) => column.typed::<BoolType>().write_batch(v, None, None),
            Column::Text(v) => {
                let bytes: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                column.typed::<ByteArrayType>().write_batch(&bytes, None, None)
            }
        }
        .map_err(format_error)?;
        column.close().map_err(format_error)?;
    }
    group.close().map_err(format_error)?;
    writer.into_inner().map_err(format_error)
}

/// Writes a table as a Parquet file, atomically ([`super::atomic_write`]).
pub fn write_parquet(path: &Path, columns: &[(String, Column)]) -> Result<()> {
    super::atomic_write(path, &parquet_bytes(columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    #[test]
    fn a_table_reads_back_with_its_types_and_nulls() {
        let columns = vec![
            ("replica".to_string(), Column::Int(vec![0, 1, 2])),
            ("time".to_string(), Column::Float(vec![1.5, f64::INFINITY, 0.25])),
            ("predicted".to_string(), Column::OptionalFloat(vec![Some(2.0), None, Some(3.0)])),
            ("escaped".to_string(), Column::Bool(vec![true, false, true])),
            ("dynamics.lr".to_string(), Column::Text(vec!["a".into(), "β, ü".into(), String::new()])),
        ];
        let bytes = parquet_bytes(&columns).unwrap();
        assert_eq!(bytes, parquet_bytes(&columns).unwrap(), "the same table gives the same bytes");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, &columns).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
        assert_eq!(reader.metadata().file_metadata().created_by(), Some(format!("sgd-escape {}", crate::VERSION).as_str()));
        let rows: Vec<Vec<Field>> =
            reader.get_row_iter(None).unwrap().map(|r| r.unwrap().get_column_iter().map(|(_, f)| f.clone()).collect()).collect();
        assert_eq!(rows[1][0], Field::Long(1));
        assert_eq!(rows[1][1], Field::Double(f64::INFINITY));
        assert_eq!(rows[1][2], Field::Null);
        assert_eq!(rows[2][2], Field::Double(3.0));
        assert_eq!(rows[1][3], Field::Bool(false));
        assert_eq!(rows[1][4], Field::Str("β, ü".into()));
        let names: Vec<String> = reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["replica", "time", "predicted", "escaped", "dynamics.lr"]);
    }

    #[test]
    fn columns_of_unequal_length_are_refused() {
        let e = parquet_bytes(&[("a".into(), Column::Int(vec![1])), ("b".into(), Column::Float(vec![]))]).unwrap_err();
        assert!(e.to_string().contains("column b has 0 values"), "{e}");
    }
}
