//! MLIR's lexical grammar, as far as TTIR uses it.
//!
//! The lexer is pulled one token at a time by the parser, which keeps the
//! current token and may rewind to it: shaped types need a different view of
//! the same text (`64x64xf16` is a dimension list, not the integer `64`
//! followed by the identifier `x64xf16`), so [`Lexer::lex_dims`] re-reads it
//! in that mode, exactly as MLIR's own parser does.
//!
//! Tokens carry byte offsets into the source plus the 1-based line and
//! column (counted in characters) of their first byte; nothing is copied.

use crate::dfg::SrcPos;

/// The kinds of token.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Eof,
    /// Bytes that start no token; [`Lexer::error_reason`] says why.
    Error,
    /// `foo`, `tt.func`, `f32`, `x64xf16`: `[A-Za-z_][A-Za-z0-9_$.]*`.
    BareIdent,
    /// `%name`, `%12`.
    PercentIdent,
    /// `^bb0`.
    CaretIdent,
    /// `#loc12`, `#tt.cache_policy`.
    HashIdent,
    /// `@name` or `@"quoted name"`.
    AtIdent,
    /// `!tt.ptr`.
    BangIdent,
    /// `42`, `0x7FC00000` (never signed: `-` is its own token).
    Integer,
    /// `1.5`, `1.000000e+00`, `9.99999974E-6`.
    Float,
    /// `"text"` with MLIR escapes.
    String,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LSquare,
    RSquare,
    Less,
    Greater,
    Comma,
    Colon,
    Equal,
    Arrow,
    Star,
    Question,
    Plus,
    Minus,
    /// `{-#`, opening a file-metadata block.
    FileMetadataBegin,
    /// `#-}`, closing it.
    FileMetadataEnd,
}

/// One token: its kind and where its text is.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Line and column of the first byte.
    pub pos: SrcPos,
}

/// Splits TTIR text into tokens on demand.
pub(crate) struct Lexer<'src> {
    bytes: &'src [u8],
    offset: usize,
    line: u32,
    col: u32,
    error_reason: &'static str,
}

impl<'src> Lexer<'src> {
    pub fn new(src: &'src str) -> Lexer<'src> {
        Lexer { bytes: src.as_bytes(), offset: 0, line: 1, col: 1, error_reason: "" }
    }

    /// Why the last [`TokenKind::Error`] token was produced.
    pub fn error_reason(&self) -> &'static str {
        self.error_reason
    }

    /// Continues lexing at the start of `tok` (which this lexer produced).
    pub fn rewind_to(&mut self, tok: Token) {
        self.offset = tok.start;
        self.line = tok.pos.line;
        self.col = tok.pos.col;
    }

