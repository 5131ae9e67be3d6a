//! Binding a [`LaunchSpec`] to a kernel's parameter list: every parameter
//! gets exactly one argument, pointer parameters get `.npy` buffers whose
//! dtype holds the pointee, scalars are parsed per their type, and `--out`
//! requests are checked to name pointer parameters.

use std::path::PathBuf;

use maiac_ir::{FloatType, Type};

use super::address::{buffer_base, MAX_BUFFER_BYTES};
use super::error::LaunchError;
use super::grid::Grid;
use super::npy::HostBuffer;
use super::scalar::parse_scalar;
use super::spec::{ArgValue, LaunchSpec};

/// One parameter of the kernel, as the launch sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelParam {
    pub name: String,
    pub ty: Type,
}

/// The value bound to one parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundArg {
    /// A pointer parameter: buffer `index` of [`BoundLaunch::buffers`].
    Buffer { index: usize },
    /// A scalar parameter: its raw bits at the parameter's width.
    Scalar { bits: u64 },
}

/// A buffer of a pointer parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundBuffer {
    /// The parameter's name.
    pub name: String,
    /// The pointee type (element type of the buffer).
    pub pointee: Type,
    /// The initial contents with the dtype and shape they came with.
    pub host: HostBuffer,
    /// Where the contents came from (`None` for in-memory buffers).
    pub source: Option<PathBuf>,
}

/// A buffer to write back when the kernel is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRequest {
    /// Index into [`BoundLaunch::buffers`].
    pub buffer: usize,
    pub path: PathBuf,
}

/// A launch ready to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundLaunch {
    pub grid: Grid,
    pub params: Vec<KernelParam>,
    /// One per parameter, in parameter order.
    pub args: Vec<BoundArg>,
    /// One per pointer parameter, in parameter order: buffer `i` lives at
    /// [`buffer_base`]`(i)`.
    pub buffers: Vec<BoundBuffer>,
    pub outputs: Vec<OutputRequest>,
}

impl BoundLaunch {
    /// The raw bits passed for parameter `index`: the buffer's base address
    /// for pointers, the scalar's bits otherwise.
    pub fn arg_bits(&self, index: usize) -> u64 {
        match self.args[index] {
            BoundArg::Buffer { index } => buffer_base(index),
            BoundArg::Scalar { bits } => bits,
        }
    }

    /// The initial bytes of every buffer, in buffer order (the memory image
    /// an engine starts from).
    pub fn initial_memory(&self) -> Vec<Vec<u8>> {
        self.buffers.iter().map(|b| b.host.bytes.clone()).collect()
    }
}

/// The `.npy` dtypes that can hold elements of `pointee` (normalized descr
/// strings), first the canonical one; `None` when no buffer can.
pub fn accepted_dtypes(pointee: &Type) -> Option<&'static [&'static str]> {
    Some(match pointee {
        Type::Float(FloatType::F32) => &["<f4"],
        Type::Float(FloatType::F16) => &["<f2"],
        Type::Float(FloatType::F64) => &["<f8"],
        Type::Float(FloatType::BF16) => &["<u2", "|V2"],
        Type::Float(
            FloatType::F8E4M3FN | FloatType::F8E5M2 | FloatType::F8E4M3FNUZ | FloatType::F8E5M2FNUZ,
        ) => &["|u1", "|V1"],
        Type::Int(1) => &["|b1", "|u1"],
        Type::Int(8) => &["|i1", "|u1"],
        // TTIR integers are signless: Triton's `*u16`/`*u32`/`*u64` pointers
        // lower to these too, so the unsigned dtypes are accepted as well.
        Type::Int(16) => &["<i2", "<u2"],
        Type::Int(32) => &["<i4", "<u4"],
        Type::Int(64) | Type::Index => &["<i8", "<u8"],
        _ => return None,
    })
}

/// Binds a launch to the kernel's parameters: by name, or — when the names
/// given do not all match but exactly one `--arg` is given per parameter, in
/// parameter order — by position. Triton 3.2 names every parameter `%argN`
/// and Triton 3.9 renames one that the kernel reassigns (`hi = n` makes the
/// parameter `%hi`), while launch descriptions use the Python names; a name
/// that does match a parameter must then stand at that parameter's position.
pub fn bind(params: &[KernelParam], spec: &LaunchSpec) -> Result<BoundLaunch, LaunchError> {
    let all_named = spec
        .args
        .iter()
        .all(|(n, _)| params.iter().any(|p| &p.name == n));
    if all_named || spec.args.len() != params.len() {
        return bind_named(params, spec);
    }
    let consistent = spec.args.iter().enumerate().all(|(i, (n, _))| {
        params
            .iter()
            .position(|p| &p.name == n)
            .is_none_or(|j| j == i)
    });
    if !consistent {
        return bind_named(params, spec);
    }
    let rename = |name: &String| -> String {
        spec.args
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params[i].name.clone())
            .unwrap_or_else(|| name.clone())
    };
    let positional = LaunchSpec {
        grid: spec.grid,
        args: spec
            .args
            .iter()
            .map(|(n, v)| (rename(n), v.clone()))
            .collect(),
        outs: spec
            .outs
            .iter()
            .map(|(n, p)| (rename(n), p.clone()))
            .collect(),
    };
    bind_named(params, &positional)
}

