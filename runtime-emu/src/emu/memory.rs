//! The machine's memories: HBM buffers (the launch contract's address map),
//! per-cluster CSRAM, per-tile TSRAM and accumulators; bounds-checked
//! resolution of addresses and bit-level element access.

use maiac_backend::isa::{Space, UnitSet};
use maiac_backend::machine::Machine;

use crate::launch::{decode_address, AddressFault};

use super::error::{ExecResult, Fault};
use super::sram::Sram;

/// One addressable memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Hbm(usize),
    Csram(u32),
    Tsram(u32),
    Acc(u32),
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Region::Hbm(b) => write!(f, "HBM buffer {b}"),
            Region::Csram(c) => write!(f, "the CSRAM of cluster {c}"),
            Region::Tsram(t) => write!(f, "the TSRAM of tile {t}"),
            Region::Acc(t) => write!(f, "the accumulators of tile {t}"),
        }
    }
}

/// A resolved address: a memory and a byte offset into it (for HBM, the
/// offset inside the buffer).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub region: Region,
    pub offset: i128,
}

/// Every memory of the chip.
pub struct Memory {
    pub hbm: Vec<Vec<u8>>,
    pub csram: Vec<Sram>,
    pub tsram: Vec<Sram>,
    pub acc: Vec<Sram>,
}

impl Memory {
    /// Zeroed SRAM sized from the machine (allocated per unit on its
    /// first write, see [`Sram`]) and HBM from the launch buffers.
    pub fn new(machine: &Machine, hbm: Vec<Vec<u8>>) -> Memory {
        let tiles = machine.num_tiles() as usize;
        let clusters = machine.clusters as usize;
        let zeroed =
            |count: usize, bytes: u64| (0..count).map(|_| Sram::new(bytes as usize)).collect();
        Memory {
            hbm,
            csram: zeroed(clusters, machine.cluster.csram_bytes),
            tsram: zeroed(tiles, machine.tile.tsram_bytes),
            acc: zeroed(tiles, machine.tile.acc_bytes),
        }
    }

    pub fn bytes(&self, region: Region) -> &[u8] {
        match region {
            Region::Hbm(b) => &self.hbm[b],
            Region::Csram(c) => self.csram[c as usize].bytes(),
            Region::Tsram(t) => self.tsram[t as usize].bytes(),
            Region::Acc(t) => self.acc[t as usize].bytes(),
        }
    }

    pub fn bytes_mut(&mut self, region: Region) -> &mut [u8] {
        match region {
            Region::Hbm(b) => &mut self.hbm[b],
            Region::Csram(c) => self.csram[c as usize].bytes_mut(),
            Region::Tsram(t) => self.tsram[t as usize].bytes_mut(),
            Region::Acc(t) => self.acc[t as usize].bytes_mut(),
        }
    }

    /// The bytes of `src` to read and of `dst` to write at once (two
    /// different memories; `None` when they are the same).
    pub fn src_and_dst(&mut self, src: Region, dst: Region) -> Option<(&[u8], &mut [u8])> {
        if src == dst {
            return None;
        }
        let Memory {
            hbm,
            csram,
            tsram,
            acc,
        } = self;
        let units = hbm
            .iter_mut()
            .enumerate()
            .map(|(b, bytes)| (Region::Hbm(b), MemRef::Hbm(bytes)))
            .chain(sram_units(csram, Region::Csram))
            .chain(sram_units(tsram, Region::Tsram))
            .chain(sram_units(acc, Region::Acc));
        let (mut from, mut to) = (None, None);
        for (region, unit) in units {
            if region == src {
                from = Some(unit);
            } else if region == dst {
                to = Some(unit);
            }
        }
        Some((from?.into_bytes(), to?.into_bytes_mut()))
    }

    /// Resolves `space` + unit + byte offset to a place. `unit` is the
    /// cluster (CSRAM) or global tile (TSRAM/ACC) already chosen by the
    /// caller; HBM decodes the chip address.
    pub fn place(&self, space: Space, unit: u32, offset: u64) -> ExecResult<Place> {
        let region = match space {
            Space::Hbm => {
                let (buffer, off) = decode_address(offset).ok_or_else(|| {
                    Fault::new(format!("address {offset:#x} is not inside any buffer"))
                })?;
                if buffer >= self.hbm.len() {
                    return Err(Fault::new(format!(
                        "address {offset:#x} is not inside any buffer (the launch has {} buffers)",
                        self.hbm.len()
                    )));
                }
                return Ok(Place {
                    region: Region::Hbm(buffer),
                    offset: i128::from(off),
                });
            }
            Space::Csram if (unit as usize) < self.csram.len() => Region::Csram(unit),
            Space::Tsram if (unit as usize) < self.tsram.len() => Region::Tsram(unit),
            Space::Acc if (unit as usize) < self.acc.len() => Region::Acc(unit),
            _ => {
                return Err(Fault::new(format!(
                    "{} unit {unit} does not exist on this machine",
                    space.name()
                )))
            }
        };
        // SRAM offsets are signed: a negative offset is simply out of bounds.
        Ok(Place {
            region,
            offset: i128::from(offset as i64),
        })
    }

