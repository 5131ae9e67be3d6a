//! The closed set of operations maiac understands, with their MLIR names.
//!
//! An op name outside this table is rejected by the parser ("unknown op"), so
//! every later stage can match exhaustively.

macro_rules! opcodes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// An operation kind.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Opcode {
            $( $(#[$doc])* $variant, )*
        }

        impl Opcode {
            /// Every opcode, in declaration order.
            pub const ALL: &'static [Opcode] = &[ $( Opcode::$variant, )* ];

            /// The MLIR op name (`dialect.op`).
            pub fn name(self) -> &'static str {
                match self {
                    $( Opcode::$variant => $name, )*
                }
            }

            /// Looks up an op by its MLIR name.
            pub fn from_name(name: &str) -> Option<Opcode> {
                match name {
                    $( $name => Some(Opcode::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

opcodes! {
    // ---- builtin / tt structure
    Func = "tt.func",
    Return = "tt.return",
    Call = "tt.call",
    // ---- tt: program and index space
    GetProgramId = "tt.get_program_id",
    GetNumPrograms = "tt.get_num_programs",
    MakeRange = "tt.make_range",
    // ---- tt: shape manipulation
    Splat = "tt.splat",
    Unsplat = "tt.unsplat",
    Broadcast = "tt.broadcast",
    ExpandDims = "tt.expand_dims",
    Reshape = "tt.reshape",
    Trans = "tt.trans",
    Cat = "tt.cat",
    Join = "tt.join",
    Split = "tt.split",
    Gather = "tt.gather",
    Histogram = "tt.histogram",
    // ---- tt: memory
    AddPtr = "tt.addptr",
    Load = "tt.load",
    Store = "tt.store",
    AtomicRmw = "tt.atomic_rmw",
    AtomicCas = "tt.atomic_cas",
    IntToPtr = "tt.int_to_ptr",
    PtrToInt = "tt.ptr_to_int",
    MakeTensorPtr = "tt.make_tensor_ptr",
    Advance = "tt.advance",
    MakeTensorDescriptor = "tt.make_tensor_descriptor",
    DescriptorLoad = "tt.descriptor_load",
    DescriptorStore = "tt.descriptor_store",
    DescriptorGather = "tt.descriptor_gather",
    DescriptorScatter = "tt.descriptor_scatter",
    /// `desc.atomic_add/max/...` (Triton 3.4 on): `[desc, src, indices...]`,
    /// attributes `kind` (Triton's spelling) and `atomic_rmw_op` (the
    /// `tt.atomic_rmw` op it applies per element, signedness resolved by the
    /// parser from the descriptor's element type).
    DescriptorReduce = "tt.descriptor_reduce",
    // ---- tt: compute
    Dot = "tt.dot",
    DotScaled = "tt.dot_scaled",
    Reduce = "tt.reduce",
    ReduceReturn = "tt.reduce.return",
    Scan = "tt.scan",
    ScanReturn = "tt.scan.return",
    /// `tl.map_elementwise` (Triton 3.9): a scalar region (possibly a CFG)
    /// applied to every element, or to every group of `pack` elements.
    MapElementwise = "tt.map_elementwise",
    MapElementwiseReturn = "tt.map_elementwise.return",
    FpToFp = "tt.fp_to_fp",
    Bitcast = "tt.bitcast",
    ClampF = "tt.clampf",
    PreciseSqrt = "tt.precise_sqrt",
    PreciseDivF = "tt.precise_divf",
    MulhiUI = "tt.mulhiui",
    ExternElementwise = "tt.extern_elementwise",
    // ---- tt: debugging
    Assert = "tt.assert",
    Print = "tt.print",
    // ---- arith
    Constant = "arith.constant",
    AddI = "arith.addi",
    SubI = "arith.subi",
    MulI = "arith.muli",
    DivSI = "arith.divsi",
    DivUI = "arith.divui",
    CeilDivSI = "arith.ceildivsi",
    CeilDivUI = "arith.ceildivui",
    FloorDivSI = "arith.floordivsi",
    RemSI = "arith.remsi",
    RemUI = "arith.remui",
    AndI = "arith.andi",
    OrI = "arith.ori",
    XOrI = "arith.xori",
    ShLI = "arith.shli",
    ShRSI = "arith.shrsi",
    ShRUI = "arith.shrui",
    MaxSI = "arith.maxsi",
    MaxUI = "arith.maxui",
    MinSI = "arith.minsi",
    MinUI = "arith.minui",
    MulSIExtended = "arith.mulsi_extended",
    MulUIExtended = "arith.mului_extended",
    AddF = "arith.addf",
    SubF = "arith.subf",
    MulF = "arith.mulf",
    DivF = "arith.divf",
    RemF = "arith.remf",
    NegF = "arith.negf",
    MaximumF = "arith.maximumf",
    MinimumF = "arith.minimumf",
    MaxNumF = "arith.maxnumf",
    MinNumF = "arith.minnumf",
    CmpI = "arith.cmpi",
    CmpF = "arith.cmpf",
    Select = "arith.select",
    ExtSI = "arith.extsi",
    ExtUI = "arith.extui",
    TruncI = "arith.trunci",
    ExtF = "arith.extf",
    TruncF = "arith.truncf",
    SIToFP = "arith.sitofp",
    UIToFP = "arith.uitofp",
    FPToSI = "arith.fptosi",
    FPToUI = "arith.fptoui",
    ArithBitcast = "arith.bitcast",
    IndexCast = "arith.index_cast",
    IndexCastUI = "arith.index_castui",
    // ---- math
    Exp = "math.exp",
    Exp2 = "math.exp2",
    Log = "math.log",
    Log2 = "math.log2",
    Sqrt = "math.sqrt",
    Rsqrt = "math.rsqrt",
    AbsF = "math.absf",
    AbsI = "math.absi",
    Sin = "math.sin",
    Cos = "math.cos",
    Tanh = "math.tanh",
    Erf = "math.erf",
    Floor = "math.floor",
    Ceil = "math.ceil",
    Fma = "math.fma",
    // ---- scf
    For = "scf.for",
    If = "scf.if",
    While = "scf.while",
    Yield = "scf.yield",
    Condition = "scf.condition",
    // ---- cf
    Br = "cf.br",
    CondBr = "cf.cond_br",
    // ---- misc
    Poison = "ub.poison",
    Assume = "llvm.intr.assume",
    /// `tl.debug_barrier()` in recent Triton (3.9: `ttg.barrier all`): a
    /// barrier among the threads of one program instance.
    Barrier = "ttg.barrier",
    /// `tl.debug_barrier()` in older Triton (3.2 … 3.6).
    GpuBarrier = "gpu.barrier",
}

impl Opcode {
    /// Ops that end a block.
    pub fn is_terminator(self) -> bool {
        matches!(
            self,
            Opcode::Return
                | Opcode::ReduceReturn
                | Opcode::ScanReturn
                | Opcode::MapElementwiseReturn
                | Opcode::Yield
                | Opcode::Condition
                | Opcode::Br
                | Opcode::CondBr
        )
    }

    /// The dialect prefix (`tt`, `arith`, `math`, `scf`, `cf`, `ub`, `llvm`).
    pub fn dialect(self) -> &'static str {
        let name = self.name();
        &name[..name.find('.').unwrap_or(name.len())]
    }

    /// Elementwise ops with no side effects whose result has the operands'
    /// shape: what fusion may merge into one vector pass.
    pub fn is_elementwise(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            AddI | SubI
                | MulI
                | DivSI
                | DivUI
                | CeilDivSI
                | CeilDivUI
                | FloorDivSI
                | RemSI
                | RemUI
                | AndI
                | OrI
                | XOrI
                | ShLI
                | ShRSI
                | ShRUI
                | MaxSI
                | MaxUI
                | MinSI
                | MinUI
                | AddF
                | SubF
                | MulF
                | DivF
                | RemF
                | NegF
                | MaximumF
                | MinimumF
                | MaxNumF
                | MinNumF
                | CmpI
                | CmpF
                | Select
                | ExtSI
                | ExtUI
                | TruncI
                | ExtF
                | TruncF
                | SIToFP
                | UIToFP
                | FPToSI
                | FPToUI
                | ArithBitcast
                | IndexCast
                | IndexCastUI
                | Exp
                | Exp2
                | Log
                | Log2
                | Sqrt
                | Rsqrt
                | AbsF
                | AbsI
                | Sin
                | Cos
                | Tanh
                | Erf
                | Floor
                | Ceil
                | Fma
                | FpToFp
                | Bitcast
                | ClampF
                | PreciseSqrt
                | PreciseDivF
                | MulhiUI
                | ExternElementwise
                | AddPtr
                | IntToPtr
                | PtrToInt
        )
    }

    /// Ops with memory or I/O side effects (never removed as dead code).
    pub fn has_side_effects(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            Store
                | AtomicRmw
                | AtomicCas
                | DescriptorStore
                | DescriptorScatter
                | DescriptorReduce
                | Assert
                | Print
                | Call
                | Return
                | Assume
        ) || self.is_terminator()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_name(op.name()), Some(op));
        }
        assert_eq!(Opcode::from_name("tt.frobnicate"), None);
    }
}
