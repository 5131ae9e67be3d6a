//! User-facing diagnostics in rustc's style: a message, the TTIR
//! `file:line:col` with a caret excerpt, and the Python source line taken from
//! the op's `loc`.

use std::fmt;

use crate::dfg::SrcPos;
use crate::location::PySource;

/// An error (or note) a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// The TTIR file the position refers to.
    pub file: String,
    /// Where in the TTIR text (if known).
    pub pos: Option<SrcPos>,
    /// How many columns the caret underline spans (at least 1).
    pub span_len: u32,
    /// The Python source position from the op's `loc`, if any.
    pub python: Option<PySource>,
    /// Extra `= note: ...` lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with a message and no location yet.
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            file: String::new(),
            pos: None,
            span_len: 1,
            python: None,
            notes: Vec::new(),
        }
    }

    /// Attaches a TTIR position.
    pub fn at(mut self, file: &str, pos: Option<SrcPos>) -> Diagnostic {
        self.file = file.to_string();
        self.pos = pos;
        self
    }

    /// Sets the underline length.
    pub fn with_span_len(mut self, len: u32) -> Diagnostic {
        self.span_len = len.max(1);
        self
    }

    /// Attaches the Python source position.
    pub fn with_python(mut self, python: Option<PySource>) -> Diagnostic {
        self.python = python;
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Renders the diagnostic; `source` is the TTIR text, used for the
    /// excerpt (omitted when not available).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!("error: {}\n", self.message);
        let gutter = self.pos.map(|p| p.line.to_string().len()).unwrap_or(1);
        let pad = " ".repeat(gutter);
        if let Some(pos) = self.pos {
            out += &format!("{pad}--> {}:{}:{}\n", self.file, pos.line, pos.col);
            let line_text = source.and_then(|s| s.lines().nth(pos.line.saturating_sub(1) as usize));
            if let Some(text) = line_text {
                let text: String = text.chars().take(200).collect();
                let caret_col = (pos.col.saturating_sub(1) as usize).min(text.chars().count());
                let indent: String = text
                    .chars()
                    .take(caret_col)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out += &format!("{pad} |\n{} | {}\n", pos.line, text);
                out += &format!("{pad} | {indent}{}\n", "^".repeat(self.span_len as usize));
            }
        } else if !self.file.is_empty() {
            out += &format!("{pad}--> {}\n", self.file);
        }
        if let Some(py) = &self.python {
            out += &format!("{pad} = python: {py}\n");
        }
        for note in &self.notes {
            out += &format!("{pad} = note: {note}\n");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_excerpt_and_python_line() {
        let d = Diagnostic::new("type mismatch")
            .at("k.ttir", Some(SrcPos { line: 2, col: 5 }))
            .with_span_len(3)
            .with_python(Some(PySource {
                file: "kernels.py".into(),
                line: 12,
                col: 9,
            }));
        let text = d.render(Some("module {\n    %x = arith.addi\n}"));
        assert!(text.contains("--> k.ttir:2:5"), "{text}");
        assert!(text.contains("2 |     %x = arith.addi"), "{text}");
        assert!(text.contains("  |     ^^^"), "{text}");
        assert!(text.contains("python: kernels.py:12:9"), "{text}");
    }
}
