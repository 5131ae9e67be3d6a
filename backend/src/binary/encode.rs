//! Module → bytes. Deterministic: strings and DMA descriptors are interned
//! in first-use order, sections written in [`SectionKind::ALL`] order.

use std::collections::HashMap;

use super::format::{
    dma_kind, lane_kind, opcode, SectionKind, CHECKSUM_OFFSET, HEADER_BYTES, MAGIC,
    SECTION_ENTRY_BYTES, VERSION_MAJOR, VERSION_MINOR,
};
use super::wire::Writer;
use crate::isa::lane::{
    code_of, BIT_OPS, FLOAT_BINARY_OPS, FLOAT_CLASSES, FLOAT_INT_OPS, FLOAT_PREDICATES,
    FLOAT_UNARY_OPS, INT_BINARY_OPS, INT_PREDICATES, INT_ROUNDINGS, ROUNDINGS,
};
use crate::isa::*;
use crate::machine::hash::fnv1a;
use maiac_ir::semantics::convert::IntRounding;

/// Interning state shared by all sections.
#[derive(Default)]
struct Encoder {
    strings: Vec<String>,
    string_ids: HashMap<String, u32>,
    descriptors: Vec<DmaOp>,
    descriptor_ids: HashMap<DmaOp, u32>,
}

pub(super) fn encode_module(module: &Module) -> Vec<u8> {
    let mut enc = Encoder::default();
    let mut sections: Vec<(SectionKind, Vec<u8>)> = Vec::new();

    // Code first: it interns the DMA descriptors; every string user before
    // the string table is emitted.
    let tile_code = enc.section(|e, w| e.program_code(w, &module.tile_program));
    let cluster_code = module
        .cluster_program
        .as_ref()
        .map(|p| enc.section(|e, w| e.program_code(w, p)));
    let info = enc.section(|e, w| {
        let kernel = e.string(&module.kernel);
        let machine = e.string(&module.machine.name);
        w.u32(kernel);
        w.u32(machine);
        w.u64(module.machine.hash);
    });
    let args = enc.section(|e, w| {
        w.len(module.args.len());
        for a in &module.args {
            let name = e.string(&a.name);
            w.u32(name);
            match a.kind {
                ArgKind::Pointer { pointee } => {
                    w.u8(0);
                    w.u8(pointee.code());
                }
                ArgKind::Scalar { dtype } => {
                    w.u8(1);
                    w.u8(dtype.code());
                }
            }
        }
    });
    let dispatch = enc.section(|_, w| dispatch_policy(w, &module.dispatch));
    let micro = enc.section(|_, w| {
        w.len(module.micro_programs.len());
        for m in &module.micro_programs {
            micro_program(w, m);
        }
    });
    let descriptors = enc.section(|e, w| {
        w.len(e.descriptors.len());
        for d in e.descriptors.clone() {
            dma_op(w, &d);
        }
    });
    let constants = enc.section(|_, w| {
        w.len(module.constants.len());
        for c in &module.constants {
            w.u8(c.space.code());
            unit_set(w, &c.units);
            w.u64(c.offset);
            w.blob(&c.bytes);
        }
    });
    let debug_locs = enc.section(|e, w| {
        w.len(module.debug_locs.len());
        for l in &module.debug_locs {
            let name = e.string(&l.op_name);
            w.u32(name);
            w.u32(l.ttir_line);
            w.u32(l.ttir_col);
            match &l.python {
                None => w.u8(0),
                Some(py) => {
                    w.u8(1);
                    let file = e.string(&py.file);
                    w.u32(file);
                    w.u32(py.line);
                    w.u32(py.col);
                }
            }
        }
    });
    let tile_lines = enc.section(|_, w| line_table(w, &module.tile_program.lines));
    let cluster_lines = module
        .cluster_program
        .as_ref()
        .map(|p| enc.section(|_, w| line_table(w, &p.lines)));
    let strings = enc.section(|e, w| {
        w.len(e.strings.len());
        for s in &e.strings {
            w.blob(s.as_bytes());
        }
    });

    sections.push((SectionKind::Strings, strings));
    sections.push((SectionKind::ModuleInfo, info));
    sections.push((SectionKind::Args, args));
    sections.push((SectionKind::Dispatch, dispatch));
    sections.push((SectionKind::MicroPrograms, micro));
    sections.push((SectionKind::DmaDescriptors, descriptors));
    sections.push((SectionKind::TileCode, tile_code));
    if let Some(code) = cluster_code {
        sections.push((SectionKind::ClusterCode, code));
    }
    sections.push((SectionKind::Constants, constants));
    sections.push((SectionKind::DebugLocs, debug_locs));
    sections.push((SectionKind::TileLines, tile_lines));
    if let Some(lines) = cluster_lines {
        sections.push((SectionKind::ClusterLines, lines));
    }

    let mut out = Writer::default();
    out.bytes.extend_from_slice(&MAGIC);
    out.u16(VERSION_MAJOR);
    out.u16(VERSION_MINOR);
    out.len(sections.len());
    out.u64(module.machine.hash);
    out.u64(0); // checksum, patched below
    let mut offset = (HEADER_BYTES + sections.len() * SECTION_ENTRY_BYTES) as u64;
    for (kind, data) in &sections {
        out.u32(*kind as u32);
        out.u32(0);
        out.u64(offset);
        out.u64(data.len() as u64);
        offset += data.len() as u64;
    }
    for (_, data) in &sections {
        out.bytes.extend_from_slice(data);
    }
    let checksum = fnv1a(&out.bytes);
    out.bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&checksum.to_le_bytes());
    out.bytes
}