    fn pos(&self) -> SrcPos {
        SrcPos { line: self.line, col: self.col }
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.offset + ahead).copied()
    }

    /// Consumes one byte, keeping line and (character) column up to date.
    fn bump(&mut self) {
        let Some(&c) = self.bytes.get(self.offset) else { return };
        self.offset += 1;
        if c == b'\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            // Continuation bytes of a UTF-8 character do not start a column.
            self.col = self.col.saturating_add(1);
        }
    }

    fn bump_while(&mut self, mut pred: impl FnMut(u8) -> bool) {
        while self.peek_byte(0).is_some_and(&mut pred) {
            self.bump();
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek_byte(0) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.bump(),
                Some(b'/') if self.peek_byte(1) == Some(b'/') => self.bump_while(|c| c != b'\n'),
                _ => return,
            }
        }
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.offset;
        let pos = self.pos();
        let kind = self.lex_kind();
        Token { kind, start, end: self.offset.max(start), pos }
    }

    fn error(&mut self, reason: &'static str) -> TokenKind {
        self.error_reason = reason;
        TokenKind::Error
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        kind
    }

    fn lex_kind(&mut self) -> TokenKind {
        use TokenKind::*;
        let Some(c) = self.peek_byte(0) else { return Eof };
        match c {
            b'(' => self.single(LParen),
            b')' => self.single(RParen),
            b'{' if self.peek_byte(1) == Some(b'-') && self.peek_byte(2) == Some(b'#') => {
                (0..3).for_each(|_| self.bump());
                FileMetadataBegin
            }
            b'{' => self.single(LBrace),
            b'}' => self.single(RBrace),
            b'[' => self.single(LSquare),
            b']' => self.single(RSquare),
            b'<' => self.single(Less),
            b'>' => self.single(Greater),
            b',' => self.single(Comma),
            b':' => self.single(Colon),
            b'=' => self.single(Equal),
            b'*' => self.single(Star),
            b'?' => self.single(Question),
            b'+' => self.single(Plus),
            b'-' if self.peek_byte(1) == Some(b'>') => {
                self.bump();
                self.single(Arrow)
            }
            b'-' => self.single(Minus),
            b'"' => self.lex_string(),
            b'#' if self.peek_byte(1) == Some(b'-') && self.peek_byte(2) == Some(b'}') => {
                (0..3).for_each(|_| self.bump());
                FileMetadataEnd
            }
            b'%' => self.lex_prefixed(PercentIdent),
            b'^' => self.lex_prefixed(CaretIdent),
            b'#' => self.lex_prefixed(HashIdent),
            b'!' => self.lex_prefixed(BangIdent),
            b'@' => {
                self.bump();
                if self.peek_byte(0) == Some(b'"') {
                    match self.lex_string() {
                        String => AtIdent,
                        other => other,
                    }
                } else if self.peek_byte(0).is_some_and(is_bare_start) {
                    self.bump_while(is_bare_continue);
                    AtIdent
                } else {
                    self.error("expected a symbol name after `@`")
                }
            }
            b'0'..=b'9' => self.lex_number(),
            c if is_bare_start(c) => {
                self.bump_while(is_bare_continue);
                BareIdent
            }
            _ => {
                // Consume the whole (possibly multi-byte) character.
                self.bump();
                self.bump_while(|b| b & 0xC0 == 0x80);
                self.error("unexpected character")
            }
        }
    }

    /// `%`, `^`, `#`, `!` followed by a suffix-id: `[0-9]+` or
    /// `[A-Za-z$._-][A-Za-z0-9$._-]*`.
    fn lex_prefixed(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        match self.peek_byte(0) {
            Some(c) if c.is_ascii_digit() => {
                self.bump_while(|c| c.is_ascii_digit());
                kind
            }
            Some(c) if is_suffix_start(c) => {
                self.bump_while(is_suffix_continue);
                kind
            }
            _ => self.error("expected a name after the sigil"),
        }
    }

    fn lex_number(&mut self) -> TokenKind {
        if self.peek_byte(0) == Some(b'0')
            && self.peek_byte(1) == Some(b'x')
            && self.peek_byte(2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            self.bump();
            self.bump();
            self.bump_while(|c| c.is_ascii_hexdigit());
            return TokenKind::Integer;
        }
        self.bump_while(|c| c.is_ascii_digit());
        if self.peek_byte(0) != Some(b'.') {
            return TokenKind::Integer;
        }
        self.bump();
        self.bump_while(|c| c.is_ascii_digit());
        if matches!(self.peek_byte(0), Some(b'e' | b'E')) {
            let digit_at = if matches!(self.peek_byte(1), Some(b'+' | b'-')) { 2 } else { 1 };
            if self.peek_byte(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                (0..digit_at).for_each(|_| self.bump());
                self.bump_while(|c| c.is_ascii_digit());
            }
        }
        TokenKind::Float
    }

    fn lex_string(&mut self) -> TokenKind {
        self.bump();
        loop {
            match self.peek_byte(0) {
                None | Some(b'\n') | Some(b'\r') => return self.error("unterminated string"),
                Some(b'"') => {
                    self.bump();
                    return TokenKind::String;
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek_byte(0) {
                        Some(b'"' | b'\\' | b'n' | b't') => self.bump(),
                        Some(h) if h.is_ascii_hexdigit()
                            && self.peek_byte(1).is_some_and(|c| c.is_ascii_hexdigit()) =>
                        {
                            self.bump();
                            self.bump();
                        }
                        _ => return self.error("invalid escape sequence in string"),
                    }
                }
                Some(_) => self.bump(),
            }
        }
    }

    /// Re-reads the text at `at` as the dimension list of a shaped type:
    /// `(digits 'x')*`, stopping before the element type. Returns the
    /// dimensions, or the position and message of an error.
    pub fn lex_dims(&mut self, at: Token) -> Result<Vec<i64>, (SrcPos, &'static str)> {
        self.rewind_to(at);
        let mut dims = Vec::new();
        loop {
            match self.peek_byte(0) {
                Some(b'?') => return Err((self.pos(), "dynamic dimensions are not supported in TTIR")),
                Some(c) if c.is_ascii_digit() => {
                    let pos = self.pos();
                    let start = self.offset;
                    self.bump_while(|c| c.is_ascii_digit());
                    let digits = &self.bytes[start..self.offset];
                    let dim = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .ok_or((pos, "dimension is too large"))?;
                    if self.peek_byte(0) != Some(b'x') {
                        return Err((self.pos(), "expected `x` after a dimension"));
                    }
                    self.bump();
                    dims.push(dim);
                }
                _ => return Ok(dims),
            }
        }
    }
}

