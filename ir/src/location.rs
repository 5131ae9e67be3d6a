//! MLIR source locations (`loc(...)`) and where they point in Python.
//!
//! Triton attaches a location to every op: `"file":line:col`, a name wrapping
//! another location (`"x"(#loc3)`), `callsite(callee at caller)`, `fused[...]`
//! or `unknown`. Aliases (`#loc7 = loc(...)`) may be defined before or after
//! the module and referenced before their definition, so an alias is kept as
//! its own node and resolved lazily.

use cranelift_entity::PrimaryMap;

use crate::entities::Loc;

/// One node of a location tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LocData {
    /// `loc(unknown)`.
    Unknown,
    /// `loc("file.py":line:col)`.
    File { file: String, line: u32, col: u32 },
    /// `loc("name"(child))` or `loc("name")`.
    Name { name: String, child: Option<Loc> },
    /// `loc(callsite(callee at caller))`.
    CallSite { callee: Loc, caller: Loc },
    /// `loc(fused<metadata>[a, b, ...])`.
    Fused {
        metadata: Option<String>,
        locs: Vec<Loc>,
    },
    /// A use of the alias `#<name>`; `target` is filled in when the alias
    /// definition is seen (it may come later in the file).
    Alias { name: String, target: Option<Loc> },
}

/// A Python source position, the user-facing location of an op.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PySource {
    pub file: String,
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for PySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// The arena of all locations of a module plus the alias definitions in the
/// order they appeared (so the printer can reproduce them).
#[derive(Clone, Debug, Default)]
pub struct Locations {
    pub data: PrimaryMap<Loc, LocData>,
    /// Alias definitions `#name = loc(...)`: (name, location), in source order.
    pub alias_defs: Vec<(String, Loc)>,
    /// Index of the alias definitions that were printed before the module
    /// (Triton puts some before and some after); the rest are printed after.
    pub aliases_before_module: usize,
}

impl Locations {
    /// Adds a location node.
    pub fn push(&mut self, data: LocData) -> Loc {
        self.data.push(data)
    }

    /// The `unknown` location (allocated on first use).
    pub fn unknown(&mut self) -> Loc {
        if let Some((loc, _)) = self
            .data
            .iter()
            .find(|(_, d)| matches!(d, LocData::Unknown))
        {
            return loc;
        }
        self.data.push(LocData::Unknown)
    }

    /// Follows alias indirections (cycle-safe).
    pub fn resolve(&self, mut loc: Loc) -> Loc {
        for _ in 0..=self.data.len() {
            match &self.data[loc] {
                LocData::Alias {
                    target: Some(t), ..
                } => loc = *t,
                _ => return loc,
            }
        }
        loc
    }

    /// The Python source position a user should see for this location: the
    /// name wrapper's child, the caller of a call site (the user's kernel line
    /// rather than Triton's `standard.py`), the first resolvable fused part.
    pub fn python_source(&self, loc: Loc) -> Option<PySource> {
        self.python_source_depth(loc, 0)
    }

    fn python_source_depth(&self, loc: Loc, depth: usize) -> Option<PySource> {
        if depth > 64 {
            return None;
        }
        match &self.data[self.resolve(loc)] {
            LocData::Unknown | LocData::Alias { .. } => None,
            LocData::File { file, line, col } => Some(PySource {
                file: file.clone(),
                line: *line,
                col: *col,
            }),
            LocData::Name { child, .. } => {
                child.and_then(|c| self.python_source_depth(c, depth + 1))
            }
            LocData::CallSite { callee, caller } => self
                .python_source_depth(*caller, depth + 1)
                .or_else(|| self.python_source_depth(*callee, depth + 1)),
            LocData::Fused { locs, .. } => locs
                .iter()
                .find_map(|l| self.python_source_depth(*l, depth + 1)),
        }
    }

    /// The variable name Triton recorded for this location, if any (`"x"(...)`).
    pub fn name_hint(&self, loc: Loc) -> Option<&str> {
        match &self.data[self.resolve(loc)] {
            LocData::Name { name, .. } => Some(name),
            _ => None,
        }
    }
}