/// The checksum of a binary: FNV-1a of all bytes with the checksum field zeroed.
pub(super) fn checksum(bytes: &[u8]) -> u64 {
    let mut copy = bytes.to_vec();
    if copy.len() >= CHECKSUM_OFFSET + 8 {
        copy[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].fill(0);
    }
    fnv1a(&copy)
}

impl Encoder {
    fn section(&mut self, f: impl FnOnce(&mut Encoder, &mut Writer)) -> Vec<u8> {
        let mut w = Writer::default();
        f(self, &mut w);
        w.bytes
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), id);
        id
    }

    fn descriptor(&mut self, op: &DmaOp) -> u32 {
        if let Some(&id) = self.descriptor_ids.get(op) {
            return id;
        }
        let id = self.descriptors.len() as u32;
        self.descriptors.push(op.clone());
        self.descriptor_ids.insert(op.clone(), id);
        id
    }

    fn program_code(&mut self, w: &mut Writer, program: &Program) {
        w.len(program.code.len());
        for instr in &program.code {
            self.instr(w, instr);
        }
    }

    fn instr(&mut self, w: &mut Writer, instr: &Instr) {
        match &instr.op {
            Op::Cp(op) => cp_op(w, op, &instr.sync),
            Op::Dma(op) => {
                w.u8(opcode::DMA);
                sync(w, &instr.sync);
                let id = self.descriptor(op);
                w.u32(id);
            }
            Op::Ttu(op) => ttu_op(w, op, &instr.sync),
            Op::Tvp(op) => tvp_op(w, op, &instr.sync),
            Op::EngineNop(engine) => {
                w.u8(opcode::ENGINE_NOP);
                sync(w, &instr.sync);
                w.u8(engine_code(*engine));
            }
        }
    }
}

