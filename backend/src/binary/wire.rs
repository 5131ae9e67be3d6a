//! Little-endian primitives of the binary format: a growable writer and a
//! bounds-checked reader whose every failure names the absolute file offset.

use super::DecodeError;

/// Appends little-endian values to a byte buffer.
#[derive(Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// A count or length (u32).
    pub fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }

    /// Length-prefixed raw bytes.
    pub fn blob(&mut self, data: &[u8]) {
        self.len(data.len());
        self.bytes.extend_from_slice(data);
    }
}

/// Reads little-endian values from a slice that starts at absolute file
/// offset `base`.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], base: usize) -> Reader<'a> {
        Reader { data, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error at the current offset.
    pub fn error(&self, message: impl Into<String>) -> DecodeError {
        DecodeError::Malformed {
            offset: self.offset(),
            message: message.into(),
        }
    }

    /// An error at an earlier offset.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> DecodeError {
        DecodeError::Malformed {
            offset,
            message: message.into(),
        }
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "truncated {what}: needs {n} bytes, {} left",
                self.remaining()
            )));
        }
        let slice = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        let at = self.offset();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error_at(at, format!("{what}: flag byte {other} is not 0 or 1"))),
        }
    }

    /// A count of items each at least `min_item_bytes` long; rejects counts
    /// the remaining bytes cannot hold (so corrupt counts never allocate).
    pub fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.offset();
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(self.error_at(
                at,
                format!(
                    "{what} count {n} exceeds the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    /// Length-prefixed raw bytes.
    pub fn blob(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.count(what, 1)?;
        self.bytes(n, what)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!(
                "{} unexpected trailing bytes in {what}",
                self.remaining()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_offsets() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(0xDEAD_BEEF);
        w.i64(-5);
        w.blob(b"hi");
        let mut r = Reader::new(&w.bytes, 100);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u32("b").unwrap(), 0xDEAD_BEEF);
        assert_eq!(r.i64("c").unwrap(), -5);
        assert_eq!(r.blob("d").unwrap(), b"hi");
        r.finish("test").unwrap();
        let err = Reader::new(&[1, 2], 40).u32("word").unwrap_err();
        assert_eq!(
            err.to_string(),
            "offset 0x28: truncated word: needs 4 bytes, 2 left"
        );
        let err = Reader::new(&[9, 0, 0, 0], 0).count("items", 1).unwrap_err();
        assert!(err.to_string().contains("count 9 exceeds"), "{err}");
    }
}
