//! Text form of the tile IR, for `--emit tile`, `--print-ir-after-all` and
//! snapshots. One op per line, nested bodies indented.

use std::fmt::Write;

use super::{BView, SOp, StagedSlot, TInput, TOp, TOpKind, TileKernel};

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
    out += &render_stages(kernel);
    if let Some(tiles) = kernel.persistent_tiles {
        let _ = writeln!(out, "  dispatch persistent tiles={tiles}");
    }
    render_body(&mut out, &kernel.body, 1);
    out
}

/// The staged loads of a kernel (`stageN = csram[…] … <- hbm[…]` and the
/// prologue the cluster program runs), in the kernel's virtual registers.
pub fn render_stages(kernel: &TileKernel) -> String {
    let mut out = String::new();
    for (stage, data) in kernel.stages.iter() {
        let _ = writeln!(
            out,
            "  {stage} = csram[{}] {}{:?} <- hbm[{}] dims={} fill={:?}",
            data.csram_offset,
            data.dtype,
            data.shape(),
            sop(&data.hbm),
            dims_text(&data.dims),
            data.fill
        );
        render_body(&mut out, &data.prologue, 2);
        if let Some(when) = data.when {
            let _ = writeln!(out, "    when {when}");
        }
        if let Some(l) = &data.per_iteration {
            let _ = writeln!(
                out,
                "    per iteration of {} = {} to {} step {} (at most {} trips: {})",
                l.iv,
                sop(&l.lb),
                sop(&l.ub),
                sop(&l.step),
                l.max_trips,
                l.fits
            );
            render_body(&mut out, &l.fits_ops, 3);
            render_body(&mut out, &l.iteration_ops, 3);
            if let Some(when) = l.when {
                let _ = writeln!(out, "      copied when {when}");
            }
        }
        if let Some(w) = &data.per_wave {
            let _ = writeln!(
                out,
                "    per grid row and wave: {} slots, {} trips",
                w.max_slots, w.trips
            );
            render_body(&mut out, &w.trips_ops, 3);
        }
    }
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
            For {
                iv,
                lb,
                ub,
                step,
                body,
            } => {
                let _ = writeln!(
                    out,
                    "{pad}for {iv} = {} to {} step {} {{{loc}",
                    sop(lb),
                    sop(ub),
                    sop(step)
                );
                render_body(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            If {
                cond,
                then_body,
                else_body,
            } => {
                let _ = writeln!(out, "{pad}if {} {{{loc}", sop(cond));
                render_body(out, then_body, depth + 1);
                let _ = writeln!(out, "{pad}}} else {{");
                render_body(out, else_body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            While {
                before,
                cond,
                after,
            } => {
                let _ = writeln!(out, "{pad}while {{{loc}");
                render_body(out, before, depth + 1);
                let _ = writeln!(out, "{pad}}} break unless {} {{", sop(cond));
                render_body(out, after, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                continue;
            }
            Mov { dst, src } => format!("{dst} = mov {}", sop(src)),
            Alu { op, dst, a, b } => format!("{dst} = {} {}, {}", op.name(), sop(a), sop(b)),
            Select { dst, cond, a, b } => {
                format!("{dst} = select {}, {}, {}", sop(cond), sop(a), sop(b))
            }
            ReadSpecial { dst, which } => format!("{dst} = rdspec %{}", which.name()),
            Arg { dst, index } => format!("{dst} = arg {index}"),
            LoadScalar {
                dst,
                src,
                bytes,
                signed,
            } => {
                format!(
                    "{dst} = ld.w{bytes}{} {}",
                    if *signed { "s" } else { "u" },
                    view(src)
                )
            }
            StoreScalar { src, dst, bytes } => format!("st.w{bytes} {}, {}", sop(src), view(dst)),
            Trap { code } => format!("trap {code}"),
            DmaLoad {
                dtype,
                hbm,
                dims,
                dst,
                fill,
            } => format!(
                "dma.load {dtype} hbm[{}] dims={} -> {} fill={fill:?}",
                sop(hbm),
                dims_text(dims),
                view(dst)
            ),
            LoadStaged {
                stage,
                dst,
                slot: StagedSlot::Once,
            } => format!("dma.load.staged {stage} -> {}", view(dst)),
            LoadStaged {
                stage,
                dst,
                slot: StagedSlot::Iteration(i),
            } => format!("dma.load.staged {stage}[{}] -> {}", sop(i), view(dst)),
            LoadStaged {
                stage,
                dst,
                slot: StagedSlot::Wave(i),
            } => format!("dma.load.staged {stage} slot {} -> {}", sop(i), view(dst)),
            DmaStore {
                dtype,
                src,
                hbm,
                dims,
            } => format!(
                "dma.store {dtype} {} -> hbm[{}] dims={}",
                view(src),
                sop(hbm),
                dims_text(dims)
            ),
            Gather {
                dtype,
                count,
                addrs,
                mask,
                dst,
                fill,
            } => format!(
                "{} = dma.gather {dtype} n={count} addrs={} mask={} fill={fill:#x}",
                view(dst),
                view(addrs),
                opt_view(mask)
            ),
            Scatter {
                dtype,
                count,
                addrs,
                mask,
                src,
            } => format!(
                "dma.scatter {dtype} n={count} {} -> addrs={} mask={}",
                view(src),
                view(addrs),
                opt_view(mask)
            ),
            Atomic {
                kind,
                dtype,
                count,
                addrs,
                values,
                compare,
                mask,
                old,
            } => format!(
                "{} = dma.atomic {} {dtype} n={count} addrs={} values={} compare={} mask={}",
                opt_view(old),
                kind.name(),
                view(addrs),
                view(values),
                opt_view(compare),
                opt_view(mask)
            ),
            Map {
                micro,
                inputs: ins,
                outputs,
            } => format!(
                "{} = tvp.map {} ({})",
                views(outputs),
                micro_text(micro),
                inputs(ins)
            ),
            Reduce {
                combiner,
                axis,
                inputs: ins,
                outputs,
            } => format!(
                "{} = tvp.reduce axis={axis} {} ({})",
                views(outputs),
                micro_text(combiner),
                views(ins)
            ),
            ActReduce {
                micro,
                inputs: ins,
                output,
                combiner,
                axis,
                reduced,
            } => format!(
                "{}, {} = tvp.actreduce {} axis={axis} {} ({})",
                view(output),
                view(reduced),
                micro_text(micro),
                micro_text(combiner),
                inputs(ins)
            ),
            Scan {
                combiner,
                axis,
                reverse,
                inputs: ins,
                outputs,
            } => format!(
                "{} = tvp.scan axis={axis} reverse={reverse} {} ({})",
                views(outputs),
                micro_text(combiner),
                views(ins)
            ),
            Iota { dst, start, axis } => {
                format!("{} = tvp.iota start={} axis={axis}", view(dst), sop(start))
            }
            Copy { src, dst } => format!("{} = tvp.copy {}", view(dst), view(src)),
            TvpGather {
                src,
                index,
                dst,
                axis,
            } => format!(
                "{} = tvp.gather axis={axis} {} index={}",
                view(dst),
                view(src),
                view(index)
            ),
            Histogram { src, mask, dst } => {
                format!(
                    "{} = tvp.histogram {} mask={}",
                    view(dst),
                    view(src),
                    opt_view(mask)
                )
            }
            MxQuantize {
                format,
                src,
                codes,
                scales,
            } => format!(
                "{}, {} = tvp.mxquant {format:?} {}",
                view(codes),
                view(scales),
                view(src)
            ),
            MxDequantize {
                format,
                codes,
                scales,
                dst,
            } => format!(
                "{} = tvp.mxdequant {format:?} {} scales={}",
                view(dst),
                view(codes),
                view(scales)
            ),
            Matmul {
                m,
                n,
                k,
                a,
                b,
                out,
                accumulate,
            } => format!(
                "{} {}= ttu.matmul m={m} n={n} k={k} a={} b={}",
                view(out),
                if *accumulate { "+" } else { "" },
                mat(a),
                mat(b)
            ),
            Drain { src, dst, epilogue } => match epilogue {
                None => format!("{} = ttu.drain {}", view(dst), view(src)),
                Some((micro, extra)) => format!(
                    "{} = ttu.drain {} epilogue={} ({})",
                    view(dst),
                    view(src),
                    micro_text(micro),
                    inputs(extra)
                ),
            },
        };
        let _ = writeln!(out, "{pad}{line}{loc}");
    }
}

fn opt_view(v: &Option<BView>) -> String {
    v.as_ref().map_or_else(|| "none".to_string(), view)
}

fn views(list: &[BView]) -> String {
    list.iter().map(view).collect::<Vec<_>>().join(", ")
}

fn mat(m: &super::TMat) -> String {
    let scale = m
        .scale
        .as_ref()
        .map(|s| format!(" scale={}", view(s)))
        .unwrap_or_default();
    format!(
        "({} {}{}{scale})",
        m.dtype,
        view(&m.view),
        if m.transposed { " trans" } else { "" }
    )
}

/// A micro-program on one line: `[in types] { v0 = op args; ... } -> outs`.
fn micro_text(p: &maiac_backend::isa::MicroProgram) -> String {
    let ins: Vec<String> = p.inputs.iter().map(|t| t.to_string()).collect();
    let body: Vec<String> = p
        .body
        .iter()
        .enumerate()
        .map(|(j, i)| {
            let args: Vec<String> = i.args.iter().map(|a| a.to_string()).collect();
            format!("v{j} = {} {}", i.op, args.join(" "))
        })
        .collect();
    let outs: Vec<String> = p.outputs.iter().map(|o| o.to_string()).collect();
    format!(
        "[{}] {{ {} }} -> {}",
        ins.join(","),
        body.join("; "),
        outs.join(",")
    )
}

fn dims_text(dims: &[super::TDim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| {
            let valid = d
                .valid
                .map(|v| format!(" valid={}", sop(&v)))
                .unwrap_or_default()
                + &d.start
                    .map(|v| format!(" start={}", sop(&v)))
                    .unwrap_or_default();
            format!("({} x{}{valid})", d.extent, sop(&d.hbm_stride))
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
