//! A launch request before it is matched against a kernel: the grid, the
//! `--arg NAME=VALUE` list and the `--out NAME=FILE.npy` list.
//!
//! Values stay uninterpreted text until binding, because whether `x=1.5`
//! names a file or a number depends on the parameter's type. Programs that
//! build launches in memory (tests, differential fuzzing) pass buffers and
//! raw scalar bits directly.

use std::path::PathBuf;

use super::error::LaunchError;
use super::grid::Grid;
use super::npy::HostBuffer;

/// The value given for one kernel parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// Command-line text: a `.npy` path for a pointer parameter, a number for a scalar.
    Text(String),
    /// An in-memory buffer for a pointer parameter.
    Buffer(HostBuffer),
    /// Raw bits of a scalar at the parameter's width.
    Bits(u64),
}

/// A complete launch request.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchSpec {
    pub grid: Grid,
    /// `(parameter name, value)` in the order given.
    pub args: Vec<(String, ArgValue)>,
    /// `(pointer parameter name, output path)` in the order given.
    pub outs: Vec<(String, PathBuf)>,
}

impl LaunchSpec {
    /// Builds a spec from the command line's `--grid`, `--arg` and `--out` strings.
    pub fn from_cli(
        grid: &str,
        args: &[String],
        outs: &[String],
    ) -> Result<LaunchSpec, LaunchError> {
        let grid = Grid::parse(grid)?;
        let mut spec = LaunchSpec {
            grid,
            args: Vec::new(),
            outs: Vec::new(),
        };
        for text in args {
            let (name, value) = split_assignment("--arg", text)?;
            spec.push_arg(name, ArgValue::Text(value.to_string()))?;
        }
        for text in outs {
            let (name, path) = split_assignment("--out", text)?;
            if spec.outs.iter().any(|(n, _)| n == name) {
                return Err(LaunchError::Duplicate {
                    flag: "--out",
                    name: name.to_string(),
                });
            }
            spec.outs.push((name.to_string(), PathBuf::from(path)));
        }
        Ok(spec)
    }

    /// An in-memory spec with no arguments yet.
    pub fn new(grid: Grid) -> LaunchSpec {
        LaunchSpec {
            grid,
            args: Vec::new(),
            outs: Vec::new(),
        }
    }

    /// Adds an argument; a name may be given only once.
    pub fn push_arg(&mut self, name: &str, value: ArgValue) -> Result<(), LaunchError> {
        if self.args.iter().any(|(n, _)| n == name) {
            return Err(LaunchError::Duplicate {
                flag: "--arg",
                name: name.to_string(),
            });
        }
        self.args.push((name.to_string(), value));
        Ok(())
    }

    /// Builder form of [`LaunchSpec::push_arg`] for tests.
    pub fn with_arg(mut self, name: &str, value: ArgValue) -> Result<LaunchSpec, LaunchError> {
        self.push_arg(name, value)?;
        Ok(self)
    }
}

fn split_assignment<'a>(
    flag: &'static str,
    text: &'a str,
) -> Result<(&'a str, &'a str), LaunchError> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.is_empty() => {
            Ok((name.trim(), value))
        }
        _ => Err(LaunchError::Syntax {
            flag,
            text: text.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_command_line() {
        let spec =
            LaunchSpec::from_cli("4", &strings(&["x=a.npy", "n=-3"]), &strings(&["x=o.npy"]))
                .unwrap();
        assert_eq!(spec.args.len(), 2);
        assert_eq!(spec.args[1], ("n".to_string(), ArgValue::Text("-3".into())));
        assert_eq!(spec.outs, vec![("x".to_string(), PathBuf::from("o.npy"))]);
    }

    #[test]
    fn rejects_malformed_and_duplicate_arguments() {
        let err = LaunchSpec::from_cli("1", &strings(&["x"]), &[]).unwrap_err();
        assert!(err.to_string().starts_with("--arg \"x\""), "{err}");
        let err = LaunchSpec::from_cli("1", &strings(&["x=1", "x=2"]), &[]).unwrap_err();
        assert_eq!(
            err,
            LaunchError::Duplicate {
                flag: "--arg",
                name: "x".into()
            }
        );
        let err = LaunchSpec::from_cli("1", &[], &strings(&["=o.npy"])).unwrap_err();
        assert!(matches!(err, LaunchError::Syntax { flag: "--out", .. }));
    }
}
