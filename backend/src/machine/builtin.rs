//! The built-in machines (TOML files under `backend/machines/`, embedded in
//! the crate) and `--machine NAME|FILE` resolution.

use std::path::Path;

use super::{Machine, MachineError};

/// The default machine's TOML text.
pub const MAIA200_LIKE: &str = include_str!("../../machines/maia200-like.toml");
/// The test machine's TOML text.
pub const TINY: &str = include_str!("../../machines/tiny.toml");

const BUILTINS: [(&str, &str); 2] = [("maia200-like", MAIA200_LIKE), ("tiny", TINY)];

/// Name of the machine used when none is given.
pub const DEFAULT_MACHINE: &str = "maia200-like";

/// Names of the built-in machines.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}

/// A built-in machine by name.
pub fn builtin(name: &str) -> Option<Machine> {
    let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name)?;
    // The embedded files are tested to parse; a failure here is a build defect.
    Machine::from_toml(text, name).ok()
}

/// Resolves `--machine NAME|FILE`: a built-in name, else a path to a TOML
/// description.
pub fn resolve(name_or_path: &str) -> Result<Machine, MachineError> {
    if let Some(machine) = builtin(name_or_path) {
        return Ok(machine);
    }
    let path = Path::new(name_or_path);
    if !path.is_file() {
        let known = builtin_names().collect::<Vec<_>>().join(", ");
        return Err(MachineError::Unknown {
            name: name_or_path.to_string(),
            known,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| MachineError::Io {
        path: name_or_path.to_string(),
        source,
    })?;
    Machine::from_toml(&text, name_or_path)
}

/// The machine `--machine` selects, or the default when absent.
pub fn resolve_or_default(name_or_path: Option<&str>) -> Result<Machine, MachineError> {
    resolve(name_or_path.unwrap_or(DEFAULT_MACHINE))
}

/// The whole `maiac machine [--machine NAME|FILE] [--json]` output: the
/// JSON summary (pretty-printed) or the text rendering.
pub fn describe(name_or_path: Option<&str>, json: bool) -> Result<String, MachineError> {
    let machine = resolve_or_default(name_or_path)?;
    Ok(if json {
        let mut text = serde_json::to_string_pretty(&machine.summary_json()).unwrap_or_default();
        text.push('\n');
        text
    } else {
        machine.render_text()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_resolve() {
        for name in builtin_names() {
            let m = resolve(name).unwrap();
            assert_eq!(m.name, name);
        }
        assert_eq!(resolve_or_default(None).unwrap().name, DEFAULT_MACHINE);
        let json: serde_json::Value =
            serde_json::from_str(&describe(Some("tiny"), true).unwrap()).unwrap();
        assert_eq!(json["name"], "tiny");
        assert!(describe(None, false)
            .unwrap()
            .starts_with("machine maia200-like"));
    }

    #[test]
    fn resolves_files_and_reports_unknown_names() {
        let dir = std::env::temp_dir().join(format!("maiac-machine-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("custom.toml");
        std::fs::write(&path, TINY.replace("name = \"tiny\"", "name = \"custom\"")).unwrap();
        let m = resolve(path.to_str().unwrap()).unwrap();
        assert_eq!(m.name, "custom");
        std::fs::write(&path, "name = 3").unwrap();
        let err = resolve(path.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, MachineError::Parse { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = resolve("no-such-machine").unwrap_err();
        assert!(err.to_string().contains("maia200-like, tiny"), "{err}");
    }
}
