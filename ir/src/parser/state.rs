//! The parser's state and its token-level helpers: lookahead, expectations,
//! located errors and the nesting bound.
//!
//! Everything else in this module adds methods to [`Parser`]: types
//! (`types.rs`), attributes (`attributes.rs`), locations (`locations.rs`),
//! SSA scoping and regions (`scopes.rs`), ops (`op.rs`, `ops/`).

use crate::diagnostic::Diagnostic;
use crate::dfg::SrcPos;
use crate::entities::Loc;
use crate::location::LocData;
use crate::module::Module;

use super::lexer::{Lexer, Token, TokenKind};
use super::locations::AliasTable;
use super::scopes::{BlockScopes, ValueScopes};

/// The result of every parsing step: a value or a located error.
pub(crate) type PResult<T> = Result<T, Diagnostic>;

/// How deeply regions, types, attributes and locations may nest. Real TTIR
/// stays below 20; the bound keeps hostile input from exhausting the stack
/// (it is checked against a 2 MiB thread stack in the tests).
pub(crate) const MAX_NESTING: u32 = 100;

/// Parser state.
pub(crate) struct Parser<'src> {
    pub src: &'src str,
    lexer: Lexer<'src>,
    /// The current (not yet consumed) token.
    pub tok: Token,
    /// The module being built.
    pub module: Module,
    pub values: ValueScopes<'src>,
    pub blocks: BlockScopes<'src>,
    pub aliases: AliasTable<'src>,
    /// The location ops get when none is written: the first `Unknown` node
    /// of the arena, which the printer leaves out.
    pub implicit_loc: Loc,
    depth: u32,
}

impl<'src> Parser<'src> {
    pub fn new(src: &'src str, source_name: &str) -> Parser<'src> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token();
        let mut module = Module::new(source_name);
        let implicit_loc = module.locs.push(LocData::Unknown);
        Parser {
            src,
            lexer,
            tok,
            module,
            values: ValueScopes::default(),
            blocks: BlockScopes::default(),
            aliases: AliasTable::default(),
            implicit_loc,
            depth: 0,
        }
    }

    // ------------------------------------------------------------ tokens

    /// The source text of a token.
    pub fn text(&self, tok: Token) -> &'src str {
        self.src.get(tok.start..tok.end).unwrap_or("")
    }

    /// Consumes the current token and returns it.
    pub fn bump(&mut self) -> Token {
        let tok = self.tok;
        if tok.kind != TokenKind::Eof {
            self.tok = self.lexer.next_token();
        }
        tok
    }

    pub fn at(&self, kind: TokenKind) -> bool {
        self.tok.kind == kind
    }

    /// Consumes the current token if it is of `kind`.
    pub fn eat(&mut self, kind: TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes a token of `kind` or fails with "expected {what}".
    pub fn expect(&mut self, kind: TokenKind, what: &str) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Whether the current token is the bare keyword `kw`.
    pub fn at_keyword(&self, kw: &str) -> bool {
        self.tok.kind == TokenKind::BareIdent && self.text(self.tok) == kw
    }

    pub fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub fn expect_keyword(&mut self, kw: &str) -> PResult<Token> {
        if self.at_keyword(kw) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("`{kw}`")))
        }
    }

    /// A bare identifier (a keyword such as `slt` or `x`).
    pub fn expect_bare(&mut self, what: &str) -> PResult<(&'src str, Token)> {
        let tok = self.expect(TokenKind::BareIdent, what)?;
        Ok((self.text(tok), tok))
    }

    /// Re-reads the current token as a dimension list (see
    /// [`Lexer::lex_dims`]) and moves past it.
    pub fn dimension_list(&mut self) -> PResult<Vec<i64>> {
        match self.lexer.lex_dims(self.tok) {
            Ok(dims) => {
                self.tok = self.lexer.next_token();
                Ok(dims)
            }
            Err((pos, message)) => Err(self.error_at_pos(pos, 1, message)),
        }
    }

    /// Skips raw text up to and including the next `#-}` (the body of a
    /// `{-# ... #-}` file-metadata block, which maiac does not interpret).
    pub fn skip_file_metadata(&mut self) -> PResult<()> {
        let open = self.tok;
        while !self.at(TokenKind::FileMetadataEnd) {
            if self.at(TokenKind::Eof) {
                return Err(self.error_at(open, "unterminated `{-#` block: missing `#-}`"));
            }
            self.bump();
        }
        self.bump();
        Ok(())
    }

    // ------------------------------------------------------------ errors

    /// An error at a token, underlining it.
    pub fn error_at(&self, tok: Token, message: impl Into<String>) -> Diagnostic {
        let len = self.text(tok).chars().take_while(|&c| c != '\n').count();
        self.error_at_pos(tok.pos, len as u32, message)
    }

    /// An error at a position with an underline of `len` characters.
    pub fn error_at_pos(&self, pos: SrcPos, len: u32, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message)
            .at(&self.module.source_name, Some(pos))
            .with_span_len(len.clamp(1, 80))
    }

    /// An error at the current token.
    pub fn error_here(&self, message: impl Into<String>) -> Diagnostic {
        self.error_at(self.tok, message)
    }

    /// "expected {what}, found {current token}" (or the lexer's complaint
    /// when the current token is malformed).
    pub fn unexpected(&self, what: &str) -> Diagnostic {
        if self.tok.kind == TokenKind::Error {
            return self.error_here(self.lexer.error_reason());
        }
        self.error_here(format!("expected {what}, found {}", self.describe(self.tok)))
    }

    /// A short description of a token for messages.
    pub fn describe(&self, tok: Token) -> String {
        if tok.kind == TokenKind::Eof {
            return "end of file".to_string();
        }
        let text = self.text(tok);
        let mut shown: String = text.chars().take(40).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        format!("`{shown}`")
    }

    // ----------------------------------------------------------- nesting

    /// Runs `f` one nesting level deeper, failing beyond [`MAX_NESTING`].
    pub fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_here(format!("nesting deeper than {MAX_NESTING} levels")));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }
}