fn cp_op(w: &mut Writer, op: &CpOp, s: &Sync) {
    let head = |w: &mut Writer, code: u8| {
        w.u8(code);
        sync(w, s);
    };
    match op {
        CpOp::Mov { dst, src } => {
            head(w, opcode::MOV);
            w.u8(dst.0);
            operand(w, src);
        }
        CpOp::Alu { op, dst, a, b } => {
            head(w, opcode::ALU);
            w.u8(op.code());
            w.u8(dst.0);
            w.u8(a.0);
            operand(w, b);
        }
        CpOp::Select { dst, cond, a, b } => {
            head(w, opcode::SELECT);
            w.u8(dst.0);
            w.u8(cond.0);
            operand(w, a);
            operand(w, b);
        }
        CpOp::ReadSpecial { dst, special } => {
            head(w, opcode::READ_SPECIAL);
            w.u8(dst.0);
            w.u8(special.code());
        }
        CpOp::Arg { dst, index } => {
            head(w, opcode::ARG);
            w.u8(dst.0);
            w.u16(*index);
        }
        CpOp::Load {
            dst,
            addr,
            width,
            signed,
        } => {
            head(w, opcode::LOAD);
            w.u8(dst.0);
            address(w, addr);
            w.u8(width.bytes() as u8);
            w.bool(*signed);
        }
        CpOp::Store { src, addr, width } => {
            head(w, opcode::STORE);
            w.u8(src.0);
            address(w, addr);
            w.u8(width.bytes() as u8);
        }
        CpOp::Jump { target } => {
            head(w, opcode::JUMP);
            w.u32(target.0);
        }
        CpOp::Branch {
            cond,
            if_zero,
            target,
        } => {
            head(w, opcode::BRANCH);
            w.u8(cond.0);
            w.bool(*if_zero);
            w.u32(target.0);
        }
        CpOp::Loop { counter, target } => {
            head(w, opcode::LOOP);
            w.u8(counter.0);
            w.u32(target.0);
        }
        CpOp::Fence => head(w, opcode::FENCE),
        CpOp::Barrier { scope } => {
            head(w, opcode::BARRIER);
            w.u8(match scope {
                BarrierScope::Cluster => 0,
                BarrierScope::Chip => 1,
            });
        }
        CpOp::Trap { code } => {
            head(w, opcode::TRAP);
            w.u32(*code);
        }
        CpOp::Halt => head(w, opcode::HALT),
        CpOp::Nop => head(w, opcode::NOP),
    }
}

fn ttu_op(w: &mut Writer, op: &TtuOp, s: &Sync) {
    match op {
        TtuOp::Matmul(mm) => {
            w.u8(opcode::MATMUL);
            sync(w, s);
            w.u32(mm.m);
            w.u32(mm.n);
            w.u32(mm.k);
            mat_operand(w, &mm.a);
            mat_operand(w, &mm.b);
            address(w, &mm.out);
            w.u8(mm.out_dtype.code());
            w.u32(mm.out_row_stride);
            w.bool(mm.accumulate);
        }
        TtuOp::Drain(d) => {
            w.u8(opcode::DRAIN);
            sync(w, s);
            view(w, &d.src);
            view(w, &d.dst);
            match &d.epilogue {
                None => w.u8(0),
                Some(e) => {
                    w.u8(1);
                    w.u32(e.program.0);
                    map_inputs(w, &e.extra);
                }
            }
        }
    }
}

fn tvp_op(w: &mut Writer, op: &TvpOp, s: &Sync) {
    let head = |w: &mut Writer, code: u8| {
        w.u8(code);
        sync(w, s);
    };
    match op {
        TvpOp::Map(m) => {
            head(w, opcode::MAP);
            w.u32(m.program.0);
            map_inputs(w, &m.inputs);
            views(w, &m.outputs);
        }
        TvpOp::Reduce(r) => {
            head(w, opcode::REDUCE);
            w.u32(r.combiner.0);
            w.u8(r.axis);
            views(w, &r.inputs);
            views(w, &r.outputs);
        }
        TvpOp::Scan(sc) => {
            head(w, opcode::SCAN);
            w.u32(sc.combiner.0);
            w.u8(sc.axis);
            w.bool(sc.reverse);
            views(w, &sc.inputs);
            views(w, &sc.outputs);
        }
        TvpOp::Iota(i) => {
            head(w, opcode::IOTA);
            view(w, &i.dst);
            operand(w, &i.start);
            w.u8(i.axis);
        }
        TvpOp::Copy(c) => {
            head(w, opcode::COPY);
            view(w, &c.src);
            view(w, &c.dst);
        }
        TvpOp::Gather(g) => {
            head(w, opcode::GATHER);
            w.u8(g.axis);
            view(w, &g.src);
            view(w, &g.index);
            view(w, &g.dst);
        }
        TvpOp::Histogram(h) => {
            head(w, opcode::HISTOGRAM);
            view(w, &h.src);
            match &h.mask {
                None => w.u8(0),
                Some(m) => {
                    w.u8(1);
                    view(w, m);
                }
            }
            view(w, &h.dst);
        }
        TvpOp::ActivationReduce(a) => {
            head(w, opcode::ACT_REDUCE);
            w.u32(a.program.0);
            map_inputs(w, &a.inputs);
            view(w, &a.output);
            w.u32(a.combiner.0);
            w.u8(a.axis);
            view(w, &a.reduced);
        }
        TvpOp::MxQuantize(q) => {
            head(w, opcode::MX_QUANTIZE);
            w.u8(q.format.code());
            view(w, &q.src);
            view(w, &q.codes);
            view(w, &q.scales);
        }
        TvpOp::MxDequantize(d) => {
            head(w, opcode::MX_DEQUANTIZE);
            w.u8(d.format.code());
            view(w, &d.codes);
            view(w, &d.scales);
            view(w, &d.dst);
        }
    }
}

