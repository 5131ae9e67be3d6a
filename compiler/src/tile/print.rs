//! Text form of the tile IR, for `--emit tile`, `--print-ir-after-all` and
//! snapshots. One op per line, nested bodies indented.

use std::fmt::Write;

use super::{BView, SOp, TInput, TOp, TOpKind, TileKernel};

/// Renders a kernel: its buffers, then its body.
pub fn render(kernel: &TileKernel) -> String {
    let mut out = format!("tile.kernel @{}\n", kernel.name);
    for (buf, data) in kernel.bufs.iter() {
        let _ = writeln!(
            out,
            "  {buf} = {:?} {}{:?} ; {}",
            data.space, data.dtype, data.shape, data.name
        );
    }
    render_body(&mut out, &kernel.body, 1);
    out
}

fn view(v: &BView) -> String {
    format!("{}+{}{:?}{:?}", v.buf, v.offset, v.shape, v.strides)
}

fn sop(s: &SOp) -> String {
    match s {
        SOp::Imm(i) => i.to_string(),
        SOp::Reg(r) => r.to_string(),
    }
}

fn inputs(list: &[TInput]) -> String {
    list.iter()
        .map(|i| match i {
            TInput::View(v) => view(v),
            TInput::Scalar(s) => sop(s),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_body(out: &mut String, body: &[TOp], depth: usize) {
    let pad = "  ".repeat(depth);
    for op in body {
        let loc = op.loc.map(|l| format!("  #loc{}", l.0)).unwrap_or_default();
        use TOpKind::*;
        let line = match &op.kind {
            For { iv, lb, ub, step, body } => {
                let _ = writeln!(out, "{pad}for {iv} = {} to {} step {} {{{loc}", sop(lb), sop(ub), sop(step));
                render_body(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            If { cond, then_body, else_body } => {
                let _ = writeln!(out, "{pad}if {} {{{loc}", sop(cond));
                render_body(out, then_body, depth + 1);
                let _ = writeln!(out, "{pad}}} else {{");
                render_body(out, else_body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            While { before, cond, after } => {
                let _ = writeln!(out, "{pad}while {{{loc}");
                render_body(out, before, depth + 1);
                let _ = writeln!(out, "{pad}}} break unless {} {{", sop(cond));
                render_body(out, after, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            Mov { dst, src } => format!("{dst} = mov {}", sop(src)),
            Alu { op, dst, a, b } => format!("{dst} = {} {}, {}", op.name(), sop(a), sop(b)),
            Select { dst, cond, a, b } => format!("{dst} = select {}, {}, {}", sop(cond), sop(a), sop(b)),
            ReadSpecial { dst, which } => format!("{dst} = rdspec %{}", which.name()),
            Arg { dst, index } => format!("{dst} = arg {index}"),
            LoadScalar { dst, src, bytes, signed } => {
                format!("{dst} = ld.w{bytes}{} {}", if *signed { "s" } else { "u" }, view(src))
            }
            StoreScalar { src, dst, bytes } => format!("st.w{bytes} {}, {}", sop(src), view(dst)),
            Trap { code } => format!("trap {code}"),
            DmaLoad { dtype, hbm, dims, dst, fill } => format!(
                "dma.load {dtype} hbm[{}] dims={} -> {} fill={fill:?}",
                sop(hbm),
                dims_text(dims),
                view(dst)
            ),
            DmaStore { dtype, src, hbm, dims } => format!(
                "dma.store {dtype} {} -> hbm[{}] dims={}",
                view(src),
                sop(hbm),
                dims_text(dims)
            ),
            other => format!("{other:?}"),
        };
        let _ = writeln!(out, "{pad}{line}{loc}");
    }
}

fn dims_text(dims: &[super::TDim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| {
            let valid = d.valid.map(|v| format!(" valid={}", sop(&v))).unwrap_or_default();
            format!("({} x{}{valid})", d.extent, sop(&d.hbm_stride))
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
