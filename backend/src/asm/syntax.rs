//! The generic, line-oriented syntax of maiac assembly: tokens and a small
//! tree of values. Instruction-specific meaning is given by the assembler.
//!
//! ```text
//! line  := [label ':'] [ [def '='] head item* ] [';' comment]
//! item  := word '=' value | value              (commas between items are optional)
//! value := '(' item* ')' | '[' value,* ']' | "string" | int
//!        | word '>=' operand                    (semaphore wait: t0>=r4+1)
//!        | word ':' int                         (typed lane immediate: f32:0x3f800000)
//!        | space ['@' operand] '[' operand ']'  (address: tsram@r9[r2+64])
//!        | reg [('+'|'-') int]                  (operand: r3+8)
//!        | word
//! ```

use crate::isa::{Address, Operand, Reg, Space, Unit};

/// A 1-based line and column.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// An assembly error at a position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {message}", pos.line, pos.col)]
pub struct AsmError {
    pub pos: Pos,
    pub message: String,
}

pub fn error<T>(pos: Pos, message: impl Into<String>) -> Result<T, AsmError> {
    Err(AsmError {
        pos,
        message: message.into(),
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Int(i128),
    Str(String),
    Punct(&'static str),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    pos: Pos,
    /// Whitespace separates it from the previous token.
    spaced: bool,
}

/// One value of the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Word(String),
    Int(i128),
    Str(String),
    Operand(Operand),
    Address(Address),
    /// `sem >= value`.
    Wait(String, Operand),
    /// `type:bits`.
    Typed(String, i128),
    List(Vec<Spanned>),
    Group(Vec<Item>),
}

/// A value with the position of its first token.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    pub value: Value,
    pub pos: Pos,
}

/// A positional value or `key=value`.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Positional(Spanned),
    Keyed {
        key: String,
        pos: Pos,
        value: Spanned,
    },
}

/// One parsed line.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub label: Option<(String, Pos)>,
    /// `v3` of a micro-program line `v3 = op args`.
    pub def: Option<(String, Pos)>,
    pub head: Option<(String, Pos)>,
    pub items: Vec<Item>,
}

/// Parses the text into lines (1-based numbering kept in positions).
pub fn parse_lines(text: &str) -> Result<Vec<Line>, AsmError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let tokens = lex_line(line, i as u32 + 1)?;
            Parser {
                tokens,
                at: 0,
                line: i as u32 + 1,
                len: line.chars().count() as u32,
            }
            .line()
        })
        .collect()
}

fn lex_line(line: &str, number: u32) -> Result<Vec<Token>, AsmError> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos {
            line: number,
            col: i as u32 + 1,
        };
        if c == ';' {
            break;
        }
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '%' {
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let dash_word =
                    d == '-' && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic());
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' || d == '%' || dash_word {
                    i += 1;
                } else {
                    break;
                }
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
        {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|&&ch| ch != '_').collect();
            Tok::Int(parse_int(&text).ok_or_else(|| AsmError {
                pos,
                message: format!("bad number `{text}`"),
            })?)
        } else if c == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return error(pos, "unterminated string");
                };
                i += 1;
                match ch {
                    '"' => break,
                    '\\' => {
                        let Some(&esc) = chars.get(i) else {
                            return error(pos, "unterminated string");
                        };
                        i += 1;
                        match esc {
                            '\\' => s.push('\\'),
                            '"' => s.push('"'),
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'u' => {
                                // \u{HEX}
                                if chars.get(i) != Some(&'{') {
                                    return error(pos, "expected `{` after `\\u`");
                                }
                                let close =
                                    chars[i..].iter().position(|&ch| ch == '}').map(|p| p + i);
                                let Some(close) = close else {
                                    return error(pos, "unterminated `\\u{...}`");
                                };
                                let hex: String = chars[i + 1..close].iter().collect();
                                let ch =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                                let Some(ch) = ch else {
                                    return error(pos, format!("bad escape `\\u{{{hex}}}`"));
                                };
                                s.push(ch);
                                i = close + 1;
                            }
                            other => return error(pos, format!("unknown escape `\\{other}`")),
                        }
                    }
                    ch => s.push(ch),
                }
            }
            Tok::Str(s)
        } else if c == '>' && chars.get(i + 1) == Some(&'=') {
            i += 2;
            Tok::Punct(">=")
        } else {
            i += 1;
            Tok::Punct(match c {
                '[' => "[",
                ']' => "]",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '=' => "=",
                ':' => ":",
                '+' => "+",
                '@' => "@",
                other => return error(pos, format!("unexpected character `{other}`")),
            })
        };
        tokens.push(Token { tok, pos, spaced });
        spaced = false;
    }
    Ok(tokens)
}

fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<i128>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses a register name `r0`..`r255`.
pub fn register(word: &str) -> Option<Reg> {
    let digits = word.strip_prefix('r')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u8>().ok().map(Reg)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    line: u32,
    len: u32,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_at(&self, k: usize) -> Option<&Token> {
        self.tokens.get(self.at + k)
    }

    fn end_pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.len + 1,
        }
    }

    fn pos(&self) -> Pos {
        self.peek().map_or(self.end_pos(), |t| t.pos)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
    }

    /// `[` or `@` directly after a memory-space name (no space between).
    fn address_follows(&self) -> bool {
        matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Punct("[" | "@"),
                spaced: false,
                ..
            })
        )
    }

    fn expect(&mut self, p: &str) -> Result<(), AsmError> {
        if self.is_punct(p) {
            self.at += 1;
            Ok(())
        } else {
            error(self.pos(), format!("expected `{p}`"))
        }
    }

    fn line(mut self) -> Result<Line, AsmError> {
        let mut line = Line::default();
        // `label:` at the start.
        if let (
            Some(Token {
                tok: Tok::Word(w),
                pos,
                ..
            }),
            Some(Token {
                tok: Tok::Punct(":"),
                ..
            }),
        ) = (self.peek(), self.peek_at(1))
        {
            line.label = Some((w.clone(), *pos));
            self.at += 2;
        }
        // `v3 = op ...` definition.
        if let (
            Some(Token {
                tok: Tok::Word(w),
                pos,
                ..
            }),
            Some(Token {
                tok: Tok::Punct("="),
                ..
            }),
        ) = (self.peek(), self.peek_at(1))
        {
            line.def = Some((w.clone(), *pos));
            self.at += 2;
        }
        match self.peek() {
            None => {
                if line.def.is_some() {
                    return error(self.end_pos(), "expected an operation after `=`");
                }
                return Ok(line);
            }
            Some(Token {
                tok: Tok::Word(w),
                pos,
                ..
            }) => {
                line.head = Some((w.clone(), *pos));
                self.at += 1;
            }
            Some(t) => return error(t.pos, "expected a mnemonic or directive"),
        }
        line.items = self.items(None)?;
        Ok(line)
    }

    /// Items up to `close` (or the end of the line).
    fn items(&mut self, close: Option<&str>) -> Result<Vec<Item>, AsmError> {
        let mut items = Vec::new();
        loop {
            match (self.peek(), close) {
                (None, None) => return Ok(items),
                (None, Some(c)) => return error(self.end_pos(), format!("expected `{c}`")),
                (
                    Some(Token {
                        tok: Tok::Punct(p), ..
                    }),
                    Some(c),
                ) if *p == c => {
                    self.at += 1;
                    return Ok(items);
                }
                (
                    Some(Token {
                        tok: Tok::Punct(","),
                        ..
                    }),
                    _,
                ) => {
                    self.at += 1;
                    continue;
                }
                _ => {}
            }
            if let (
                Some(Token {
                    tok: Tok::Word(k),
                    pos,
                    ..
                }),
                Some(Token {
                    tok: Tok::Punct("="),
                    ..
                }),
            ) = (self.peek(), self.peek_at(1))
            {
                let (key, pos) = (k.clone(), *pos);
                self.at += 2;
                let value = self.value()?;
                items.push(Item::Keyed { key, pos, value });
            } else {
                items.push(Item::Positional(self.value()?));
            }
        }
    }

    fn value(&mut self) -> Result<Spanned, AsmError> {
        let pos = self.pos();
        let Some(token) = self.peek().cloned() else {
            return error(pos, "expected a value");
        };
        self.at += 1;
        let value = match token.tok {
            Tok::Punct("(") => Value::Group(self.items(Some(")"))?),
            Tok::Punct("[") => {
                let mut list = Vec::new();
                loop {
                    if self.is_punct("]") {
                        self.at += 1;
                        break;
                    }
                    list.push(self.value()?);
                    if self.is_punct(",") {
                        self.at += 1;
                    } else if !self.is_punct("]") {
                        return error(self.pos(), "expected `,` or `]`");
                    }
                }
                Value::List(list)
            }
            Tok::Str(s) => Value::Str(s),
            Tok::Int(i) => Value::Int(i),
            Tok::Word(w) => {
                if self.is_punct(">=") {
                    self.at += 1;
                    Value::Wait(w, self.operand()?)
                } else if self.is_punct(":")
                    && matches!(
                        self.peek_at(1),
                        Some(Token {
                            tok: Tok::Int(_),
                            ..
                        })
                    )
                {
                    self.at += 1;
                    let Some(Token {
                        tok: Tok::Int(i), ..
                    }) = self.peek().cloned()
                    else {
                        return error(self.pos(), "expected a number");
                    };
                    self.at += 1;
                    Value::Typed(w, i)
                } else if let Some(space) = Space::from_name(&w).filter(|_| self.address_follows())
                {
                    let unit = if self.is_punct("@") {
                        self.at += 1;
                        Unit::Remote(self.operand()?)
                    } else {
                        Unit::Local
                    };
                    self.expect("[")?;
                    let offset = self.operand()?;
                    self.expect("]")?;
                    Value::Address(Address {
                        space,
                        unit,
                        offset,
                    })
                } else if let Some(reg) = register(&w) {
                    Value::Operand(Operand {
                        reg: Some(reg),
                        imm: self.offset_suffix()?,
                    })
                } else {
                    Value::Word(w)
                }
            }
            Tok::Punct(p) => return error(pos, format!("unexpected `{p}`")),
        };
        Ok(Spanned { value, pos })
    }

    /// `+N` or an adjacent `-N` after a register.
    fn offset_suffix(&mut self) -> Result<i64, AsmError> {
        if self.is_punct("+") {
            self.at += 1;
            let pos = self.pos();
            return match self.peek().cloned() {
                Some(Token {
                    tok: Tok::Int(i), ..
                }) if i >= 0 => {
                    self.at += 1;
                    to_i64(i, pos)
                }
                _ => error(pos, "expected a non-negative number after `+`"),
            };
        }
        if let Some(Token {
            tok: Tok::Int(i),
            spaced: false,
            pos,
        }) = self.peek().cloned()
        {
            if i < 0 {
                self.at += 1;
                return to_i64(i, pos);
            }
        }
        Ok(0)
    }

    /// `rN`, `rN+imm`, `rN-imm` or `imm`.
    fn operand(&mut self) -> Result<Operand, AsmError> {
        let pos = self.pos();
        match self.peek().cloned() {
            Some(Token {
                tok: Tok::Int(i), ..
            }) => {
                self.at += 1;
                Ok(Operand::imm(to_i64(i, pos)?))
            }
            Some(Token {
                tok: Tok::Word(w), ..
            }) => match register(&w) {
                Some(reg) => {
                    self.at += 1;
                    Ok(Operand {
                        reg: Some(reg),
                        imm: self.offset_suffix()?,
                    })
                }
                None => error(pos, format!("expected a register or number, found `{w}`")),
            },
            _ => error(pos, "expected a register or number"),
        }
    }
}

