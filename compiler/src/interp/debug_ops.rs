//! `tt.assert` (always checked: a false element fails the run with the
//! assertion's message and Python line) and `tt.print` (one line per element
//! on stderr, `pid (x, y, z) idx (i, j) PREFIX VALUE`).

use maiac_ir::semantics::convert::float_to_f64;
use maiac_ir::semantics::int::sign_extend;
use maiac_ir::{Attribute, Diagnostic, Op, Type};

use super::exec::{Frame, Interp};
use super::shape::for_each_index;

/// Formats one element of type `ty`.
fn format_element(bits: u64, ty: &Type, signed: bool, hex: bool) -> String {
    match ty {
        _ if hex => format!("0x{bits:x}"),
        Type::Int(1) => (bits & 1).to_string(),
        Type::Int(w) if signed => sign_extend(bits, *w).to_string(),
        Type::Index if signed => (bits as i64).to_string(),
        Type::Int(_) | Type::Index => bits.to_string(),
        Type::Float(f) => format!("{:?}", float_to_f64(bits, *f)),
        _ => format!("0x{bits:x}"),
    }
}

impl Interp<'_> {
    pub(super) fn exec_assert(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let cond = self.operand(frame, op, 0)?;
        let Some(failed) = cond.data.iter().position(|&c| c & 1 == 0) else {
            return Ok(());
        };
        let attrs = &self.module.dfg.ops[op].attrs;
        let message = attrs.str("message").unwrap_or("assertion failed");
        let mut d = self.error(op, format!("assertion failed: {message}"));
        if !cond.shape.is_empty() {
            let mut index = Vec::new();
            for_each_index(&cond.shape, |flat, idx| {
                if flat == failed {
                    index = idx.to_vec();
                }
            });
            d = d.note(format!("first failing element: index {index:?}"));
        }
        if let (Some(file), Some(line)) = (attrs.str("file"), attrs.int("line")) {
            d = d.note(format!("asserted at {file}:{line}"));
        }
        Err(d)
    }

    pub(super) fn exec_print(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let attrs = &self.module.dfg.ops[op].attrs;
        let prefix = attrs.str("prefix").unwrap_or("").to_string();
        let hex = matches!(
            attrs.get("hex"),
            Some(Attribute::Bool(true) | Attribute::Unit)
        );
        let signed_flags = self.int_list_attr(op, "isSigned").unwrap_or_default();
        let [x, y, z] = self.pid;
        let operands = self.module.dfg.operands(op).to_vec();
        let mut out = String::new();
        if operands.is_empty() {
            out += &format!("pid ({x}, {y}, {z}) {prefix}\n");
        }
        for (i, &v) in operands.iter().enumerate() {
            let t = self.tensor(frame, op, v)?;
            let ty = self.module.dfg.value_type(v).element().clone();
            let signed = signed_flags.get(i).is_none_or(|&s| s != 0);
            for_each_index(&t.shape, |flat, idx| {
                let value = format_element(t.data[flat], &ty, signed, hex);
                let index: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
                if idx.is_empty() {
                    out += &format!("pid ({x}, {y}, {z}) {prefix}{value}\n");
                } else {
                    out += &format!(
                        "pid ({x}, {y}, {z}) idx ({}) {prefix}{value}\n",
                        index.join(", ")
                    );
                }
            });
        }
        eprint!("{out}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_elements() {
        assert_eq!(format_element(0xFFFF_FFFF, &Type::I32, true, false), "-1");
        assert_eq!(
            format_element(0xFFFF_FFFF, &Type::I32, false, false),
            "4294967295"
        );
        assert_eq!(format_element(0x3F80_0000, &Type::F32, true, false), "1.0");
        assert_eq!(format_element(255, &Type::I32, true, true), "0xff");
    }
}