fn is_bare_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_bare_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.')
}

fn is_suffix_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'$' | b'.' | b'_' | b'-')
}

fn is_suffix_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'$' | b'.' | b'_' | b'-')
}

/// Whether `name` can follow `%`/`^`/`#` without quoting (MLIR's suffix-id).
pub(crate) fn is_suffix_id(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_digit() => b.iter().all(u8::is_ascii_digit),
        Some(&c) if is_suffix_start(c) => b.iter().all(|&c| is_suffix_continue(c)),
        _ => false,
    }
}

/// Whether `name` is an MLIR bare-id (printable without quotes as an
/// attribute name or symbol).
pub(crate) fn is_bare_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.first().is_some_and(|&c| is_bare_start(c)) && b.iter().all(|&c| is_bare_continue(c))
}

/// Decodes the body of a string token (quotes included) into its value.
/// The lexer has already validated the escapes.
pub(crate) fn unescape(quoted: &str) -> String {
    let inner = quoted.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(quoted);
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            h1 => {
                let h2 = b.get(i + 2).copied().unwrap_or(b'0');
                out.push((hex_value(h1) << 4) | hex_value(h2));
                i += 4;
                continue;
            }
        }
        i += 2;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push(t.kind);
        }
    }

    #[test]
    fn lexes_mlir_tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"%x_1 = "tt.reduce"(%a#1) -> ^bb0 #loc3 @f !tt.ptr 0x7F 1.5e-3 -2 // c"#),
            vec![
                PercentIdent, Equal, String, LParen, PercentIdent, HashIdent, RParen, Arrow, CaretIdent,
                HashIdent, AtIdent, BangIdent, Integer, Float, Minus, Integer
            ]
        );
        assert_eq!(kinds("%c-7_i32 1.0E+5 {-# #-}"), vec![PercentIdent, Float, FileMetadataBegin, FileMetadataEnd]);
        assert_eq!(kinds("\"open"), vec![Error]);
        assert_eq!(kinds("1e5"), vec![Integer, BareIdent]);
    }

    #[test]
    fn tracks_columns_in_characters() {
        let mut lx = Lexer::new("\"é\" %x\n  y");
        lx.next_token();
        assert_eq!(lx.next_token().pos, SrcPos { line: 1, col: 5 });
        assert_eq!(lx.next_token().pos, SrcPos { line: 2, col: 3 });
    }

    #[test]
    fn dimension_lists() {
        let mut lx = Lexer::new("64x1x!tt.ptr<f32>");
        let first = lx.next_token();
        assert_eq!(lx.lex_dims(first), Ok(vec![64, 1]));
        assert_eq!(lx.next_token().kind, TokenKind::BangIdent);
        let mut lx = Lexer::new("4x?xf32");
        let first = lx.next_token();
        assert!(lx.lex_dims(first).is_err());
        let mut lx = Lexer::new("99999999999999999999xf32");
        let first = lx.next_token();
        assert!(lx.lex_dims(first).is_err());
    }

    #[test]
    fn unescapes_strings() {
        assert_eq!(unescape(r#""a\"b\\c\0Ad\n""#), "a\"b\\c\nd\n");
        assert!(is_suffix_id("c-7_i32") && is_suffix_id("12") && !is_suffix_id("1a") && !is_suffix_id(""));
    }
}