/// An immediate as i64: values in `i64::MIN..=u64::MAX` (large unsigned
/// values wrap to their two's-complement i64).
pub fn to_i64(i: i128, pos: Pos) -> Result<i64, AsmError> {
    if i < i128::from(i64::MIN) || i > i128::from(u64::MAX) {
        return error(pos, format!("{i} does not fit in 64 bits"));
    }
    Ok(i as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Line {
        parse_lines(text).unwrap().remove(0)
    }

    #[test]
    fn parses_addresses_operands_and_groups() {
        let line =
            one("dma.copy f32 src=tsram@r9[r2-8] dims=[(4 r7 128 valid=r8+1)] wait=[t0>=r4+1] ; c");
        assert_eq!(line.head.as_ref().unwrap().0, "dma.copy");
        assert_eq!(line.items.len(), 4);
        let Item::Keyed { value, .. } = &line.items[1] else {
            panic!()
        };
        let Value::Address(a) = &value.value else {
            panic!("{value:?}")
        };
        assert_eq!(a.to_string(), "tsram@r9[r2-8]");
        let Item::Keyed { value, .. } = &line.items[3] else {
            panic!()
        };
        let Value::List(waits) = &value.value else {
            panic!()
        };
        assert_eq!(
            waits[0].value,
            Value::Wait("t0".into(), Operand::reg_plus(Reg(4), 1))
        );
    }

    #[test]
    fn labels_definitions_and_strings() {
        let line = one(r#"loop_top: mov r1, -3"#);
        assert_eq!(line.label.unwrap().0, "loop_top");
        assert_eq!(
            line.items[1].clone(),
            Item::Positional(Spanned {
                value: Value::Int(-3),
                pos: Pos { line: 1, col: 19 }
            })
        );
        let line = one("v2 = addf.f32 v0, f32:0x3f800000");
        assert_eq!(line.def.unwrap().0, "v2");
        let Item::Positional(s) = &line.items[1] else {
            panic!()
        };
        assert_eq!(s.value, Value::Typed("f32".into(), 0x3f80_0000));
        let line = one(r#".kernel "a\"b\u{e9}""#);
        let Item::Positional(s) = &line.items[0] else {
            panic!()
        };
        assert_eq!(s.value, Value::Str("a\"bé".into()));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = parse_lines("nop\n  mov r1, $").unwrap_err();
        assert_eq!(err.to_string(), "2:11: unexpected character `$`");
        let err = parse_lines("x [1, 2").unwrap_err();
        assert_eq!(err.pos, Pos { line: 1, col: 8 });
    }
}