/// Binds by parameter name.
fn bind_named(params: &[KernelParam], spec: &LaunchSpec) -> Result<BoundLaunch, LaunchError> {
    let param_list = || {
        params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, _) in &spec.args {
        if !params.iter().any(|p| &p.name == name) {
            return Err(LaunchError::UnknownParam {
                flag: "--arg",
                name: name.clone(),
                params: param_list(),
            });
        }
    }
    let mut args = Vec::with_capacity(params.len());
    let mut buffers = Vec::new();
    for param in params {
        let value = spec
            .args
            .iter()
            .find(|(n, _)| n == &param.name)
            .map(|(_, v)| v);
        let Some(value) = value else {
            let hint = if param.ty.is_ptr() {
                "FILE.npy"
            } else {
                "NUMBER"
            };
            return Err(LaunchError::MissingArg {
                name: param.name.clone(),
                ty: param.ty.to_string(),
                hint,
            });
        };
        match &param.ty {
            Type::Ptr { pointee, .. } => {
                let buffer = bind_buffer(param, pointee, value)?;
                args.push(BoundArg::Buffer {
                    index: buffers.len(),
                });
                buffers.push(buffer);
            }
            ty => {
                let bits = match value {
                    ArgValue::Text(text) => {
                        parse_scalar(text, ty).map_err(|reason| LaunchError::BadScalar {
                            name: param.name.clone(),
                            text: text.clone(),
                            reason,
                        })?
                    }
                    ArgValue::Bits(bits) => *bits,
                    ArgValue::Buffer(_) => {
                        return Err(LaunchError::BadScalar {
                            name: param.name.clone(),
                            text: "<buffer>".into(),
                            reason: format!("the parameter is a scalar {ty}, not a pointer"),
                        })
                    }
                };
                args.push(BoundArg::Scalar { bits });
            }
        }
    }
    let mut outputs = Vec::with_capacity(spec.outs.len());
    for (name, path) in &spec.outs {
        let Some(index) = params.iter().position(|p| &p.name == name) else {
            return Err(LaunchError::UnknownParam {
                flag: "--out",
                name: name.clone(),
                params: param_list(),
            });
        };
        let BoundArg::Buffer { index: buffer } = args[index] else {
            return Err(LaunchError::BadOut {
                name: name.clone(),
                reason: format!(
                    "`{name}` is a scalar {} parameter; only pointer parameters have buffers to write",
                    params[index].ty
                ),
            });
        };
        outputs.push(OutputRequest {
            buffer,
            path: path.clone(),
        });
    }
    Ok(BoundLaunch {
        grid: spec.grid,
        params: params.to_vec(),
        args,
        buffers,
        outputs,
    })
}

fn bind_buffer(
    param: &KernelParam,
    pointee: &Type,
    value: &ArgValue,
) -> Result<BoundBuffer, LaunchError> {
    let (host, source) = match value {
        ArgValue::Text(path) => {
            let path = PathBuf::from(path);
            let host = HostBuffer::read(&path).map_err(|error| LaunchError::Npy {
                name: param.name.clone(),
                path: path.clone(),
                error,
            })?;
            (host, Some(path))
        }
        ArgValue::Buffer(host) => (host.clone(), None),
        ArgValue::Bits(_) => {
            return Err(LaunchError::BadBuffer {
                name: param.name.clone(),
                reason: format!(
                    "the parameter is a pointer ({}); pass a .npy file",
                    param.ty
                ),
            })
        }
    };
    let Some(accepted) = accepted_dtypes(pointee) else {
        return Err(LaunchError::BadBuffer {
            name: param.name.clone(),
            reason: format!("buffers of {pointee} elements are not supported"),
        });
    };
    let found = host.dtype.descr();
    if !accepted.contains(&found.as_str()) {
        let expected = match accepted {
            [one] => format!("'{one}'"),
            [first, rest @ ..] => {
                let rest: Vec<String> = rest.iter().map(|d| format!("'{d}'")).collect();
                format!("'{first}' (or {})", rest.join(", "))
            }
            [] => String::new(),
        };
        return Err(LaunchError::DtypeMismatch {
            name: param.name.clone(),
            path: source.clone().unwrap_or_else(|| PathBuf::from("<memory>")),
            found,
            ty: param.ty.to_string(),
            expected,
        });
    }
    if host.bytes.len() as u64 > MAX_BUFFER_BYTES {
        return Err(LaunchError::BadBuffer {
            name: param.name.clone(),
            reason: format!(
                "{} bytes is larger than the 4 GiB a buffer may have",
                host.bytes.len()
            ),
        });
    }
    Ok(BoundBuffer {
        name: param.name.clone(),
        pointee: pointee.clone(),
        host,
        source,
    })
}

