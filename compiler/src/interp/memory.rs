//! The interpreter's HBM: one byte vector per pointer parameter, addressed
//! through the launch contract's shared address map
//! ([`maiac_runtime_emu::launch::address`]), every access bounds-checked.

use maiac_ir::Type;
use maiac_runtime_emu::launch::{resolve_access, AddressFault, BoundLaunch};

/// The buffers of a launch.
#[derive(Clone, Debug)]
pub struct Memory {
    buffers: Vec<Vec<u8>>,
    lens: Vec<u64>,
    names: Vec<String>,
}

/// How a scalar element is stored: its byte size and whether it is an `i1`
/// (stored as a byte, read as `byte != 0`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ElemLayout {
    pub size: u64,
    pub is_bool: bool,
}

impl ElemLayout {
    /// The layout of scalar type `ty` in memory.
    pub fn of(ty: &Type) -> ElemLayout {
        ElemLayout {
            size: ty.scalar_size_bytes(),
            is_bool: *ty == Type::I1,
        }
    }
}

impl Memory {
    /// The initial memory image of a launch.
    pub fn from_launch(launch: &BoundLaunch) -> Memory {
        let buffers = launch.initial_memory();
        let lens = buffers.iter().map(|b| b.len() as u64).collect();
        let names = launch.buffers.iter().map(|b| b.name.clone()).collect();
        Memory {
            buffers,
            lens,
            names,
        }
    }

    /// The final contents of every buffer.
    pub fn into_buffers(self) -> Vec<Vec<u8>> {
        self.buffers
    }

    /// The parameter name of buffer `index`.
    pub fn buffer_name(&self, index: usize) -> &str {
        self.names.get(index).map(String::as_str).unwrap_or("?")
    }

    /// Reads one element at `addr`.
    #[inline]
    pub fn read(&self, addr: u64, layout: ElemLayout) -> Result<u64, AddressFault> {
        let (buffer, offset) = resolve_access(addr, layout.size, &self.lens)?;
        let bytes = &self.buffers[buffer][offset..offset + layout.size as usize];
        let mut raw = [0u8; 8];
        raw[..bytes.len()].copy_from_slice(bytes);
        let bits = u64::from_le_bytes(raw);
        Ok(if layout.is_bool {
            u64::from(bits != 0)
        } else {
            bits
        })
    }

    /// Writes one element at `addr`.
    #[inline]
    pub fn write(&mut self, addr: u64, layout: ElemLayout, bits: u64) -> Result<(), AddressFault> {
        let (buffer, offset) = resolve_access(addr, layout.size, &self.lens)?;
        let bits = if layout.is_bool { bits & 1 } else { bits };
        let size = layout.size as usize;
        self.buffers[buffer][offset..offset + size].copy_from_slice(&bits.to_le_bytes()[..size]);
        Ok(())
    }

    /// Describes a fault for a user: the buffer is named by its parameter.
    pub fn describe_fault(&self, fault: &AddressFault) -> String {
        match *fault {
            AddressFault::Unmapped { addr } => {
                format!("address {addr:#x} does not point into any buffer")
            }
            // A negative index from buffer i+1 lands at the top of buffer i's
            // 4 GiB address slice: report it against the buffer it came from.
            AddressFault::OutOfBounds {
                addr,
                buffer,
                offset,
                ..
            } if offset >= 1 << 31 && buffer + 1 < self.buffers.len() => {
                format!(
                    "address {addr:#x} is {} bytes before the start of buffer `{}` ({} bytes)",
                    (1u64 << 32) - offset,
                    self.buffer_name(buffer + 1),
                    self.lens[buffer + 1]
                )
            }
            AddressFault::OutOfBounds {
                addr,
                buffer,
                offset,
                size,
                buffer_len,
            } => format!(
                "address {addr:#x} is byte offset {offset} of buffer `{}` ({buffer_len} bytes), \
                 outside it for a {size}-byte access",
                self.buffer_name(buffer),
            ),
        }
    }
}
