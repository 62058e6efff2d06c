//! The IDX format of (Fashion-)MNIST: a magic number `0x0000 08 D` (unsigned bytes, D
//! dimensions), D big-endian u32 sizes, then the bytes.

use crate::error::{Error, Result};
use std::path::Path;

/// Parses an IDX file of unsigned bytes: its dimensions and data.
pub fn read_idx(bytes: &[u8], source: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let err = |message: String| Error::Data { path: source.to_path_buf(), message };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(err("not an IDX file (bad magic number)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(err(format!("IDX element type 0x{:02x} is not unsigned bytes (0x08)", bytes[2])));
    }
    let d = bytes[3] as usize;
    let header = 4 + 4 * d;
    if bytes.len() < header {
        return Err(err("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..d).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize).collect();
    let size: usize = dims.iter().product();
    if bytes.len() - header != size {
        return Err(err(format!("IDX dimensions {dims:?} need {size} bytes of data, the file has {}", bytes.len() - header)));
    }
    Ok((dims, bytes[header..].to_vec()))
}
