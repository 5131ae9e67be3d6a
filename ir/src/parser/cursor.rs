//! A character cursor over TTIR text with MLIR's lexical rules (identifiers,
//! SSA names, strings, numbers, `//` comments), tracking line and column.

use crate::dfg::SrcPos;
use crate::diagnostic::Diagnostic;

/// Scanning state.
pub struct Cursor<'a> {
    text: &'a [u8],
    pub pos: usize,
    pub line: u32,
    pub col: u32,
    pub file: String,
}

pub type PResult<T> = Result<T, Diagnostic>;

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str, file: &str) -> Cursor<'a> {
        Cursor {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
            col: 1,
            file: file.to_string(),
        }
    }

    pub fn src_pos(&self) -> SrcPos {
        SrcPos {
            line: self.line,
            col: self.col,
        }
    }

    /// An error at the current position.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message).at(&self.file, Some(self.src_pos()))
    }

    /// An error at a remembered position.
    pub fn error_at(&self, pos: SrcPos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message).at(&self.file, Some(pos))
    }

    /// The position of the next token (after whitespace).
    pub fn src_pos_after_ws(&mut self) -> SrcPos {
        self.skip_ws();
        self.src_pos()
    }

    /// Consumes `s` only if it follows immediately (no whitespace).
    pub fn eat_no_ws(&mut self, s: &str) -> bool {
        if self.text[self.pos..].starts_with(s.as_bytes()) {
            for _ in 0..s.len() {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    /// The first non-space byte after a `,` that comes next.
    pub fn peek_after_comma(&mut self) -> Option<u8> {
        self.skip_ws();
        let mut i = self.pos + 1;
        while matches!(self.text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        self.text.get(i).copied()
    }

    /// A snapshot of the position, for backtracking.
    pub fn save(&self) -> (usize, u32, u32) {
        (self.pos, self.line, self.col)
    }

    /// The text from byte offset `start` (a saved `pos`) to the cursor.
    pub fn text_since(&self, start: usize) -> &'a str {
        std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("")
    }

    /// Returns to a snapshot.
    pub fn restore(&mut self, s: (usize, u32, u32)) {
        (self.pos, self.line, self.col) = s;
    }

    /// Steps back over a `{` just consumed as part of `<{`.
    pub fn unread_brace(&mut self) {
        self.pos -= 1;
        self.col -= 1;
    }

    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.text.len()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = *self.text.get(self.pos)?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(c)
    }

    /// Skips whitespace and `//` comments.
    pub fn skip_ws(&mut self) {
        loop {
            match self.text.get(self.pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => {
                    self.bump();
                }
                Some(b'/') if self.text.get(self.pos + 1) == Some(&b'/') => {
                    while let Some(c) = self.text.get(self.pos) {
                        if *c == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    /// The next non-space byte, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    /// Whether the remaining text starts with `s` (after whitespace).
    pub fn looking_at(&mut self, s: &str) -> bool {
        self.skip_ws();
        self.text[self.pos..].starts_with(s.as_bytes())
    }

    /// Consumes `s` if it comes next.
    pub fn eat(&mut self, s: &str) -> bool {
        if self.looking_at(s) {
            for _ in 0..s.len() {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    /// Consumes `s` or fails.
    pub fn expect(&mut self, s: &str) -> PResult<()> {
        if self.eat(s) {
            Ok(())
        } else {
            let found = self.describe_next();
            Err(self.error(format!("expected `{s}`, found {found}")))
        }
    }

    /// Consumes keyword `kw` (an identifier, not a prefix of a longer one).
    pub fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        if rest.starts_with(kw.as_bytes()) && !rest.get(kw.len()).is_some_and(|&c| is_ident_char(c))
        {
            for _ in 0..kw.len() {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    pub fn expect_keyword(&mut self, kw: &str) -> PResult<()> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            let found = self.describe_next();
            Err(self.error(format!("expected `{kw}`, found {found}")))
        }
    }

    /// A short description of what comes next, for error messages.
    pub fn describe_next(&mut self) -> String {
        self.skip_ws();
        if self.pos >= self.text.len() {
            return "end of file".to_string();
        }
        let end = (self.pos + 1..self.text.len().min(self.pos + 24))
            .find(|&i| matches!(self.text[i], b' ' | b'\n' | b'\t' | b'\r'))
            .unwrap_or(self.text.len().min(self.pos + 24));
        format!("`{}`", String::from_utf8_lossy(&self.text[self.pos..end]))
    }

    /// A bare identifier: letters, digits, `_`, `$`, `.` (MLIR's bare-id).
    pub fn ident(&mut self) -> PResult<String> {
        self.skip_ws();
        let start = self.pos;
        match self.text.get(self.pos) {
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
            _ => {
                let found = self.describe_next();
                return Err(self.error(format!("expected an identifier, found {found}")));
            }
        }
        while self
            .text
            .get(self.pos)
            .is_some_and(|&c| is_ident_char(c) || c == b'.')
        {
            self.bump();
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// An identifier without dots (e.g. `f32`, `tf32`).
    pub fn word(&mut self) -> PResult<String> {
        self.skip_ws();
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(|&c| is_ident_char(c)) {
            self.bump();
        }
        if start == self.pos {
            let found = self.describe_next();
            return Err(self.error(format!("expected a keyword, found {found}")));
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// The name after a sigil (`%`, `^`, `#`, `@`): identifier chars plus `.`/`$`/`-`.
    pub fn sigil_name(&mut self, sigil: u8) -> PResult<String> {
        self.skip_ws();
        if self.text.get(self.pos) != Some(&sigil) {
            let found = self.describe_next();
            return Err(self.error(format!("expected `{}`, found {found}", sigil as char)));
        }
        self.bump();
        if sigil == b'@' && self.text.get(self.pos) == Some(&b'"') {
            return self.string();
        }
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(|&c| is_ident_char(c) || c == b'.' || c == b'-')
        {
            self.bump();
        }
        if start == self.pos {
            return Err(self.error(format!("expected a name after `{}`", sigil as char)));
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// A double-quoted string with MLIR escapes (`\n`, `\"`, `\\`, `\XX` hex).
    pub fn string(&mut self) -> PResult<String> {
        self.skip_ws();
        if self.text.get(self.pos) != Some(&b'"') {
            let found = self.describe_next();
            return Err(self.error(format!("expected a string, found {found}")));
        }
        let start = self.src_pos();
        self.bump();
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None | Some(b'\n') => {
                    return Err(self.error_at(start, "unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    Some(b'n') => bytes.push(b'\n'),
                    Some(b't') => bytes.push(b'\t'),
                    Some(b'"') => bytes.push(b'"'),
                    Some(b'\\') => bytes.push(b'\\'),
                    Some(h1) if h1.is_ascii_hexdigit() => {
                        let h2 = self.bump().filter(|c| c.is_ascii_hexdigit());
                        let Some(h2) = h2 else {
                            return Err(self.error("invalid escape in string"));
                        };
                        let v = (hex_val(h1) << 4) | hex_val(h2);
                        bytes.push(v);
                    }
                    _ => return Err(self.error("invalid escape in string")),
                },
                Some(c) => bytes.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A number token as text: optional `-`, decimal/hex integer or float
    /// (`1.5e-3`, `inf`, `nan` are not numbers here; MLIR prints those as hex).
    pub fn number_text(&mut self) -> PResult<String> {
        self.skip_ws();
        let start = self.pos;
        if matches!(self.text.get(self.pos), Some(b'-' | b'+')) {
            self.bump();
        }
        if self.text[self.pos..].starts_with(b"0x") {
            self.bump();
            self.bump();
            while self
                .text
                .get(self.pos)
                .is_some_and(|c| c.is_ascii_hexdigit())
            {
                self.bump();
            }
        } else {
            let digits_start = self.pos;
            while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            if self.pos == digits_start {
                let found = self.describe_next();
                return Err(self.error(format!("expected a number, found {found}")));
            }
            if self.text.get(self.pos) == Some(&b'.') {
                self.bump();
                while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
            if matches!(self.text.get(self.pos), Some(b'e' | b'E'))
                && self
                    .text
                    .get(self.pos + 1)
                    .is_some_and(|&c| c.is_ascii_digit() || c == b'-' || c == b'+')
            {
                self.bump();
                if matches!(self.text.get(self.pos), Some(b'-' | b'+')) {
                    self.bump();
                }
                while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// A non-negative decimal integer (dimension sizes, line numbers).
    pub fn decimal(&mut self) -> PResult<u64> {
        self.skip_ws();
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let s = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
        s.parse::<u64>()
            .map_err(|_| self.error(format!("expected a small integer, found `{s}`")))
    }

    /// Dimension list of a shaped type: `128x64x` (each dim followed by `x`).
    /// Stops before the element type.
    pub fn dims(&mut self) -> PResult<Vec<i64>> {
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if !self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                return Ok(dims);
            }
            let start = self.pos;
            while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            let s = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
            let d = s
                .parse::<i64>()
                .map_err(|_| self.error(format!("dimension `{s}` is too large")))?;
            if self.text.get(self.pos) != Some(&b'x') {
                return Err(self.error("expected `x` after a dimension"));
            }
            self.bump();
            dims.push(d);
        }
    }

    /// Raw text of a balanced `<...>` group starting at the current `<`.
    pub fn balanced_angle(&mut self) -> PResult<String> {
        self.skip_ws();
        let start = self.pos;
        let open = self.src_pos();
        let mut depth = 0i32;
        loop {
            match self.bump() {
                None => return Err(self.error_at(open, "unbalanced `<`")),
                Some(b'<') => depth += 1,
                Some(b'>') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Some(b'"') => {
                    while let Some(c) = self.bump() {
                        if c == b'\\' {
                            self.bump();
                        } else if c == b'"' {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Identifier characters (without `.`).
pub fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}
