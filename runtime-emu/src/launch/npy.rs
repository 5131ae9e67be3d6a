//! A small, strict `.npy` reader and writer.
//!
//! Format (numpy's `numpy.lib.format`): the magic `\x93NUMPY`, a major and a
//! minor version byte, the header length (`u16` little-endian for version 1,
//! `u32` for versions 2 and 3), then an ASCII (v3: UTF-8) Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with
//! spaces and a newline, then the raw array data.
//!
//! Only what a kernel buffer can be is accepted: C order, little-endian (or
//! byte-order-free one-byte) scalars of kind `b`, `i`, `u`, `f` or raw `V`
//! bytes. Everything else gets an error that says why, rather than a
//! misread buffer.

use std::fmt;

/// A `.npy` dtype, normalized: `<` for multi-byte little-endian numbers,
/// `|` for one-byte types and for raw `V` bytes (which have no byte order).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NpyDtype {
    kind: char,
    size: usize,
}

impl NpyDtype {
    /// A dtype of `kind` (`b`, `i`, `u`, `f`, `c` or `V`) and `size` bytes.
    pub fn new(kind: char, size: usize) -> NpyDtype {
        NpyDtype { kind, size }
    }

    /// Parses a descr string like `<f4`, `|u1`, `=i8`, `<V2`.
    pub fn parse(descr: &str) -> Result<NpyDtype, NpyError> {
        let unsupported = |why: &str| NpyError::UnsupportedDtype {
            descr: descr.to_string(),
            reason: why.to_string(),
        };
        let mut chars = descr.chars();
        let (order, kind) = match chars.next() {
            Some(c @ ('<' | '>' | '|' | '=')) => (c, chars.next()),
            other => ('=', other),
        };
        let kind = kind.ok_or_else(|| unsupported("empty type code"))?;
        let size_text: String = chars.collect();
        match kind {
            'O' => {
                return Err(unsupported(
                    "object arrays hold Python references, not numbers",
                ))
            }
            'U' | 'S' | 'a' => return Err(unsupported("string arrays cannot be kernel buffers")),
            'M' | 'm' => return Err(unsupported("datetime arrays cannot be kernel buffers")),
            'b' | 'i' | 'u' | 'f' | 'c' | 'V' => {}
            _ => return Err(unsupported("unknown type code")),
        }
        let size: usize = size_text
            .parse()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| unsupported("missing or invalid item size"))?;
        if order == '>' && size > 1 && kind != 'V' {
            return Err(NpyError::BigEndian {
                descr: descr.to_string(),
            });
        }
        Ok(NpyDtype { kind, size })
    }

    /// The type code: `b`, `i`, `u`, `f`, `c` or `V`.
    pub fn kind(&self) -> char {
        self.kind
    }

    /// Bytes per element.
    pub fn item_size(&self) -> usize {
        self.size
    }

    /// The normalized descr string written to files (`<f4`, `|u1`, `|V2`).
    pub fn descr(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for NpyDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.size == 1 || self.kind == 'V' {
            '|'
        } else {
            '<'
        };
        write!(f, "{order}{}{}", self.kind, self.size)
    }
}

/// An n-dimensional array as it sits in a `.npy` file: dtype, C-order shape
/// and the raw little-endian element bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostBuffer {
    pub dtype: NpyDtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// Why a `.npy` file could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("not a .npy file (bad magic: it does not start with \\x93NUMPY)")]
    BadMagic,
    #[error("unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are supported)")]
    UnsupportedVersion { major: u8, minor: u8 },
    #[error("truncated file: {0}")]
    Truncated(String),
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    #[error("the array is stored in Fortran order; save it C-contiguous (np.ascontiguousarray)")]
    FortranOrder,
    #[error("dtype '{descr}' is big-endian; only little-endian data is supported")]
    BigEndian { descr: String },
    #[error("unsupported dtype '{descr}': {reason}")]
    UnsupportedDtype { descr: String, reason: String },
    #[error("the header's shape needs {expected} data bytes but the file has {found}")]
    DataSize { expected: u64, found: u64 },
}

const MAGIC: &[u8] = b"\x93NUMPY";

