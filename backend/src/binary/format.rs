//! Constants of the binary layout: magic, version, header fields, section
//! kinds and the opcode/tag bytes of instructions and lane ops. Encoder
//! and decoder both use these names, so the two cannot drift apart.

/// First 8 bytes of every binary.
pub const MAGIC: [u8; 8] = *b"MAIACBIN";
/// Format version; a decoder accepts exactly its major version and any
/// minor version up to its own.
pub const VERSION_MAJOR: u16 = 1;
/// 1.1: engine no-ops (`ENGINE_NOP`), DMA dimension `start` bounds.
/// 1.2: `FLOAT_TO_INT_ROUNDED` and `FLOAT_INT` lane ops; float ops `saturate`, `logb`,
/// `fdimf`, `remainderf` and the directed-rounding `_rz`/`_rd`/`_ru` forms
/// (new codes after the 1.1 ones).
pub const VERSION_MINOR: u16 = 2;

/// Header: magic (8), major (2), minor (2), section count (4), machine
/// hash (8), checksum (8).
pub const HEADER_BYTES: usize = 32;
/// Offset of the checksum field inside the header.
pub const CHECKSUM_OFFSET: usize = 24;
/// Section table entry: kind (4), reserved (4), offset (8), length (8).
pub const SECTION_ENTRY_BYTES: usize = 24;

/// The sections of a binary.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionKind {
    Strings = 1,
    ModuleInfo = 2,
    Args = 3,
    Dispatch = 4,
    MicroPrograms = 5,
    DmaDescriptors = 6,
    TileCode = 7,
    ClusterCode = 8,
    Constants = 9,
    DebugLocs = 10,
    TileLines = 11,
    ClusterLines = 12,
}

impl SectionKind {
    /// Every kind, in the order the encoder writes them.
    pub const ALL: [SectionKind; 12] = [
        SectionKind::Strings,
        SectionKind::ModuleInfo,
        SectionKind::Args,
        SectionKind::Dispatch,
        SectionKind::MicroPrograms,
        SectionKind::DmaDescriptors,
        SectionKind::TileCode,
        SectionKind::ClusterCode,
        SectionKind::Constants,
        SectionKind::DebugLocs,
        SectionKind::TileLines,
        SectionKind::ClusterLines,
    ];

    pub fn from_code(code: u32) -> Option<SectionKind> {
        SectionKind::ALL.into_iter().find(|k| *k as u32 == code)
    }

    /// Whether every binary has this section (cluster code and its lines
    /// are present only with a cluster program).
    pub fn required(self) -> bool {
        !matches!(self, SectionKind::ClusterCode | SectionKind::ClusterLines)
    }

    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Strings => "strings",
            SectionKind::ModuleInfo => "module info",
            SectionKind::Args => "arguments",
            SectionKind::Dispatch => "dispatch",
            SectionKind::MicroPrograms => "micro-programs",
            SectionKind::DmaDescriptors => "DMA descriptors",
            SectionKind::TileCode => "tile code",
            SectionKind::ClusterCode => "cluster code",
            SectionKind::Constants => "constants",
            SectionKind::DebugLocs => "debug locations",
            SectionKind::TileLines => "tile line table",
            SectionKind::ClusterLines => "cluster line table",
        }
    }
}

/// Instruction opcode bytes.
pub mod opcode {
    pub const MOV: u8 = 0x01;
    pub const ALU: u8 = 0x02;
    pub const SELECT: u8 = 0x03;
    pub const READ_SPECIAL: u8 = 0x04;
    pub const ARG: u8 = 0x05;
    pub const LOAD: u8 = 0x06;
    pub const STORE: u8 = 0x07;
    pub const JUMP: u8 = 0x08;
    pub const BRANCH: u8 = 0x09;
    pub const LOOP: u8 = 0x0A;
    pub const FENCE: u8 = 0x0B;
    pub const BARRIER: u8 = 0x0C;
    pub const TRAP: u8 = 0x0D;
    pub const HALT: u8 = 0x0E;
    pub const NOP: u8 = 0x0F;
    /// An engine no-op: the engine's index (1 DMA, 2 TTU, 3 TVP) follows.
    pub const ENGINE_NOP: u8 = 0x10;
    /// Any DMA instruction: a u32 index into the descriptor table follows.
    pub const DMA: u8 = 0x20;
    pub const MATMUL: u8 = 0x30;
    pub const DRAIN: u8 = 0x31;
    pub const MAP: u8 = 0x40;
    pub const REDUCE: u8 = 0x41;
    pub const SCAN: u8 = 0x42;
    pub const IOTA: u8 = 0x43;
    pub const COPY: u8 = 0x44;
    pub const GATHER: u8 = 0x45;
    pub const HISTOGRAM: u8 = 0x46;
    pub const ACT_REDUCE: u8 = 0x47;
    pub const MX_QUANTIZE: u8 = 0x48;
    pub const MX_DEQUANTIZE: u8 = 0x49;
}

/// DMA descriptor kind bytes.
pub mod dma_kind {
    pub const COPY: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const GATHER: u8 = 2;
    pub const SCATTER: u8 = 3;
    pub const ATOMIC: u8 = 4;
}

/// Lane-op kind bytes.
pub mod lane_kind {
    pub const INT: u8 = 0;
    pub const INT_ABS: u8 = 1;
    pub const BIT: u8 = 2;
    pub const INT_CMP: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const FLOAT_UNARY: u8 = 5;
    pub const SIGMOID: u8 = 6;
    pub const FLOAT_CMP: u8 = 7;
    pub const FLOAT_CLASS: u8 = 8;
    pub const FMA: u8 = 9;
    pub const CLAMP: u8 = 10;
    pub const SELECT: u8 = 11;
    pub const EXT_SIGNED: u8 = 12;
    pub const EXT_UNSIGNED: u8 = 13;
    pub const TRUNC: u8 = 14;
    pub const INT_TO_FLOAT: u8 = 15;
    pub const FLOAT_TO_INT: u8 = 16;
    pub const CONVERT: u8 = 17;
    pub const ADD_PTR: u8 = 18;
    pub const BITCAST: u8 = 19;
    /// `FLOAT_TO_INT` with a rounding other than toward zero (one more
    /// byte: the rounding's code).
    pub const FLOAT_TO_INT_ROUNDED: u8 = 20;
    /// A float and an integer operand (`ldexpf`, `powif`): op, type, width.
    pub const FLOAT_INT: u8 = 21;
}
