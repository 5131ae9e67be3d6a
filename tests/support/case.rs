//! Case folders (`kernel.ttir` + `case.json` + `.npy` buffers), as in
//! `shared/corpus` and `tests/fixtures/{corpus,kernels}`: discovery, loading
//! and output comparison with exactly the rules of
//! `shared/tools/check_case.py` (bf16/fp8 viewed as floats, integers and
//! bools compared exactly, floats with `isclose(atol, rtol, equal_nan)`).

use std::path::{Path, PathBuf};

use maiac_ir::semantics::convert::float_to_f64;
use maiac_ir::FloatType;
use maiac_runtime_emu::launch::{ArgValue, Grid, HostBuffer, LaunchSpec};
use serde_json::Value as Json;

/// One argument of a case.
#[derive(Clone, Debug)]
pub struct CaseArg {
    pub name: String,
    /// Triton's signature type (`*fp32`, `*bf16`, `i32`, ...).
    pub ty: String,
    /// The input buffer file (pointer arguments).
    pub file: Option<PathBuf>,
    /// The scalar value as command-line text (scalar arguments).
    pub value: Option<String>,
    /// The expected final buffer, for buffers the kernel writes.
    pub expected: Option<PathBuf>,
}

/// A case folder.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub grid: [u32; 3],
    pub args: Vec<CaseArg>,
    pub atol: f64,
    pub rtol: f64,
}