impl HostBuffer {
    /// A buffer from its parts (the byte length must be `item_size × product(shape)`).
    pub fn new(dtype: NpyDtype, shape: Vec<usize>, bytes: Vec<u8>) -> Result<HostBuffer, NpyError> {
        let expected = expected_bytes(&dtype, &shape)?;
        if expected != bytes.len() as u64 {
            return Err(NpyError::DataSize {
                expected,
                found: bytes.len() as u64,
            });
        }
        Ok(HostBuffer {
            dtype,
            shape,
            bytes,
        })
    }

    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Decodes the bytes of a `.npy` file.
    pub fn from_npy_bytes(data: &[u8]) -> Result<HostBuffer, NpyError> {
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return Err(NpyError::BadMagic);
        }
        let version = data
            .get(6..8)
            .ok_or_else(|| NpyError::Truncated("no format version after the magic".into()))?;
        let (major, minor) = (version[0], version[1]);
        let (len_bytes, utf8) = match (major, minor) {
            (1, 0) => (2, false),
            (2, 0) => (4, false),
            (3, 0) => (4, true),
            _ => return Err(NpyError::UnsupportedVersion { major, minor }),
        };
        let len_field = data
            .get(8..8 + len_bytes)
            .ok_or_else(|| NpyError::Truncated("the header length is cut off".into()))?;
        let header_len = len_field
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let header_start = 8 + len_bytes;
        let header_end = header_start
            .checked_add(header_len)
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                NpyError::Truncated(format!(
                    "the header says it is {header_len} bytes long but the file ends first"
                ))
            })?;
        let header_bytes = &data[header_start..header_end];
        let header = if utf8 {
            std::str::from_utf8(header_bytes)
                .map_err(|_| NpyError::BadHeader("the header is not UTF-8".into()))?
        } else {
            if !header_bytes.is_ascii() {
                return Err(NpyError::BadHeader("the header is not ASCII".into()));
            }
            std::str::from_utf8(header_bytes)
                .map_err(|_| NpyError::BadHeader("not ASCII".into()))?
        };
        let (dtype, fortran, shape) = parse_header(header)?;
        if fortran && shape.len() > 1 {
            return Err(NpyError::FortranOrder);
        }
        let payload = &data[header_end..];
        let expected = expected_bytes(&dtype, &shape)?;
        if (payload.len() as u64) < expected {
            return Err(NpyError::Truncated(format!(
                "the shape {shape:?} of '{dtype}' needs {expected} data bytes but only {} are present",
                payload.len()
            )));
        }
        if payload.len() as u64 != expected {
            return Err(NpyError::DataSize {
                expected,
                found: payload.len() as u64,
            });
        }
        Ok(HostBuffer {
            dtype,
            shape,
            bytes: payload.to_vec(),
        })
    }

    /// Encodes the buffer as a `.npy` file (format 1.0 when the header fits,
    /// else 2.0), header padded so the data starts on a 64-byte boundary as
    /// numpy does.
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        let shape = match self.shape.as_slice() {
            [] => "()".to_string(),
            [d] => format!("({d},)"),
            dims => {
                let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                format!("({})", parts.join(", "))
            }
        };
        let dict = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            self.dtype
        );
        let mut out = Vec::with_capacity(self.bytes.len() + dict.len() + 80);
        out.extend_from_slice(MAGIC);
        // Header length counts the dict, the space padding and the final newline.
        let unpadded_v1 = MAGIC.len() + 2 + 2 + dict.len() + 1;
        if unpadded_v1.div_ceil(64) * 64 - (MAGIC.len() + 4) <= usize::from(u16::MAX) {
            let total = unpadded_v1.div_ceil(64) * 64;
            let header_len = total - (MAGIC.len() + 4);
            out.extend_from_slice(&[1, 0]);
            out.extend_from_slice(&(header_len as u16).to_le_bytes());
            push_padded(&mut out, &dict, header_len);
        } else {
            let unpadded = MAGIC.len() + 2 + 4 + dict.len() + 1;
            let total = unpadded.div_ceil(64) * 64;
            let header_len = total - (MAGIC.len() + 6);
            out.extend_from_slice(&[2, 0]);
            out.extend_from_slice(&(header_len as u32).to_le_bytes());
            push_padded(&mut out, &dict, header_len);
        }
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Reads a `.npy` file.
    pub fn read(path: &std::path::Path) -> Result<HostBuffer, NpyError> {
        let data = std::fs::read(path).map_err(|e| NpyError::Io(e.to_string()))?;
        HostBuffer::from_npy_bytes(&data)
    }

    /// Writes a `.npy` file.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_npy_bytes())
    }
}

fn push_padded(out: &mut Vec<u8>, dict: &str, header_len: usize) {
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + header_len - dict.len() - 1, b' ');
    out.push(b'\n');
}

fn expected_bytes(dtype: &NpyDtype, shape: &[usize]) -> Result<u64, NpyError> {
    shape
        .iter()
        .try_fold(dtype.item_size() as u64, |acc, &d| {
            acc.checked_mul(d as u64)
        })
        .ok_or_else(|| NpyError::BadHeader(format!("the shape {shape:?} is too large")))
}

