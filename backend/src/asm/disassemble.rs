//! Module → assembly text. The output assembles back to the same module
//! (and therefore the same binary): every field is printed, immediates in
//! full, branch targets as `L<pc>` labels, micro-programs as `m<index>`.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::isa::*;

/// The assembly text of a module.
pub fn disassemble(module: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "; maiac assembly");
    let _ = writeln!(out, ".kernel {}", quote(&module.kernel));
    let _ = writeln!(
        out,
        ".machine {} hash={:#018x}",
        quote(&module.machine.name),
        module.machine.hash
    );
    for a in &module.args {
        let kind = match a.kind {
            ArgKind::Pointer { pointee } => format!("ptr {pointee}"),
            ArgKind::Scalar { dtype } => format!("scalar {dtype}"),
        };
        let _ = writeln!(out, ".arg {} {kind}", quote(&a.name));
    }
    let _ = writeln!(out, ".dispatch {}", module.dispatch);
    for (i, l) in module.debug_locs.iter().enumerate() {
        let py = l
            .python
            .as_ref()
            .map(|p| format!(" {} {} {}", quote(&p.file), p.line, p.col))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            ".loc {} {} {}{py} ; #{i}",
            quote(&l.op_name),
            l.ttir_line,
            l.ttir_col
        );
    }
    for c in &module.constants {
        let hex: String = c.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(
            out,
            ".const {} {} offset={:#x} data=\"{hex}\"",
            c.space, c.units, c.offset
        );
    }
    for (i, m) in module.micro_programs.iter().enumerate() {
        out.push('\n');
        micro(&mut out, i, m);
    }
    out.push_str("\n.tile\n");
    program(&mut out, &module.tile_program);
    if let Some(p) = &module.cluster_program {
        out.push_str("\n.cluster\n");
        program(&mut out, p);
    }
    out
}

