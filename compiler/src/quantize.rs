//! `maiac quantize`: OCP MX block quantization of an `.npy` array along its
//! last axis (the numerics live in `maiac_ir::numerics::mx`; this is the
//! file handling around them).

use std::path::Path;

use maiac_ir::numerics::mx::{quantize_rows, MxElement};
use maiac_runtime_emu::launch::npy::{HostBuffer, NpyDtype};

/// The `--format` names and their element formats.
pub fn parse_format(name: &str) -> Result<MxElement, String> {
    Ok(match name {
        "mxfp8-e4m3" => MxElement::E4M3,
        "mxfp8-e5m2" => MxElement::E5M2,
        "mxfp6-e3m2" => MxElement::E3M2,
        "mxfp6-e2m3" => MxElement::E2M3,
        "mxfp4" => MxElement::E2M1,
        other => {
            return Err(format!(
                "unknown format `{other}`: expected mxfp8-e4m3, mxfp8-e5m2, mxfp6-e3m2, mxfp6-e2m3 or mxfp4"
            ))
        }
    })
}

/// Quantizes `input` (`<f4`, last axis a multiple of 32) and writes the
/// codes (`uint8`, input shape; mxfp4 packed two per byte, even element in the
/// low nibble, last axis halved) and the E8M0 scales (`uint8`, `[..., n/32]`).
pub fn quantize_command(
    input: &Path,
    format: &str,
    codes_out: &Path,
    scales_out: &Path,
) -> Result<(), String> {
    let element = parse_format(format)?;
    let buffer = HostBuffer::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    if buffer.dtype.descr() != "<f4" {
        return Err(format!(
            "{}: expected a float32 array (`<f4`), found `{}`",
            input.display(),
            buffer.dtype.descr()
        ));
    }
    let Some(&row_len) = buffer.shape.last() else {
        return Err(format!(
            "{}: expected an array with at least one axis, found a scalar",
            input.display()
        ));
    };
    let values: Vec<f32> = buffer
        .bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let array = quantize_rows(&values, row_len, element)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    let mut codes_shape = buffer.shape.clone();
    let codes = array.storage_codes();
    if element == MxElement::E2M1 {
        *codes_shape.last_mut().expect("checked non-empty") = row_len / 2;
    }
    let mut scales_shape = buffer.shape.clone();
    *scales_shape.last_mut().expect("checked non-empty") = row_len / 32;
    let u8_dtype = NpyDtype::new('u', 1);
    let write = |shape: Vec<usize>, bytes: Vec<u8>, path: &Path| -> Result<(), String> {
        HostBuffer::new(u8_dtype.clone(), shape, bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .write(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(codes_shape, codes, codes_out)?;
    write(scales_shape, array.scales.clone(), scales_out)
}