fn dma_op(w: &mut Writer, op: &DmaOp) {
    match op {
        DmaOp::Copy(c) => {
            w.u8(dma_kind::COPY);
            strided_copy(w, c);
        }
        DmaOp::Broadcast { copy, to } => {
            w.u8(dma_kind::BROADCAST);
            strided_copy(w, copy);
            unit_set(w, to);
        }
        DmaOp::Gather(g) => {
            w.u8(dma_kind::GATHER);
            w.u8(g.dtype.code());
            w.u32(g.count);
            address(w, &g.addrs);
            opt_address(w, g.mask.as_ref());
            address(w, &g.dst);
            w.u64(g.fill);
        }
        DmaOp::Scatter(s) => {
            w.u8(dma_kind::SCATTER);
            w.u8(s.dtype.code());
            w.u32(s.count);
            address(w, &s.addrs);
            opt_address(w, s.mask.as_ref());
            address(w, &s.src);
        }
        DmaOp::Atomic(a) => {
            w.u8(dma_kind::ATOMIC);
            w.u8(a.kind.code());
            w.u8(a.dtype.code());
            w.u32(a.count);
            address(w, &a.addrs);
            address(w, &a.values);
            opt_address(w, a.compare.as_ref());
            opt_address(w, a.mask.as_ref());
            opt_address(w, a.old.as_ref());
        }
    }
}

fn strided_copy(w: &mut Writer, c: &StridedCopy) {
    w.u8(c.dtype.code());
    address(w, &c.src);
    address(w, &c.dst);
    w.u8(c.dims.len() as u8);
    for d in &c.dims {
        w.u32(d.extent);
        operand(w, &d.src_stride);
        operand(w, &d.dst_stride);
        // Bit 0: a valid bound follows; bit 1: a start bound follows.
        w.u8(u8::from(d.valid.is_some()) | u8::from(d.start.is_some()) << 1);
        for bound in d.valid.iter().chain(&d.start) {
            operand(w, bound);
        }
    }
    match c.fill {
        None => w.u8(0),
        Some(f) => {
            w.u8(1);
            w.u64(f);
        }
    }
}

fn mat_operand(w: &mut Writer, m: &MatOperand) {
    address(w, &m.addr);
    w.u8(m.dtype.code());
    w.u32(m.row_stride);
    w.bool(m.transposed);
    match &m.scale {
        None => w.u8(0),
        Some(s) => {
            w.u8(1);
            address(w, &s.addr);
            w.u32(s.row_stride);
        }
    }
}

fn sync(w: &mut Writer, s: &Sync) {
    w.u8(s.waits.len() as u8);
    for wait in &s.waits {
        sem(w, wait.sem);
        operand(w, &wait.value);
    }
    match s.signal {
        None => w.u8(0),
        Some(sig) => {
            w.u8(1);
            sem(w, sig);
        }
    }
}

fn sem(w: &mut Writer, s: SemRef) {
    w.u8(match s.scope {
        SemScope::Tile => 0,
        SemScope::Cluster => 1,
    });
    w.u16(s.index);
}

fn operand(w: &mut Writer, op: &Operand) {
    match op.reg {
        None => w.u8(0),
        Some(r) => {
            w.u8(1);
            w.u8(r.0);
        }
    }
    w.i64(op.imm);
}

fn address(w: &mut Writer, a: &Address) {
    w.u8(a.space.code());
    match &a.unit {
        Unit::Local => w.u8(0),
        Unit::Remote(u) => {
            w.u8(1);
            operand(w, u);
        }
    }
    operand(w, &a.offset);
}

