//! Programs and the module a binary holds.
//!
//! A [`Module`] is everything a launch needs: the kernel's argument table,
//! the SPMD tile program and how program instances are dispatched to tiles,
//! the optional cluster program (run once per cluster per launch by the
//! cluster's DMA sequencer), the constant pool (initial TSRAM/CSRAM data),
//! the micro-program table and the debug line table.

use super::address::{Space, UnitSet};
use super::dispatch::Dispatch;
use super::dtype::DType;
use super::instr::Instr;
use super::micro::{MicroId, MicroProgram};

/// Index of a [`DebugLoc`] in [`Module::debug_locs`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DebugLocId(pub u32);

/// A Python source position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PyLoc {
    pub file: String,
    pub line: u32,
    pub col: u32,
}

/// Where an instruction came from: the TTIR op (name and `line:col` in the
/// TTIR text) and, when the TTIR carried it, the Python source position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DebugLoc {
    pub op_name: String,
    pub ttir_line: u32,
    pub ttir_col: u32,
    pub python: Option<PyLoc>,
}

/// A line-table row: instructions from `pc` up to the next row's `pc` map
/// to `loc` (`None`: no source, e.g. compiler-generated prologue).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LineEntry {
    pub pc: u32,
    pub loc: Option<DebugLocId>,
}

/// A sequence of instructions with its line table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Program {
    pub code: Vec<Instr>,
    /// Rows sorted by strictly increasing `pc`.
    pub lines: Vec<LineEntry>,
}

impl Program {
    pub fn new(code: Vec<Instr>) -> Program {
        Program {
            code,
            lines: Vec::new(),
        }
    }

    /// The debug location of instruction `pc`.
    pub fn loc_of(&self, pc: u32) -> Option<DebugLocId> {
        let row = self.lines.partition_point(|e| e.pc <= pc);
        row.checked_sub(1).and_then(|r| self.lines[r].loc)
    }

    /// Appends an instruction attributed to `loc`, extending the line table
    /// only when the location changes. Returns the instruction's index.
    pub fn push(&mut self, instr: Instr, loc: Option<DebugLocId>) -> u32 {
        let pc = self.code.len() as u32;
        let current = self.lines.last().and_then(|e| e.loc);
        if self.lines.is_empty() && loc.is_some() || !self.lines.is_empty() && current != loc {
            self.lines.push(LineEntry { pc, loc });
        }
        self.code.push(instr);
        pc
    }
}

/// How a kernel argument is passed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// A pointer to a buffer of `pointee` elements (the register gets the
    /// buffer's HBM address; pointers to pointers use `i64`).
    Pointer { pointee: DType },
    /// A scalar passed by value.
    Scalar { dtype: DType },
}

/// One kernel argument, in parameter order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgDecl {
    pub name: String,
    pub kind: ArgKind,
}

/// Initial data placed in TSRAM or CSRAM before the launch starts (at the
/// same offset in every unit of `units`). Programs must treat constants as
/// read-only: they are loaded once per launch, not per program instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Constant {
    /// `Tsram` or `Csram`.
    pub space: Space,
    pub units: UnitSet,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// The machine a module was compiled for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MachineRef {
    pub name: String,
    /// [`crate::machine::Machine::hash`] of the description.
    pub hash: u64,
}

/// Everything a binary holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Module {
    /// The kernel's name (the TTIR function).
    pub kernel: String,
    pub machine: MachineRef,
    pub args: Vec<ArgDecl>,
    pub dispatch: Dispatch,
    /// The SPMD program every tile runs once per program instance.
    pub tile_program: Program,
    /// The program each cluster's DMA sequencer runs once per launch.
    pub cluster_program: Option<Program>,
    pub constants: Vec<Constant>,
    pub micro_programs: Vec<MicroProgram>,
    pub debug_locs: Vec<DebugLoc>,
}

impl Module {
    /// An empty module for `kernel` on `machine`: round-robin dispatch over
    /// every tile, empty programs and tables.
    pub fn new(kernel: impl Into<String>, machine: MachineRef) -> Module {
        Module {
            kernel: kernel.into(),
            machine,
            args: Vec::new(),
            dispatch: Dispatch::RoundRobin { tiles: 0 },
            tile_program: Program::default(),
            cluster_program: None,
            constants: Vec::new(),
            micro_programs: Vec::new(),
            debug_locs: Vec::new(),
        }
    }

    /// Adds a micro-program, reusing an identical one; returns its id.
    pub fn intern_micro(&mut self, program: MicroProgram) -> MicroId {
        if let Some(i) = self.micro_programs.iter().position(|p| *p == program) {
            return MicroId(i as u32);
        }
        self.micro_programs.push(program);
        MicroId(self.micro_programs.len() as u32 - 1)
    }

    /// Adds a debug location, reusing an identical one; returns its id.
    pub fn intern_loc(&mut self, loc: DebugLoc) -> DebugLocId {
        if let Some(i) = self.debug_locs.iter().position(|l| *l == loc) {
            return DebugLocId(i as u32);
        }
        self.debug_locs.push(loc);
        DebugLocId(self.debug_locs.len() as u32 - 1)
    }

    pub fn micro(&self, id: MicroId) -> Option<&MicroProgram> {
        self.micro_programs.get(id.0 as usize)
    }

    pub fn debug_loc(&self, id: DebugLocId) -> Option<&DebugLoc> {
        self.debug_locs.get(id.0 as usize)
    }

    /// A human-readable description of where instruction `pc` of the tile
    /// (or cluster) program came from: `tt.load at 12:5 (kernel.py:10:3)`.
    pub fn describe_pc(&self, cluster_program: bool, pc: u32) -> String {
        let program = if cluster_program {
            self.cluster_program.as_ref()
        } else {
            Some(&self.tile_program)
        };
        let which = if cluster_program { "cluster" } else { "tile" };
        let instr = program
            .and_then(|p| p.code.get(pc as usize))
            .map_or_else(|| "?".to_string(), |i| i.op.mnemonic());
        let loc = program
            .and_then(|p| p.loc_of(pc))
            .and_then(|id| self.debug_loc(id));
        match loc {
            None => format!("{which} program pc {pc} ({instr})"),
            Some(l) => {
                let py = l
                    .python
                    .as_ref()
                    .map(|p| format!(", {}:{}:{}", p.file, p.line, p.col))
                    .unwrap_or_default();
                format!(
                    "{which} program pc {pc} ({instr}) from {} at TTIR {}:{}{py}",
                    l.op_name, l.ttir_line, l.ttir_col
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::control::CpOp;

    #[test]
    fn line_table_rows_start_where_locations_change() {
        let mut p = Program::default();
        let nop = || Instr::new(CpOp::Nop.into());
        p.push(nop(), None);
        p.push(nop(), Some(DebugLocId(0)));
        p.push(nop(), Some(DebugLocId(0)));
        p.push(nop(), Some(DebugLocId(1)));
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.loc_of(0), None);
        assert_eq!(p.loc_of(2), Some(DebugLocId(0)));
        assert_eq!(p.loc_of(3), Some(DebugLocId(1)));
        assert_eq!(p.loc_of(99), Some(DebugLocId(1)));
    }
}
