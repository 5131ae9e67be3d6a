//! The HBM address map shared by the reference interpreter and the emulator.
//!
//! Buffer `i` (the i-th pointer parameter, in parameter order) lives at byte
//! address `(i + 1) << 32`; a pointer value *is* this 64-bit address plus a
//! byte offset. Address 0 and everything below `1 << 32` is unmapped, so a
//! null or integer-forged pointer faults instead of aliasing buffer 0. Because
//! both engines decode addresses the same way, `tt.ptr_to_int` /
//! `tt.int_to_ptr` round trips and out-of-bounds reports agree between them.

/// log2 of the address-space slice each buffer gets (4 GiB).
pub const BUFFER_SHIFT: u32 = 32;

/// The largest buffer a slice can hold.
pub const MAX_BUFFER_BYTES: u64 = 1 << BUFFER_SHIFT;

/// The base byte address of buffer `index`.
pub fn buffer_base(index: usize) -> u64 {
    (index as u64 + 1) << BUFFER_SHIFT
}

/// Splits an address into (buffer index, byte offset); `None` for the
/// unmapped low slice.
pub fn decode_address(addr: u64) -> Option<(usize, u64)> {
    let slice = addr >> BUFFER_SHIFT;
    let buffer = usize::try_from(slice.checked_sub(1)?).ok()?;
    Some((buffer, addr & (MAX_BUFFER_BYTES - 1)))
}

/// Why an access of `size` bytes at an address is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressFault {
    /// The address is below the first buffer or past the last one.
    Unmapped { addr: u64 },
    /// The access runs past the end of (or starts outside) its buffer.
    OutOfBounds {
        addr: u64,
        buffer: usize,
        offset: u64,
        size: u64,
        buffer_len: u64,
    },
}

impl std::fmt::Display for AddressFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            AddressFault::Unmapped { addr } => {
                write!(f, "address {addr:#x} is not inside any buffer")
            }
            AddressFault::OutOfBounds {
                addr,
                buffer,
                offset,
                size,
                buffer_len,
            } => write!(
                f,
                "address {addr:#x} is byte offset {offset} of buffer {buffer}, \
                 whose {buffer_len} bytes cannot hold a {size}-byte access there"
            ),
        }
    }
}

/// Checks an access of `size` bytes at `addr` against the buffer lengths and
/// returns (buffer index, byte offset).
pub fn resolve_access(
    addr: u64,
    size: u64,
    buffer_lens: &[u64],
) -> Result<(usize, usize), AddressFault> {
    let (buffer, offset) = decode_address(addr).ok_or(AddressFault::Unmapped { addr })?;
    let buffer_len = *buffer_lens
        .get(buffer)
        .ok_or(AddressFault::Unmapped { addr })?;
    match offset.checked_add(size) {
        Some(end) if end <= buffer_len => Ok((buffer, offset as usize)),
        _ => Err(AddressFault::OutOfBounds {
            addr,
            buffer,
            offset,
            size,
            buffer_len,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_it_encodes() {
        assert_eq!(decode_address(buffer_base(0)), Some((0, 0)));
        assert_eq!(decode_address(buffer_base(3) + 12), Some((3, 12)));
        assert_eq!(decode_address(0), None);
        assert_eq!(decode_address(4096), None);
    }

    #[test]
    fn checks_bounds() {
        let lens = [16, 4];
        assert_eq!(resolve_access(buffer_base(0) + 12, 4, &lens), Ok((0, 12)));
        assert!(matches!(
            resolve_access(buffer_base(0) + 16, 4, &lens),
            Err(AddressFault::OutOfBounds {
                buffer: 0,
                offset: 16,
                ..
            })
        ));
        assert!(matches!(
            resolve_access(buffer_base(0).wrapping_sub(4), 4, &lens),
            Err(AddressFault::Unmapped { .. })
        ));
        assert!(matches!(
            resolve_access(buffer_base(2), 1, &lens),
            Err(AddressFault::Unmapped { .. })
        ));
    }
}