fn opt_address(w: &mut Writer, a: Option<&Address>) {
    match a {
        None => w.u8(0),
        Some(a) => {
            w.u8(1);
            address(w, a);
        }
    }
}

fn unit_set(w: &mut Writer, u: &UnitSet) {
    match u {
        UnitSet::All => w.u8(0),
        UnitSet::OwnCluster => w.u8(1),
        UnitSet::List(list) => {
            w.u8(2);
            w.len(list.len());
            for &x in list {
                w.u32(x);
            }
        }
    }
}

fn view(w: &mut Writer, v: &View) {
    address(w, &v.addr);
    w.u8(v.dtype.code());
    w.u8(v.shape.len() as u8);
    for &d in &v.shape {
        w.u32(d);
    }
    for &s in &v.strides {
        w.i64(s);
    }
}

fn views(w: &mut Writer, vs: &[View]) {
    w.len(vs.len());
    for v in vs {
        view(w, v);
    }
}

fn map_inputs(w: &mut Writer, inputs: &[MapInput]) {
    w.len(inputs.len());
    for i in inputs {
        match i {
            MapInput::View(v) => {
                w.u8(0);
                view(w, v);
            }
            MapInput::Scalar(op) => {
                w.u8(1);
                operand(w, op);
            }
        }
    }
}

fn dispatch_policy(w: &mut Writer, d: &Dispatch) {
    match d {
        Dispatch::RoundRobin { tiles } => {
            w.u8(0);
            w.u32(*tiles);
        }
        Dispatch::Blocked { tiles } => {
            w.u8(1);
            w.u32(*tiles);
        }
        Dispatch::Persistent { tiles } => {
            w.u8(3);
            w.u32(*tiles);
        }
        Dispatch::Explicit { grid, tiles } => {
            w.u8(2);
            for &g in grid {
                w.u32(g);
            }
            w.len(tiles.len());
            for pids in tiles {
                w.len(pids.len());
                for &p in pids {
                    w.u32(p);
                }
            }
        }
    }
}

fn line_table(w: &mut Writer, lines: &[LineEntry]) {
    w.len(lines.len());
    for l in lines {
        w.u32(l.pc);
        match l.loc {
            None => w.u8(0),
            Some(id) => {
                w.u8(1);
                w.u32(id.0);
            }
        }
    }
}

fn micro_program(w: &mut Writer, m: &MicroProgram) {
    w.u16(m.inputs.len() as u16);
    for t in &m.inputs {
        w.u8(t.code());
    }
    w.len(m.body.len());
    for instr in &m.body {
        lane_op(w, &instr.op);
        w.u8(instr.args.len() as u8);
        for a in &instr.args {
            lane_src(w, a);
        }
    }
    w.u16(m.outputs.len() as u16);
    for o in &m.outputs {
        lane_src(w, o);
    }
}

fn lane_src(w: &mut Writer, s: &LaneSrc) {
    match *s {
        LaneSrc::Input(i) => {
            w.u8(0);
            w.u16(i);
        }
        LaneSrc::Value(j) => {
            w.u8(1);
            w.u16(j);
        }
        LaneSrc::Imm { ty, bits } => {
            w.u8(2);
            w.u8(ty.code());
            w.u64(bits);
        }
    }
}