/// Writes every `--out` buffer with its input's dtype and shape.
/// `final_memory[i]` holds the final bytes of buffer `i`.
pub fn write_outputs(launch: &BoundLaunch, final_memory: &[Vec<u8>]) -> Result<(), LaunchError> {
    for out in &launch.outputs {
        let buffer = &launch.buffers[out.buffer];
        let write_err = |reason: String| LaunchError::Write {
            name: buffer.name.clone(),
            path: out.path.clone(),
            reason,
        };
        let bytes = final_memory
            .get(out.buffer)
            .ok_or_else(|| write_err("the run produced no contents for this buffer".into()))?;
        let host = HostBuffer::new(
            buffer.host.dtype.clone(),
            buffer.host.shape.clone(),
            bytes.clone(),
        )
        .map_err(|e| write_err(e.to_string()))?;
        host.write(&out.path)
            .map_err(|e| write_err(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::npy::NpyDtype;

    fn params() -> Vec<KernelParam> {
        vec![
            KernelParam {
                name: "x".into(),
                ty: Type::ptr(Type::F32),
            },
            KernelParam {
                name: "n".into(),
                ty: Type::I32,
            },
            KernelParam {
                name: "y".into(),
                ty: Type::ptr(Type::Float(FloatType::BF16)),
            },
        ]
    }

    fn buffer(descr: &str, n: usize) -> ArgValue {
        let dtype = NpyDtype::parse(descr).unwrap();
        let bytes = vec![0; n * dtype.item_size()];
        ArgValue::Buffer(HostBuffer::new(dtype, vec![n], bytes).unwrap())
    }

    fn spec(args: Vec<(&str, ArgValue)>) -> LaunchSpec {
        let mut spec = LaunchSpec::new(Grid::parse("2").unwrap());
        for (name, value) in args {
            spec.push_arg(name, value).unwrap();
        }
        spec
    }

    #[test]
    fn binds_buffers_and_scalars_in_parameter_order() {
        let s = spec(vec![
            ("y", buffer("<V2", 3)),
            ("n", ArgValue::Text("-5".into())),
            ("x", buffer("<f4", 4)),
        ]);
        let bound = bind(&params(), &s).unwrap();
        assert_eq!(bound.args[0], BoundArg::Buffer { index: 0 });
        assert_eq!(bound.args[2], BoundArg::Buffer { index: 1 });
        assert_eq!(bound.arg_bits(0), 1 << 32);
        assert_eq!(bound.arg_bits(2), 2 << 32);
        assert_eq!(bound.arg_bits(1), 0xFFFF_FFFB);
        assert_eq!(bound.buffers[1].name, "y");
    }

    #[test]
    fn missing_and_extra_arguments_are_named() {
        let s = spec(vec![("x", buffer("<f4", 4)), ("y", buffer("<u2", 1))]);
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.contains("missing argument `n`") && err.contains("--arg n=NUMBER"),
            "{err}"
        );
        let s = spec(vec![
            ("x", buffer("<f4", 4)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<u2", 1)),
            ("z", ArgValue::Bits(1)),
        ]);
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.contains("--arg z") && err.contains("no parameter `z`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_dtype_says_what_was_expected() {
        let s = spec(vec![
            ("x", buffer("<f8", 4)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<u2", 1)),
        ]);
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.contains("'<f8'") && err.contains("expected '<f4'"),
            "{err}"
        );
        let s = spec(vec![
            ("x", buffer("<f4", 4)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<f2", 1)),
        ]);
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(err.contains("expected '<u2' (or '|V2')"), "{err}");
    }

    #[test]
    fn outputs_must_name_pointer_parameters() {
        let mut s = spec(vec![
            ("x", buffer("<f4", 4)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<u2", 1)),
        ]);
        s.outs.push(("n".into(), PathBuf::from("n.npy")));
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.starts_with("--out n") && err.contains("scalar"),
            "{err}"
        );
        s.outs[0].0 = "q".into();
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.starts_with("--out q") && err.contains("no parameter"),
            "{err}"
        );
    }

    #[test]
    fn pointer_parameters_need_buffers() {
        let s = spec(vec![
            ("x", ArgValue::Bits(0)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<u2", 1)),
        ]);
        assert!(matches!(
            bind(&params(), &s),
            Err(LaunchError::BadBuffer { .. })
        ));
        let s = spec(vec![
            ("x", ArgValue::Text("/nonexistent/x.npy".into())),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("<u2", 1)),
        ]);
        let err = bind(&params(), &s).unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/x.npy") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn writes_outputs_with_the_input_dtype_and_shape() {
        let dir = std::env::temp_dir().join(format!("maiac-launch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("y.npy");
        let mut s = spec(vec![
            ("x", buffer("<f4", 4)),
            ("n", ArgValue::Bits(1)),
            ("y", buffer("|V2", 2)),
        ]);
        s.outs.push(("y".into(), out.clone()));
        let bound = bind(&params(), &s).unwrap();
        let mut memory = bound.initial_memory();
        memory[1] = vec![1, 2, 3, 4];
        write_outputs(&bound, &memory).unwrap();
        let written = HostBuffer::read(&out).unwrap();
        assert_eq!(written.dtype.descr(), "|V2");
        assert_eq!(written.shape, vec![2]);
        assert_eq!(written.bytes, vec![1, 2, 3, 4]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