/// A string literal with the escapes the assembler reads.
pub fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for ch in s.chars() {
        match ch {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{{{:x}}}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn micro(out: &mut String, index: usize, m: &MicroProgram) {
    let inputs: Vec<String> = m.inputs.iter().map(|t| t.to_string()).collect();
    let _ = writeln!(out, ".micro m{index} inputs=[{}]", inputs.join(","));
    for (j, instr) in m.body.iter().enumerate() {
        let args: Vec<String> = instr.args.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(out, "    v{j} = {} {}", instr.op, args.join(", "));
    }
    let outs: Vec<String> = m.outputs.iter().map(|o| o.to_string()).collect();
    let _ = writeln!(out, "    out {}", outs.join(", "));
    let _ = writeln!(out, ".end");
}

fn program(out: &mut String, p: &Program) {
    let targets: BTreeSet<u32> = p
        .code
        .iter()
        .filter_map(|i| match &i.op {
            Op::Cp(cp) => cp.target().map(|l| l.0),
            _ => None,
        })
        .collect();
    let mut rows = p.lines.iter().peekable();
    for (pc, instr) in p.code.iter().enumerate() {
        let pc = pc as u32;
        while let Some(row) = rows.next_if(|r| r.pc <= pc) {
            line_row(out, row);
        }
        if targets.contains(&pc) {
            let _ = writeln!(out, "L{pc}:");
        }
        let _ = writeln!(out, "    {}", instruction(instr));
    }
    for row in rows {
        line_row(out, row);
    }
}

fn line_row(out: &mut String, row: &LineEntry) {
    match row.loc {
        Some(id) => {
            let _ = writeln!(out, ".line {}", id.0);
        }
        None => out.push_str(".line none\n"),
    }
}

/// One instruction's text.
pub fn instruction(instr: &Instr) -> String {
    let mut s = match &instr.op {
        Op::Cp(op) => cp(op),
        Op::Dma(op) => dma(op),
        Op::Ttu(op) => ttu(op),
        Op::Tvp(op) => tvp(op),
        op @ Op::EngineNop(_) => op.mnemonic(),
    };
    if !instr.sync.waits.is_empty() {
        let waits: Vec<String> = instr.sync.waits.iter().map(|w| w.to_string()).collect();
        let _ = write!(s, " wait=[{}]", waits.join(","));
    }
    if let Some(sig) = instr.sync.signal {
        let _ = write!(s, " signal={sig}");
    }
    s
}

fn cp(op: &CpOp) -> String {
    let m = op.mnemonic();
    match op {
        CpOp::Mov { dst, src } => format!("{m} {dst}, {src}"),
        CpOp::Alu { dst, a, b, .. } => format!("{m} {dst}, {a}, {b}"),
        CpOp::Select { dst, cond, a, b } => format!("{m} {dst}, {cond}, {a}, {b}"),
        CpOp::ReadSpecial { dst, special } => format!("{m} {dst}, {special}"),
        CpOp::Arg { dst, index } => format!("{m} {dst}, {index}"),
        CpOp::Load { dst, addr, .. } => format!("{m} {dst}, {addr}"),
        CpOp::Store { src, addr, .. } => format!("{m} {src}, {addr}"),
        CpOp::Jump { target } => format!("{m} {target}"),
        CpOp::Branch { cond, target, .. } => format!("{m} {cond}, {target}"),
        CpOp::Loop { counter, target } => format!("{m} {counter}, {target}"),
        CpOp::Barrier { scope } => format!("{m} {scope}"),
        CpOp::Trap { code } => format!("{m} {code}"),
        CpOp::Fence | CpOp::Halt | CpOp::Nop => m,
    }
}

fn opt_addr(key: &str, a: Option<&Address>) -> String {
    a.map(|a| format!(" {key}={a}")).unwrap_or_default()
}

fn dims(c: &StridedCopy) -> String {
    let dims: Vec<String> = c
        .dims
        .iter()
        .map(|d| {
            let valid = d.valid.map(|v| format!(" valid={v}")).unwrap_or_default()
                + &d.start.map(|v| format!(" start={v}")).unwrap_or_default();
            format!("({} {} {}{valid})", d.extent, d.src_stride, d.dst_stride)
        })
        .collect();
    let fill = c.fill.map(|f| format!(" fill={f:#x}")).unwrap_or_default();
    format!(
        "src={} dst={} dims=[{}]{fill}",
        c.src,
        c.dst,
        dims.join(", ")
    )
}

fn dma(op: &DmaOp) -> String {
    let m = op.mnemonic();
    match op {
        DmaOp::Copy(c) => format!("{m} {} {}", c.dtype, dims(c)),
        DmaOp::Broadcast { copy, to } => format!("{m} {} {} to={to}", copy.dtype, dims(copy)),
        DmaOp::Gather(g) => format!(
            "{m} {} n={} addrs={}{} dst={} fill={:#x}",
            g.dtype,
            g.count,
            g.addrs,
            opt_addr("mask", g.mask.as_ref()),
            g.dst,
            g.fill
        ),
        DmaOp::Scatter(s) => {
            format!(
                "{m} {} n={} addrs={}{} src={}",
                s.dtype,
                s.count,
                s.addrs,
                opt_addr("mask", s.mask.as_ref()),
                s.src
            )
        }
        DmaOp::Atomic(a) => format!(
            "{m} {} {} n={} addrs={} values={}{}{}{}",
            a.kind,
            a.dtype,
            a.count,
            a.addrs,
            a.values,
            opt_addr("compare", a.compare.as_ref()),
            opt_addr("mask", a.mask.as_ref()),
            opt_addr("old", a.old.as_ref())
        ),
    }
}

fn view(v: &View) -> String {
    format!("({v})")
}

fn view_list(vs: &[View]) -> String {
    let items: Vec<String> = vs.iter().map(view).collect();
    format!("[{}]", items.join(", "))
}

fn inputs(is: &[MapInput]) -> String {
    let items: Vec<String> = is
        .iter()
        .map(|i| match i {
            MapInput::View(v) => view(v),
            MapInput::Scalar(op) => op.to_string(),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn mat_operand(m: &MatOperand) -> String {
    let mut s = format!("({} {} {}", m.dtype, m.addr, m.row_stride);
    if m.transposed {
        s.push_str(" trans");
    }
    if let Some(sc) = &m.scale {
        let _ = write!(s, " scale=({} {})", sc.addr, sc.row_stride);
    }
    s.push(')');
    s
}

fn ttu(op: &TtuOp) -> String {
    let m = op.mnemonic();
    match op {
        TtuOp::Matmul(mm) => format!(
            "{m} m={} n={} k={} a={} b={} out=({} {} {}) accumulate={}",
            mm.m,
            mm.n,
            mm.k,
            mat_operand(&mm.a),
            mat_operand(&mm.b),
            mm.out_dtype,
            mm.out,
            mm.out_row_stride,
            u8::from(mm.accumulate)
        ),
        TtuOp::Drain(d) => {
            let epilogue = d
                .epilogue
                .as_ref()
                .map(|e| format!(" epilogue={} extra={}", e.program, inputs(&e.extra)))
                .unwrap_or_default();
            format!("{m} src={} dst={}{epilogue}", view(&d.src), view(&d.dst))
        }
    }
}

fn tvp(op: &TvpOp) -> String {
    let m = op.mnemonic();
    match op {
        TvpOp::Map(x) => format!(
            "{m} {} in={} out={}",
            x.program,
            inputs(&x.inputs),
            view_list(&x.outputs)
        ),
        TvpOp::Reduce(r) => {
            format!(
                "{m} {} axis={} in={} out={}",
                r.combiner,
                r.axis,
                view_list(&r.inputs),
                view_list(&r.outputs)
            )
        }
        TvpOp::Scan(s) => format!(
            "{m} {} axis={} reverse={} in={} out={}",
            s.combiner,
            s.axis,
            u8::from(s.reverse),
            view_list(&s.inputs),
            view_list(&s.outputs)
        ),
        TvpOp::Iota(i) => format!("{m} dst={} start={} axis={}", view(&i.dst), i.start, i.axis),
        TvpOp::Copy(c) => format!("{m} src={} dst={}", view(&c.src), view(&c.dst)),
        TvpOp::Gather(g) => {
            format!(
                "{m} axis={} src={} index={} dst={}",
                g.axis,
                view(&g.src),
                view(&g.index),
                view(&g.dst)
            )
        }
        TvpOp::Histogram(h) => {
            let mask = h
                .mask
                .as_ref()
                .map(|v| format!(" mask={}", view(v)))
                .unwrap_or_default();
            format!("{m} src={}{mask} dst={}", view(&h.src), view(&h.dst))
        }
        TvpOp::ActivationReduce(a) => format!(
            "{m} {} in={} out={} combiner={} axis={} reduced={}",
            a.program,
            inputs(&a.inputs),
            view(&a.output),
            a.combiner,
            a.axis,
            view(&a.reduced)
        ),
        TvpOp::MxQuantize(q) => {
            format!(
                "{m} {} src={} codes={} scales={}",
                q.format,
                view(&q.src),
                view(&q.codes),
                view(&q.scales)
            )
        }
        TvpOp::MxDequantize(d) => {
            format!(
                "{m} {} codes={} scales={} dst={}",
                d.format,
                view(&d.codes),
                view(&d.scales),
                view(&d.dst)
            )
        }
    }
}
