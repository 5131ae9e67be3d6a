//! What an executing instruction sees: the module, the machine, the
//! register snapshot taken when the CP dispatched it, and its unit; and
//! what it reports back (memory accesses, HBM traffic, MACs).

use maiac_backend::isa::{Address, DType, Module, Space, TtuPrecision, Unit, View, NUM_REGS};
use maiac_backend::machine::Machine;

use super::error::{ExecResult, Fault};
use super::memory::{Memory, Place, Region};
use super::strided::{Ranges, Strided};

/// The execution context of one instruction.
pub struct ExecCtx<'a> {
    pub module: &'a Module,
    pub machine: &'a Machine,
    pub regs: &'a [u64; NUM_REGS],
    /// The issuing tile; `None` for the cluster program.
    pub tile: Option<u32>,
    pub cluster: u32,
}

/// One memory access of an instruction.
#[derive(Clone, Debug)]
pub struct Access {
    pub region: Region,
    pub write: bool,
    /// Atomic read-modify-writes do not race with each other.
    pub atomic: bool,
    pub ranges: Ranges,
}

/// The observable side effects of an instruction besides memory contents.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    pub accesses: Vec<Access>,
    /// Bytes moved to or from HBM.
    pub hbm_bytes: u64,
    /// What of HBM the instruction touched, exactly (the race detector's
    /// `accesses` may summarise a strided set by its span), for the
    /// launch's distinct-byte count (`emu::footprint`).
    pub hbm_touched: Vec<HbmTouch>,
    /// TTU multiply-accumulates and their precision class.
    pub macs: u64,
    pub precision: Option<TtuPrecision>,
}

/// HBM bytes one instruction read or wrote.
#[derive(Clone, Debug)]
pub enum HbmTouch {
    /// Every byte of a strided set (its region is the HBM buffer).
    Set { set: Strided, write: bool },
    /// Bytes `[lo, hi)` of HBM buffer `buffer`.
    Range {
        buffer: usize,
        lo: u64,
        hi: u64,
        write: bool,
    },
}

impl Effects {
    pub fn read(&mut self, s: &Strided) {
        self.push(s, false);
    }

    pub fn write(&mut self, s: &Strided) {
        self.push(s, true);
    }

    fn push(&mut self, s: &Strided, write: bool) {
        if s.is_empty() {
            return;
        }
        if let Region::Hbm(_) = s.region {
            self.hbm_bytes += (s.len() as u64 * u64::from(s.bits)).div_ceil(8);
            self.hbm_touched.push(HbmTouch::Set {
                set: s.clone(),
                write,
            });
        }
        self.accesses.push(Access {
            region: s.region,
            write,
            atomic: false,
            ranges: s.ranges(),
        });
    }

    /// Records the elements of one indexed instruction (gather, scatter,
    /// atomic) as one access per buffer rather than one per element: the
    /// race detector scans its log for every access, so per-element records
    /// made a 128x128 gather or atomic tile quadratic in the elements. Plain
    /// elements are merged into sorted byte ranges; atomic ones stay one
    /// range per element (sorted, duplicates dropped) because the detector
    /// keys the release clocks of atomics by each element's first byte.
    pub fn indexed(&mut self, mut elems: Vec<(Region, u64, u64)>, write: bool, atomic: bool) {
        self.hbm_bytes += elems
            .iter()
            .filter(|(r, _, _)| matches!(r, Region::Hbm(_)))
            .map(|&(_, lo, hi)| hi - lo)
            .sum::<u64>();
        elems.sort_unstable();
        elems.dedup();
        let mut i = 0;
        while i < elems.len() {
            let region = elems[i].0;
            let mut ranges: Ranges = Vec::new();
            while let Some(&(r, lo, hi)) = elems.get(i) {
                if r != region {
                    break;
                }
                match ranges.last_mut() {
                    Some(last) if !atomic && lo <= last.1 => last.1 = last.1.max(hi),
                    _ => ranges.push((lo, hi)),
                }
                i += 1;
            }
            if let Region::Hbm(buffer) = region {
                // The element ranges are exact here (merged, not spanned).
                self.hbm_touched
                    .extend(ranges.iter().map(|&(lo, hi)| HbmTouch::Range {
                        buffer,
                        lo,
                        hi,
                        write,
                    }));
            }
            self.accesses.push(Access {
                region,
                write,
                atomic,
                ranges,
            });
        }
    }

    /// Records a single byte range (scalar accesses).
    pub fn range(&mut self, region: Region, lo: usize, hi: usize, write: bool) {
        if let Region::Hbm(buffer) = region {
            self.hbm_bytes += (hi - lo) as u64;
            self.hbm_touched.push(HbmTouch::Range {
                buffer,
                lo: lo as u64,
                hi: hi as u64,
                write,
            });
        }
        self.accesses.push(Access {
            region,
            write,
            atomic: false,
            ranges: vec![(lo as u64, hi as u64)],
        });
    }
}

impl ExecCtx<'_> {
    /// The unit an address names: its cluster (CSRAM) or global tile (TSRAM/ACC).
    pub fn unit_of(&self, addr: &Address) -> ExecResult<u32> {
        let unit = match addr.unit {
            Unit::Local => match addr.space {
                Space::Hbm | Space::Csram => self.cluster,
                Space::Tsram | Space::Acc => self.tile.ok_or_else(|| {
                    Fault::new(format!(
                        "the cluster program has no local {}; name a tile with `{}@TILE`",
                        addr.space, addr.space
                    ))
                })?,
            },
            Unit::Remote(op) => {
                if addr.space == Space::Acc {
                    return Err(Fault::new("accumulators are not remotely addressable"));
                }
                let v = op.eval(self.regs);
                u32::try_from(v).map_err(|_| Fault::new(format!("unit {v} does not exist")))?
            }
        };
        Ok(unit)
    }

    /// Resolves an address (with the dispatch-time registers) to a place.
    pub fn place(&self, mem: &Memory, addr: &Address) -> ExecResult<Place> {
        let unit = self.unit_of(addr)?;
        mem.place(addr.space, unit, addr.offset.eval(self.regs))
    }

    /// Resolves and bounds-checks a tensor view.
    pub fn view(&self, mem: &Memory, view: &View) -> ExecResult<Strided> {
        let place = self.place(mem, &view.addr)?;
        Strided::new(
            mem,
            place,
            view.dtype.storage_bits(),
            &view.shape,
            &view.strides,
        )
    }

    /// A dense run of `count` elements of `dtype` at `addr`.
    pub fn dense(
        &self,
        mem: &Memory,
        addr: &Address,
        dtype: DType,
        count: u32,
    ) -> ExecResult<Strided> {
        let place = self.place(mem, addr)?;
        Strided::new(mem, place, dtype.storage_bits(), &[count], &[1])
    }
}