/// A Python literal as it appears in a `.npy` header.
#[derive(Debug, PartialEq)]
enum PyLiteral {
    Str(String),
    Bool(bool),
    Int(u64),
    Tuple(Vec<PyLiteral>),
    Dict(Vec<(PyLiteral, PyLiteral)>),
    None,
}

/// Parses the header dict into (dtype, fortran_order, shape).
fn parse_header(text: &str) -> Result<(NpyDtype, bool, Vec<usize>), NpyError> {
    let mut parser = LiteralParser {
        text: text.as_bytes(),
        pos: 0,
    };
    let dict = parser.literal()?;
    parser.skip_ws();
    if parser.pos != parser.text.len() {
        return Err(NpyError::BadHeader(
            "unexpected text after the header dict".into(),
        ));
    }
    let PyLiteral::Dict(entries) = dict else {
        return Err(NpyError::BadHeader("the header is not a dict".into()));
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, PyLiteral::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    let dtype = match get("descr") {
        Some(PyLiteral::Str(descr)) => NpyDtype::parse(descr)?,
        Some(PyLiteral::Tuple(_)) => {
            return Err(NpyError::UnsupportedDtype {
                descr: "structured".into(),
                reason: "structured (record) dtypes cannot be kernel buffers".into(),
            })
        }
        _ => return Err(NpyError::BadHeader("missing or invalid 'descr'".into())),
    };
    let fortran = match get("fortran_order") {
        Some(PyLiteral::Bool(b)) => *b,
        _ => {
            return Err(NpyError::BadHeader(
                "missing or invalid 'fortran_order'".into(),
            ))
        }
    };
    let shape = match get("shape") {
        Some(PyLiteral::Tuple(dims)) => dims
            .iter()
            .map(|d| match d {
                PyLiteral::Int(v) => usize::try_from(*v)
                    .map_err(|_| NpyError::BadHeader(format!("dimension {v} is too large"))),
                _ => Err(NpyError::BadHeader("'shape' holds a non-integer".into())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(NpyError::BadHeader("missing or invalid 'shape'".into())),
    };
    Ok((dtype, fortran, shape))
}

/// Recursive-descent parser for the Python literal subset numpy writes.
struct LiteralParser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl LiteralParser<'_> {
    const MAX_DEPTH: usize = 16;

    fn skip_ws(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    fn error(&self, what: &str) -> NpyError {
        NpyError::BadHeader(format!("{what} at header offset {}", self.pos))
    }

    fn literal(&mut self) -> Result<PyLiteral, NpyError> {
        self.literal_at(0)
    }

    fn literal_at(&mut self, depth: usize) -> Result<PyLiteral, NpyError> {
        if depth > Self::MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(PyLiteral::Dict(entries));
                    }
                    let key = self.literal_at(depth + 1)?;
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':'"));
                    }
                    self.pos += 1;
                    let value = self.literal_at(depth + 1)?;
                    entries.push((key, value));
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.error("expected ',' or '}'")),
                    }
                }
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(PyLiteral::Tuple(items));
                    }
                    items.push(self.literal_at(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(self.error("expected ',' or a closing bracket")),
                    }
                }
            }
            Some(quote @ (b'\'' | b'"')) => {
                self.pos += 1;
                let start = self.pos;
                while self.text.get(self.pos).is_some_and(|&c| c != quote) {
                    self.pos += 1;
                }
                if self.pos >= self.text.len() {
                    return Err(self.error("unterminated string"));
                }
                let s = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
                self.pos += 1;
                Ok(PyLiteral::Str(s))
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.text.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                // Python 2 era headers may write `3L`.
                if self.text.get(self.pos) == Some(&b'L') {
                    self.pos += 1;
                }
                let digits = std::str::from_utf8(&self.text[start..self.pos])
                    .unwrap_or("")
                    .trim_end_matches('L');
                digits
                    .parse()
                    .map(PyLiteral::Int)
                    .map_err(|_| self.error("integer too large"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    b"True" => Ok(PyLiteral::Bool(true)),
                    b"False" => Ok(PyLiteral::Bool(false)),
                    b"None" => Ok(PyLiteral::None),
                    _ => Err(self.error("unknown name")),
                }
            }
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end of header")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: (u8, u8), header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version.0, version.1]);
        if version.0 == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trips_through_bytes() {
        let buf =
            HostBuffer::new(NpyDtype::parse("<f4").unwrap(), vec![2, 3], vec![7; 24]).unwrap();
        let bytes = buf.to_npy_bytes();
        assert_eq!(
            (bytes.len() - 24) % 64,
            0,
            "data starts on a 64-byte boundary"
        );
        assert_eq!(HostBuffer::from_npy_bytes(&bytes).unwrap(), buf);
        let scalar = HostBuffer::new(NpyDtype::parse("|u1").unwrap(), vec![], vec![9]).unwrap();
        assert_eq!(
            HostBuffer::from_npy_bytes(&scalar.to_npy_bytes()).unwrap(),
            scalar
        );
    }

    #[test]
    fn reads_all_header_versions() {
        let header = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }\n";
        for v in [(1, 0), (2, 0), (3, 0)] {
            let buf = HostBuffer::from_npy_bytes(&file(v, header, &[1, 0, 2, 0])).unwrap();
            assert_eq!(buf.shape, vec![2]);
            assert_eq!(buf.dtype.descr(), "<i2");
        }
    }

    #[test]
    fn normalizes_byte_order() {
        assert_eq!(NpyDtype::parse("=f8").unwrap().descr(), "<f8");
        assert_eq!(NpyDtype::parse("<V2").unwrap().descr(), "|V2");
        assert_eq!(NpyDtype::parse("|b1").unwrap().descr(), "|b1");
        assert_eq!(NpyDtype::parse(">u1").unwrap().descr(), "|u1");
    }

    #[test]
    fn rejects_bad_files_clearly() {
        let ok_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        assert_eq!(
            HostBuffer::from_npy_bytes(b"PK\x03\x04"),
            Err(NpyError::BadMagic)
        );
        assert!(matches!(
            HostBuffer::from_npy_bytes(&file((4, 0), ok_header, &[0; 8])),
            Err(NpyError::UnsupportedVersion { major: 4, .. })
        ));
        assert!(matches!(
            HostBuffer::from_npy_bytes(&file((1, 0), ok_header, &[0; 5])),
            Err(NpyError::Truncated(_))
        ));
        let mut cut = file((1, 0), ok_header, &[]);
        cut.truncate(20);
        assert!(matches!(
            HostBuffer::from_npy_bytes(&cut),
            Err(NpyError::Truncated(_))
        ));
        let fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }";
        assert_eq!(
            HostBuffer::from_npy_bytes(&file((1, 0), fortran, &[0; 16])),
            Err(NpyError::FortranOrder)
        );
        let big = "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }";
        assert!(matches!(
            HostBuffer::from_npy_bytes(&file((1, 0), big, &[0; 4])),
            Err(NpyError::BigEndian { .. })
        ));
        let object = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
        let err = HostBuffer::from_npy_bytes(&file((1, 0), object, &[0; 8])).unwrap_err();
        assert!(err.to_string().contains("object arrays"), "{err}");
        let structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
        assert!(matches!(
            HostBuffer::from_npy_bytes(&file((1, 0), structured, &[0; 4])),
            Err(NpyError::UnsupportedDtype { .. })
        ));
        let extra = HostBuffer::from_npy_bytes(&file((1, 0), ok_header, &[0; 12]));
        assert_eq!(
            extra,
            Err(NpyError::DataSize {
                expected: 8,
                found: 12
            })
        );
        let garbage = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ";
        assert!(matches!(
            HostBuffer::from_npy_bytes(&file((1, 0), garbage, &[0; 8])),
            Err(NpyError::BadHeader(_))
        ));
    }

    #[test]
    fn one_dimensional_fortran_order_is_c_order() {
        let header = "{'descr': '|u1', 'fortran_order': True, 'shape': (3,), }";
        assert!(HostBuffer::from_npy_bytes(&file((1, 0), header, &[1, 2, 3])).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn write_then_read_is_identity(
            kind_size in prop::sample::select(vec![('f', 4), ('f', 2), ('u', 1), ('i', 8), ('V', 2), ('b', 1)]),
            shape in prop::collection::vec(0usize..5, 0..4),
            seed in any::<u8>(),
        ) {
            let dtype = NpyDtype::new(kind_size.0, kind_size.1);
            let n: usize = shape.iter().product();
            let bytes: Vec<u8> = (0..n * kind_size.1).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let buf = HostBuffer::new(dtype, shape, bytes).unwrap();
            prop_assert_eq!(HostBuffer::from_npy_bytes(&buf.to_npy_bytes()).unwrap(), buf);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
            // Raw garbage after the magic, and garbage as a v1 header.
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(&data);
            let _ = HostBuffer::from_npy_bytes(&file);
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(&[1, 0]);
            file.extend_from_slice(&(data.len() as u16).to_le_bytes());
            file.extend_from_slice(&data);
            let _ = HostBuffer::from_npy_bytes(&file);
        }
    }
}