    /// Checks that bytes `lo..hi` relative to `place` lie inside its memory
    /// and returns the absolute byte range.
    pub fn check_span(&self, place: Place, lo: i128, hi: i128) -> ExecResult<(usize, usize)> {
        let len = self.bytes(place.region).len() as i128;
        let (start, end) = (place.offset + lo, place.offset + hi);
        if start < 0 || end > len || start > end {
            let what = match place.region {
                Region::Hbm(b) => format!(
                    "bytes {start}..{end} of HBM buffer {b} are out of bounds (the buffer has {len} bytes)"
                ),
                other => format!(
                    "bytes {start}..{end} exceed the capacity of {other} ({len} bytes)"
                ),
            };
            return Err(Fault::new(what));
        }
        Ok((start as usize, end as usize))
    }

    /// Checks one HBM access of `size` bytes at chip address `addr`.
    pub fn check_hbm(&self, addr: u64, size: u64) -> ExecResult<(usize, usize)> {
        // The launch contract's rules (`resolve_access`), without building
        // the list of buffer lengths for every element.
        let unmapped = || Fault::new(AddressFault::Unmapped { addr }.to_string());
        let (buffer, offset) = decode_address(addr).ok_or_else(unmapped)?;
        let buffer_len = self.hbm.get(buffer).ok_or_else(unmapped)?.len() as u64;
        match offset.checked_add(size) {
            Some(end) if end <= buffer_len => Ok((buffer, offset as usize)),
            _ => Err(Fault::new(
                AddressFault::OutOfBounds {
                    addr,
                    buffer,
                    offset,
                    size,
                    buffer_len,
                }
                .to_string(),
            )),
        }
    }
}

/// One memory, borrowed for [`Memory::src_and_dst`].
enum MemRef<'a> {
    Hbm(&'a mut Vec<u8>),
    Sram(&'a mut Sram),
}

impl<'a> MemRef<'a> {
    fn into_bytes(self) -> &'a [u8] {
        match self {
            MemRef::Hbm(bytes) => bytes,
            MemRef::Sram(sram) => sram.bytes(),
        }
    }

    fn into_bytes_mut(self) -> &'a mut [u8] {
        match self {
            MemRef::Hbm(bytes) => bytes,
            MemRef::Sram(sram) => sram.bytes_mut(),
        }
    }
}

/// The SRAM units of one kind with their regions.
fn sram_units(
    units: &mut [Sram],
    region: impl Fn(u32) -> Region,
) -> impl Iterator<Item = (Region, MemRef<'_>)> {
    units
        .iter_mut()
        .enumerate()
        .map(move |(i, sram)| (region(i as u32), MemRef::Sram(sram)))
}

/// The units a broadcast or constant reaches: clusters for CSRAM, global
/// tiles for TSRAM.
pub fn units_of(set: &UnitSet, space: Space, machine: &Machine, own_tile: u32) -> Vec<u32> {
    let count = match space {
        Space::Csram => machine.clusters,
        _ => machine.num_tiles(),
    };
    match set {
        UnitSet::All => (0..count).collect(),
        UnitSet::OwnCluster => match space {
            Space::Csram => vec![machine.cluster_of(own_tile)],
            _ => {
                let c = machine.cluster_of(own_tile);
                let per = machine.tiles_per_cluster;
                (c * per..(c + 1) * per).collect()
            }
        },
        UnitSet::List(units) => units.clone(),
    }
}

/// Reads the element of `bits` storage bits at bit offset `bit` (little
/// endian; 4-bit elements are nibbles, low nibble first). The caller has
/// bounds-checked the byte range.
#[inline]
pub fn read_bits(mem: &[u8], bit: u64, bits: u32) -> u64 {
    let byte = (bit / 8) as usize;
    match bits {
        4 => u64::from((mem[byte] >> (bit % 8)) & 0xF),
        8 => u64::from(mem[byte]),
        16 => u64::from(u16::from_le_bytes([mem[byte], mem[byte + 1]])),
        32 => u64::from(u32::from_le_bytes([
            mem[byte],
            mem[byte + 1],
            mem[byte + 2],
            mem[byte + 3],
        ])),
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&mem[byte..byte + 8]);
            u64::from_le_bytes(b)
        }
    }
}

/// Writes the low `bits` of `value` at bit offset `bit` (see [`read_bits`]).
#[inline]
pub fn write_bits(mem: &mut [u8], bit: u64, bits: u32, value: u64) {
    let byte = (bit / 8) as usize;
    match bits {
        4 => {
            let shift = bit % 8;
            let keep = mem[byte] & !(0xF << shift);
            mem[byte] = keep | (((value & 0xF) as u8) << shift);
        }
        8 => mem[byte] = value as u8,
        16 => mem[byte..byte + 2].copy_from_slice(&(value as u16).to_le_bytes()),
        32 => mem[byte..byte + 4].copy_from_slice(&(value as u32).to_le_bytes()),
        _ => mem[byte..byte + 8].copy_from_slice(&value.to_le_bytes()),
    }
}