fn lane_op(w: &mut Writer, op: &LaneOp) {
    let fty = |t: maiac_ir::FloatType| DType::float(t).code();
    match *op {
        LaneOp::Int { op, width } => {
            w.u8(lane_kind::INT);
            w.u8(code_of(&INT_BINARY_OPS, &op));
            w.u8(width as u8);
        }
        LaneOp::IntAbs { width } => {
            w.u8(lane_kind::INT_ABS);
            w.u8(width as u8);
        }
        LaneOp::Bit {
            op,
            width,
            result_width,
        } => {
            w.u8(lane_kind::BIT);
            w.u8(code_of(&BIT_OPS, &op));
            w.u8(width as u8);
            w.u8(result_width as u8);
        }
        LaneOp::IntCmp { pred, width } => {
            w.u8(lane_kind::INT_CMP);
            w.u8(code_of(&INT_PREDICATES, &pred));
            w.u8(width as u8);
        }
        LaneOp::Float { op, ty } => {
            w.u8(lane_kind::FLOAT);
            w.u8(code_of(&FLOAT_BINARY_OPS, &op));
            w.u8(fty(ty));
        }
        LaneOp::FloatUnary { op, ty } => {
            w.u8(lane_kind::FLOAT_UNARY);
            w.u8(code_of(&FLOAT_UNARY_OPS, &op));
            w.u8(fty(ty));
        }
        LaneOp::Sigmoid { ty } => {
            w.u8(lane_kind::SIGMOID);
            w.u8(fty(ty));
        }
        LaneOp::FloatCmp { pred, ty } => {
            w.u8(lane_kind::FLOAT_CMP);
            w.u8(code_of(&FLOAT_PREDICATES, &pred));
            w.u8(fty(ty));
        }
        LaneOp::FloatClass {
            class,
            ty,
            result_width,
        } => {
            w.u8(lane_kind::FLOAT_CLASS);
            w.u8(code_of(&FLOAT_CLASSES, &class));
            w.u8(fty(ty));
            w.u8(result_width as u8);
        }
        LaneOp::Fma { ty } => {
            w.u8(lane_kind::FMA);
            w.u8(fty(ty));
        }
        LaneOp::FloatInt { op, ty, width } => {
            w.u8(lane_kind::FLOAT_INT);
            w.u8(code_of(&FLOAT_INT_OPS, &op));
            w.u8(fty(ty));
            w.u8(width as u8);
        }
        LaneOp::Clamp { ty, propagate_nan } => {
            w.u8(lane_kind::CLAMP);
            w.u8(fty(ty));
            w.bool(propagate_nan);
        }
        LaneOp::Select { ty } => {
            w.u8(lane_kind::SELECT);
            w.u8(ty.code());
        }
        LaneOp::ExtSigned { from, to } => {
            w.u8(lane_kind::EXT_SIGNED);
            w.u8(from as u8);
            w.u8(to as u8);
        }
        LaneOp::ExtUnsigned { from, to } => {
            w.u8(lane_kind::EXT_UNSIGNED);
            w.u8(from as u8);
            w.u8(to as u8);
        }
        LaneOp::Trunc { from, to } => {
            w.u8(lane_kind::TRUNC);
            w.u8(from as u8);
            w.u8(to as u8);
        }
        LaneOp::IntToFloat { width, signed, to } => {
            w.u8(lane_kind::INT_TO_FLOAT);
            w.u8(width as u8);
            w.bool(signed);
            w.u8(fty(to));
        }
        LaneOp::FloatToInt {
            from,
            width,
            signed,
            rounding,
        } => {
            // Truncation keeps the 1.1 encoding, so older binaries decode
            // unchanged.
            let rounded = rounding != IntRounding::TowardZero;
            w.u8(if rounded {
                lane_kind::FLOAT_TO_INT_ROUNDED
            } else {
                lane_kind::FLOAT_TO_INT
            });
            w.u8(fty(from));
            w.u8(width as u8);
            w.bool(signed);
            if rounded {
                w.u8(code_of(&INT_ROUNDINGS, &rounding));
            }
        }
        LaneOp::Convert { from, to, rounding } => {
            w.u8(lane_kind::CONVERT);
            w.u8(from.code());
            w.u8(to.code());
            w.u8(code_of(&ROUNDINGS, &rounding));
        }
        LaneOp::AddPtr {
            offset_width,
            elem_size,
        } => {
            w.u8(lane_kind::ADD_PTR);
            w.u8(offset_width as u8);
            w.u64(elem_size);
        }
        LaneOp::Bitcast { from, to } => {
            w.u8(lane_kind::BITCAST);
            w.u8(from.code());
            w.u8(to.code());
        }
    }
}

/// The byte naming an engine in an `ENGINE_NOP`.
pub(crate) fn engine_code(engine: Engine) -> u8 {
    match engine {
        Engine::Cp => 0,
        Engine::Dma => 1,
        Engine::Ttu => 2,
        Engine::Tvp => 3,
    }
}