/// The workspace's fixture folder (`tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every folder under `root` (recursively) that holds a `case.json`, sorted.
pub fn discover_cases(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("case.json").is_file() {
            found.push(dir.clone());
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
    found.sort();
    found
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Case {
    /// Reads `dir/case.json`.
    pub fn load(dir: &Path) -> Result<Case, String> {
        let path = dir.join("case.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta: Json =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let grid_values = meta["grid"].as_array().ok_or("case.json: missing `grid`")?;
        let mut grid = [1u32; 3];
        for (slot, v) in grid.iter_mut().zip(grid_values) {
            *slot = v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or("case.json: bad grid")?;
        }
        let args = meta["args"]
            .as_array()
            .ok_or("case.json: missing `args`")?
            .iter()
            .map(|a| {
                Ok(CaseArg {
                    name: a["name"]
                        .as_str()
                        .ok_or("case.json: argument without a name")?
                        .to_string(),
                    ty: a["type"].as_str().unwrap_or("").to_string(),
                    file: a["file"].as_str().map(|f| dir.join(f)),
                    value: (!a["value"].is_null()).then(|| json_text(&a["value"])),
                    expected: a["expected"].as_str().map(|f| dir.join(f)),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let name = meta["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        Ok(Case {
            name,
            dir: dir.to_path_buf(),
            kernel: dir.join("kernel.ttir"),
            grid,
            args,
            atol: meta["atol"].as_f64().unwrap_or(0.0),
            rtol: meta["rtol"].as_f64().unwrap_or(0.0),
        })
    }

    /// The launch the case describes (files and numbers as on the command line).
    pub fn launch_spec(&self) -> Result<LaunchSpec, String> {
        let grid =
            Grid::new(self.grid[0], self.grid[1], self.grid[2]).map_err(|e| e.to_string())?;
        let mut spec = LaunchSpec::new(grid);
        for arg in &self.args {
            let text = match (&arg.file, &arg.value) {
                (Some(file), _) => file.display().to_string(),
                (None, Some(value)) => value.clone(),
                (None, None) => {
                    return Err(format!(
                        "argument {} has neither a file nor a value",
                        arg.name
                    ))
                }
            };
            spec.push_arg(&arg.name, ArgValue::Text(text))
                .map_err(|e| e.to_string())?;
        }
        Ok(spec)
    }

    /// The arguments with an expected output.
    pub fn outputs(&self) -> impl Iterator<Item = &CaseArg> {
        self.args.iter().filter(|a| a.expected.is_some())
    }
}

/// The float format a buffer of Triton type `ty` and dtype holds, if any.
fn float_view(ty: &str, buffer: &HostBuffer) -> Option<FloatType> {
    match ty {
        "*bf16" => return Some(FloatType::BF16),
        "*fp8e4nv" => return Some(FloatType::F8E4M3FN),
        "*fp8e5" => return Some(FloatType::F8E5M2),
        "*fp8e4b8" => return Some(FloatType::F8E4M3FNUZ),
        "*fp8e5b16" => return Some(FloatType::F8E5M2FNUZ),
        _ => {}
    }
    match (buffer.dtype.kind(), buffer.dtype.item_size()) {
        ('f', 2) => Some(FloatType::F16),
        ('f', 4) => Some(FloatType::F32),
        ('f', 8) => Some(FloatType::F64),
        _ => None,
    }
}

fn element(bytes: &[u8], size: usize, i: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw[..size].copy_from_slice(&bytes[i * size..(i + 1) * size]);
    u64::from_le_bytes(raw)
}

/// Compares a produced buffer with the expected one like `check_case.py`.
pub fn compare_buffers(
    name: &str,
    ty: &str,
    got: &HostBuffer,
    expected: &HostBuffer,
    atol: f64,
    rtol: f64,
) -> Result<(), String> {
    if got.shape != expected.shape || got.dtype.item_size() != expected.dtype.item_size() {
        return Err(format!(
            "{name}: got {}{:?}, expected {}{:?}",
            got.dtype, got.shape, expected.dtype, expected.shape
        ));
    }
    let size = got.dtype.item_size();
    let n = got.num_elements();
    match float_view(ty, expected) {
        None => {
            let bad = (0..n)
                .filter(|&i| element(&got.bytes, size, i) != element(&expected.bytes, size, i))
                .count();
            if bad > 0 {
                let first = (0..n)
                    .find(|&i| element(&got.bytes, size, i) != element(&expected.bytes, size, i))
                    .unwrap_or(0);
                return Err(format!(
                    "{name}: {bad}/{n} elements differ, first at flat index {first}"
                ));
            }
        }
        Some(format) => {
            // check_case.py views the data as float32 before comparing.
            let as_f32 =
                |bytes: &[u8], i: usize| float_to_f64(element(bytes, size, i), format) as f32;
            let mut bad = 0;
            let mut first = None;
            for i in 0..n {
                let (g, e) = (as_f32(&got.bytes, i), as_f32(&expected.bytes, i));
                let close = if g.is_nan() || e.is_nan() {
                    g.is_nan() && e.is_nan()
                } else if g.is_infinite() || e.is_infinite() {
                    g == e
                } else {
                    (f64::from(g) - f64::from(e)).abs() <= atol + rtol * f64::from(e).abs()
                };
                if !close {
                    bad += 1;
                    first.get_or_insert((i, g, e));
                }
            }
            if let Some((i, g, e)) = first {
                return Err(format!(
                    "{name}: {bad}/{n} elements off, first at flat index {i}: got {g:?}, expected {e:?}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maiac_runtime_emu::launch::NpyDtype;

    fn buffer(descr: &str, bytes: Vec<u8>) -> HostBuffer {
        let dtype = NpyDtype::parse(descr).unwrap();
        let n = bytes.len() / dtype.item_size();
        HostBuffer::new(dtype, vec![n], bytes).unwrap()
    }

    fn f32s(values: &[f32]) -> HostBuffer {
        buffer("<f4", values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    #[test]
    fn floats_compare_with_tolerance_and_equal_nans() {
        let expected = f32s(&[1.0, f32::NAN, f32::INFINITY]);
        assert!(compare_buffers(
            "x",
            "*fp32",
            &f32s(&[1.0 + 1e-6, f32::NAN, f32::INFINITY]),
            &expected,
            1e-5,
            0.0
        )
        .is_ok());
        let err = compare_buffers(
            "x",
            "*fp32",
            &f32s(&[1.1, f32::NAN, f32::INFINITY]),
            &expected,
            1e-5,
            1e-5,
        )
        .unwrap_err();
        assert!(
            err.contains("1/3 elements off, first at flat index 0"),
            "{err}"
        );
        assert!(compare_buffers(
            "x",
            "*fp32",
            &f32s(&[1.0, 0.0, f32::INFINITY]),
            &expected,
            1.0,
            1.0
        )
        .is_err());
        assert!(compare_buffers(
            "x",
            "*fp32",
            &f32s(&[1.0, f32::NAN, f32::NEG_INFINITY]),
            &expected,
            1.0,
            1.0
        )
        .is_err());
    }

    #[test]
    fn raw_bit_buffers_are_viewed_as_their_float_type() {
        // bf16 1.0 (0x3F80) vs 1.0078125 (0x3F81): one bf16 ulp apart.
        let got = buffer("<u2", vec![0x81, 0x3F]);
        let expected = buffer("<u2", vec![0x80, 0x3F]);
        assert!(compare_buffers("c", "*bf16", &got, &expected, 0.01, 0.0).is_ok());
        assert!(compare_buffers("c", "*bf16", &got, &expected, 0.001, 0.0).is_err());
        // Viewed as integers the same buffers must match exactly.
        assert!(compare_buffers("c", "*i16", &got, &expected, 1.0, 1.0).is_err());
    }

    #[test]
    fn shapes_and_item_sizes_must_match() {
        let err =
            compare_buffers("x", "*fp32", &f32s(&[1.0, 2.0]), &f32s(&[1.0]), 0.0, 0.0).unwrap_err();
        assert!(err.contains("expected"), "{err}");
    }
}
