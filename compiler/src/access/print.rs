//! The printed form of an [`AccessMap`]: one block per memory op, then the
//! loop-carried registers and the forms of pointer values. Deterministic,
//! so it serves as the snapshot format.

use std::fmt::Write;

use maiac_ir::{Module, Op};

use super::{
    AccessMap, Affine, Fill, IndirectAccess, MemAccess, StridedAccess, ValueForm, WrapKind,
};

pub(super) fn render(map: &AccessMap, module: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "func @{}", module.func_name(map.func));
    for (op, access) in map.iter() {
        let _ = writeln!(out, "  {}", describe_op(map, module, op));
        match access {
            MemAccess::Strided(s) => render_strided(&mut out, map, s),
            MemAccess::Gather(i) => render_indirect(&mut out, map, "gather", i),
            MemAccess::Scatter(i) => render_indirect(&mut out, map, "scatter", i),
        }
    }
    if !map.carried.is_empty() {
        let _ = writeln!(out, "  loop-carried:");
        for c in map.carried.values() {
            let _ = writeln!(
                out,
                "    {} (iter_arg {} of {})",
                map.names.name(c.arg),
                c.index,
                describe_op(map, module, c.for_op)
            );
            for s in &c.slots {
                let _ = write!(
                    out,
                    "      carry {} ({:?}): init {}, next {}",
                    s.slot,
                    s.part,
                    map.show(&s.init),
                    map.show(&s.next)
                );
                match &s.increment {
                    Some(inc) => {
                        let _ = writeln!(out, ", increment {}", map.show(inc));
                    }
                    None => out.push('\n'),
                }
            }
        }
    }
    let mut header = false;
    for (&v, form) in &map.values {
        let line = match form {
            // A scalar pointer is its own register: nothing to say.
            ValueForm::Affine(a) if a.shape.is_empty() => continue,
            ValueForm::Affine(a) => affine_line(map, a),
            ValueForm::BlockPtr(b) => format!(
                "block ptr base {} shape [{}] strides [{}] offsets [{}] block {:?}",
                map.show(&b.base),
                join(map, &b.shape),
                join(map, &b.strides),
                join(map, &b.offsets),
                b.block_shape
            ),
            ValueForm::Descriptor(d) => format!(
                "descriptor base {} shape [{}] strides [{}] block {:?}{}",
                map.show(&d.base),
                join(map, &d.shape),
                join(map, &d.strides),
                d.block_shape,
                if d.pad_nan { " padding nan" } else { "" }
            ),
            ValueForm::Opaque(reason) => format!("opaque: {reason}"),
        };
        if !header {
            let _ = writeln!(out, "  pointers:");
            header = true;
        }
        let _ = writeln!(out, "    {}: {line}", map.names.name(v));
    }
    out
}

fn join(map: &AccessMap, exprs: &[super::ScalarExpr]) -> String {
    exprs
        .iter()
        .map(|e| map.show(e))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_op(map: &AccessMap, module: &Module, op: Op) -> String {
    let data = &module.dfg.ops[op];
    let at = data
        .pos
        .map(|p| format!(" @{}:{}", p.line, p.col))
        .unwrap_or_default();
    match module.dfg.results(op).first() {
        Some(&r) => format!("{} = {}{at}", map.names.name(r), data.opcode.name()),
        None => format!("{}{at}", data.opcode.name()),
    }
}

fn affine_line(map: &AccessMap, a: &Affine) -> String {
    let dims: Vec<String> = a
        .dims
        .iter()
        .zip(&a.shape)
        .map(|(d, n)| match &d.wrap {
            None => format!("{n}:{}", map.show(&d.coef)),
            Some(w) => format!(
                "{n}:{} {}({}, {})",
                map.show(&d.coef),
                match w.kind {
                    WrapKind::Modulo => "wrap",
                    WrapKind::ZeroPast => "zero_past",
                },
                map.show(&w.start),
                map.show(&w.modulus)
            ),
        })
        .collect();
    let mut line = format!("{} + [{}]", map.show(&a.offset), dims.join(", "));
    if !a.guards.is_empty() {
        let _ = write!(
            line,
            " if {}",
            a.guards
                .iter()
                .map(|g| map.show(g))
                .collect::<Vec<_>>()
                .join(" && ")
        );
    }
    line
}

fn shape_text(shape: &[i64]) -> String {
    if shape.is_empty() {
        "scalar".into()
    } else {
        shape
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join("x")
    }
}

fn fill_text(map: &AccessMap, fill: &Fill) -> String {
    match fill {
        Fill::Value(e) => match e.as_const() {
            Some(bits) => format!("0x{bits:x}"),
            None => map.show(e),
        },
        Fill::SelectAfterLoad(v) => format!("select after load with {}", map.names.name(*v)),
    }
}

fn render_strided(out: &mut String, map: &AccessMap, s: &StridedAccess) {
    let _ = writeln!(
        out,
        "    strided {:?} {} {}",
        s.kind,
        s.elem,
        shape_text(&s.shape())
    );
    let _ = writeln!(out, "      base   {}", map.show(&s.base));
    for (d, dim) in s.dims.iter().enumerate() {
        let _ = write!(
            out,
            "      dim {d}  size {} stride {}",
            dim.size,
            map.show(&dim.stride)
        );
        match &dim.wrap {
            Some(w) => {
                let (start, modulus) = (map.show(&w.start), map.show(&w.modulus));
                let _ = match w.kind {
                    WrapKind::Modulo => writeln!(out, " index ({start} + i) mod {modulus}"),
                    WrapKind::ZeroPast => {
                        writeln!(out, " index ({start} + i < {modulus} ? {start} + i : 0)")
                    }
                };
            }
            None => out.push('\n'),
        }
    }
    if let Some(valid) = &s.valid {
        let ranges: Vec<String> = valid
            .begin
            .iter()
            .zip(&valid.end)
            .map(|(b, e)| format!("[{}, {})", map.show(b), map.show(e)))
            .collect();
        let _ = write!(out, "      valid  {}", ranges.join(" x "));
        if !valid.cond.is_true() {
            let _ = write!(out, " if {}", map.show(&valid.cond));
        }
        out.push('\n');
    }
    if let Some(fill) = &s.fill {
        let _ = writeln!(out, "      fill   {}", fill_text(map, fill));
    }
    for g in &s.guards {
        let _ = writeln!(out, "      guard  {}", map.show(g));
    }
}

fn render_indirect(out: &mut String, map: &AccessMap, what: &str, i: &IndirectAccess) {
    let _ = writeln!(
        out,
        "    {what} {:?} {} {} via {}",
        i.kind,
        i.elem,
        shape_text(&i.shape),
        map.names.name(i.source)
    );
    if let Some(m) = i.mask {
        let _ = writeln!(out, "      mask   {}", map.names.name(m));
    }
    if let Some(fill) = &i.fill {
        let _ = writeln!(out, "      fill   {}", fill_text(map, fill));
    }
    let _ = writeln!(out, "      reason {}", i.reason);
}
