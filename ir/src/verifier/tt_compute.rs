//! Rules for the `tt` compute ops: program indices, `dot`, `dot_scaled`,
//! `reduce` and `scan` (with their combiner regions), `fp_to_fp`,
//! `bitcast` and `extern_elementwise`.

use crate::opcode::Opcode;
use crate::types::{FloatType, Type};

use super::op_context::{plural, Check, OpCx};
use super::shapes::{element_count, is_float_like, q, q_list, same_shape, shape_of};

/// `tt.get_program_id` / `tt.get_num_programs`: an `i32` along axis 0, 1 or 2.
pub(super) fn program_index(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    let [result] = cx.results_exact::<1>()?;
    if *result != Type::I32 {
        return cx.fail(format_args!("result must be `i32`, but is {}", q(result)));
    }
    let axis = cx.required_int("axis")?;
    if !(0..3).contains(&axis) {
        return cx.fail(format_args!(
            "axis must be 0, 1 or 2 (x, y or z), but is {axis}"
        ));
    }
    Ok(())
}

const INPUT_PRECISIONS: [&str; 5] = ["tf32", "tf32x3", "ieee", "bf16x3", "bf16x6"];

/// The shape of a matrix operand of a dot (rank 2, or 3 with a batch dim).
fn matrix<'t>(cx: &OpCx, ty: &'t Type, role: &str) -> Result<&'t [i64], String> {
    match shape_of(ty) {
        Some(shape) if shape.len() == 2 || shape.len() == 3 => Ok(shape),
        _ => cx.fail(format_args!(
            "{role} must be a 2-D or 3-D tensor, but is {}",
            q(ty)
        )),
    }
}

/// `M x K` times `K x N` accumulates into `M x N` (with equal leading batch
/// dimensions for rank 3). `a_k`, `b_k`, `m` and `n` are the logical sizes
/// (after unpacking packed formats).
fn check_matmul_dims(cx: &OpCx, types: [&Type; 3], dims: [i64; 4], c: &[i64]) -> Check {
    let [a, b, acc] = types;
    let [a_k, b_k, m, n] = dims;
    if a_k != b_k {
        return cx.fail(format_args!(
            "operand shapes do not compose: {} * {} (K is {a_k} vs {b_k})",
            q(a),
            q(b)
        ));
    }
    let r = c.len();
    if c[r - 2] != m || c[r - 1] != n {
        return cx.fail(format_args!(
            "accumulator {} must be {m}x{n} for {} * {}",
            q(acc),
            q(a),
            q(b)
        ));
    }
    if r == 3 && (a.shape()[0] != c[0] || b.shape()[0] != c[0]) {
        return cx.fail(format_args!(
            "batch dimensions of {}, {} and {} must be equal",
            q(a),
            q(b),
            q(acc)
        ));
    }
    Ok(())
}

/// `tt.dot`: `d = a * b + c` on matrices (or batches of them).
pub(super) fn dot(cx: &OpCx) -> Check {
    let [a, b, c] = cx.operands_exact::<3>()?;
    let [d] = cx.results_exact::<1>()?;
    let a_shape = matrix(cx, a, "operand A")?;
    let b_shape = matrix(cx, b, "operand B")?;
    let c_shape = matrix(cx, c, "accumulator")?;
    if a_shape.len() != b_shape.len() || a_shape.len() != c_shape.len() {
        return cx.fail(format_args!(
            "operands must all have the same rank: {}, {} and {}",
            q(a),
            q(b),
            q(c)
        ));
    }
    let numeric = |t: &Type| t.element().is_int() || t.element().is_float();
    if !numeric(a) || !numeric(b) || !numeric(c) {
        return cx.fail(format_args!(
            "operands must be numbers: {}, {} and {}",
            q(a),
            q(b),
            q(c)
        ));
    }
    if a.element().is_float() != b.element().is_float()
        || a.element().is_float() != c.element().is_float()
    {
        return cx.fail(format_args!(
            "operands and accumulator must be all floats or all integers: {}, {} and {}",
            q(a),
            q(b),
            q(c)
        ));
    }
    if super::shapes::elem_bits(a) != super::shapes::elem_bits(b) {
        return cx.fail(format_args!(
            "element types of A and B must have the same bit width: `{}` vs `{}`",
            a.element(),
            b.element()
        ));
    }
    let r = a_shape.len();
    let dims = [
        a_shape[r - 1],
        b_shape[r - 2],
        a_shape[r - 2],
        b_shape[r - 1],
    ];
    check_matmul_dims(cx, [a, b, c], dims, c_shape)?;
    if d != c {
        return cx.fail(format_args!(
            "result type {} must be the accumulator type {}",
            q(d),
            q(c)
        ));
    }
    cx.optional_enum("inputPrecision", &INPUT_PRECISIONS)?;
    if cx.attr("maxNumImpreciseAcc").is_some() {
        cx.required_int("maxNumImpreciseAcc")?;
    }
    Ok(())
}

const SCALED_FORMATS: [&str; 7] = ["e2m1", "e2m3", "e3m2", "e4m3", "e5m2", "bf16", "fp16"];

/// The element types a `dot_scaled` operand in `format` may be stored as
/// (fp4 is packed two per `i8`; fp6 and fp8 may also travel as raw `i8`).
fn scaled_storage(format: &str) -> &'static [Type] {
    const E4M3: [Type; 2] = [Type::Float(FloatType::F8E4M3FN), Type::I8];
    const E5M2: [Type; 2] = [Type::Float(FloatType::F8E5M2), Type::I8];
    const BF16: [Type; 1] = [Type::Float(FloatType::BF16)];
    const FP16: [Type; 1] = [Type::Float(FloatType::F16)];
    const RAW: [Type; 1] = [Type::I8];
    match format {
        "e4m3" => &E4M3,
        "e5m2" => &E5M2,
        "bf16" => &BF16,
        "fp16" => &FP16,
        _ => &RAW,
    }
}

/// `tt.dot_scaled`: `[a, b, c, a_scale?, b_scale?]`, microscaled formats
/// with one scale per 16 or 32 elements along K.
pub(super) fn dot_scaled(cx: &OpCx) -> Check {
    let sizes = cx.segments(5, |n| match n {
        3 => Some(vec![1, 1, 1, 0, 0]),
        5 => Some(vec![1, 1, 1, 1, 1]),
        _ => None,
    })?;
    if sizes[..3] != [1, 1, 1] || sizes[3] > 1 || sizes[4] > 1 {
        return cx
            .fail("expects operands `a`, `b`, `c` and at most one scale for each of `a` and `b`");
    }
    let types = cx.operand_types();
    let (a, b, c) = (types[0], types[1], types[2]);
    let a_scale = (sizes[3] == 1).then(|| types[3]);
    let b_scale = (sizes[4] == 1).then(|| types[3 + sizes[3]]);
    let [d] = cx.results_exact::<1>()?;
    let a_format = cx.required_enum("a_elem_type", &SCALED_FORMATS)?;
    let b_format = cx.required_enum("b_elem_type", &SCALED_FORMATS)?;
    let a_shape = matrix(cx, a, "operand A")?;
    let b_shape = matrix(cx, b, "operand B")?;
    let c_shape = matrix(cx, c, "accumulator")?;
    if a_shape.len() != b_shape.len() || a_shape.len() != c_shape.len() {
        return cx.fail(format_args!(
            "operands must all have the same rank: {}, {} and {}",
            q(a),
            q(b),
            q(c)
        ));
    }
    for (ty, format, role) in [(a, a_format, "A"), (b, b_format, "B")] {
        let allowed = scaled_storage(format);
        if !allowed.contains(ty.element()) {
            let names: Vec<String> = allowed.iter().map(|t| t.to_string()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            return cx.fail(format_args!(
                "operand {role} in format `{format}` must hold {}, but is {}",
                super::op_context::quoted_list(&names),
                q(ty)
            ));
        }
    }
    if !is_float_like(c) {
        return cx.fail(format_args!(
            "accumulator must be a float tensor, but is {}",
            q(c)
        ));
    }
    // fp4 packs two values per byte, along K unless the `*_k_pack` flag says
    // it packs along M (for A) or N (for B).
    let a_k_pack = cx.optional_bool("lhs_k_pack")?.unwrap_or(true);
    let b_k_pack = cx.optional_bool("rhs_k_pack")?.unwrap_or(true);
    let unpack = |format: &str, along: bool| if format == "e2m1" && along { 2 } else { 1 };
    let r = a_shape.len();
    let k = a_shape[r - 1].saturating_mul(unpack(a_format, a_k_pack));
    let b_k = b_shape[r - 2].saturating_mul(unpack(b_format, b_k_pack));
    let m = a_shape[r - 2].saturating_mul(unpack(a_format, !a_k_pack));
    let n = b_shape[r - 1].saturating_mul(unpack(b_format, !b_k_pack));
    check_matmul_dims(cx, [a, b, c], [k, b_k, m, n], c_shape)?;
    if d != c {
        return cx.fail(format_args!(
            "result type {} must be the accumulator type {}",
            q(d),
            q(c)
        ));
    }
    let mut factors = Vec::new();
    for (scale, rows, role) in [(a_scale, m, "A"), (b_scale, n, "B")] {
        let Some(scale) = scale else { continue };
        let shape = match shape_of(scale) {
            Some(s) if s.len() == r && matches!(scale.element(), Type::Int(8) | Type::Float(_)) => {
                s
            }
            _ => {
                return cx.fail(format_args!(
                    "scale of {role} must be a rank-{r} tensor of `i8` scales, but is {}",
                    q(scale)
                ))
            }
        };
        if shape[r - 2] != rows {
            return cx.fail(format_args!(
                "scale of {role} {} must have {rows} rows, one per row of the operand",
                q(scale)
            ));
        }
        let groups = shape[r - 1];
        let factor = if groups > 0 && k % groups == 0 {
            k / groups
        } else {
            0
        };
        // A single scale for the whole operand is a broadcast scalar.
        let single = element_count(shape) == Some(1);
        if !single && factor != 16 && factor != 32 {
            return cx.fail(format_args!(
                "scale of {role} {} must hold one scale per 16 or 32 elements of K = {k}",
                q(scale)
            ));
        }
        if !single {
            factors.push(factor);
        }
    }
    if let [fa, fb] = factors[..] {
        if fa != fb {
            return cx.fail(format_args!(
                "scales of A and B must cover the same number of elements ({fa} vs {fb})"
            ));
        }
    }
    cx.optional_bool("fastMath")?;
    Ok(())
}

/// `tt.reduce` / `tt.scan` operands: tensors of one shape; returns their
/// shape and element types.
fn combined_operands<'m>(cx: &OpCx<'m>) -> Result<(&'m [i64], Vec<&'m Type>), String> {
    let types = cx.operands_at_least(1)?;
    let Some(shape) = shape_of(types[0]) else {
        return cx.fail(format_args!(
            "operands must be tensors, but got {}",
            q(types[0])
        ));
    };
    if let Some(other) = types.iter().find(|t| !same_shape(t, types[0])) {
        return cx.fail(format_args!(
            "operands must all have the same shape: {} vs {}",
            q(types[0]),
            q(other)
        ));
    }
    if cx.results().len() != types.len() {
        return cx.fail(format_args!(
            "has {} but {}; there is one result per operand",
            plural(types.len(), "operand"),
            plural(cx.results().len(), "result")
        ));
    }
    Ok((shape, types.iter().map(|t| t.element()).collect()))
}

/// The combiner block takes two arguments per operand: `(acc..., x...)`,
/// each of the corresponding operand's element type.
fn check_combiner_args(cx: &OpCx, elems: &[&Type]) -> Check {
    let Some(block) = cx.single_block(0) else {
        return Ok(());
    };
    let args = cx.block_arg_types(block);
    let n = elems.len();
    if args.len() != 2 * n {
        return cx.fail(format_args!(
            "combiner region must take {} (two per operand), but takes {}",
            plural(2 * n, "argument"),
            args.len()
        ));
    }
    for (i, arg) in args.iter().enumerate() {
        if *arg != elems[i % n] {
            return cx.fail(format_args!(
                "combiner argument #{i} must have type {}, but has {}",
                q(elems[i % n]),
                q(arg)
            ));
        }
    }
    Ok(())
}

/// `tt.reduce`: reduces each operand along `axis`; a 1-D operand reduces to
/// a scalar.
pub(super) fn reduce(cx: &OpCx) -> Check {
    let (shape, elems) = combined_operands(cx)?;
    let axis = cx.required_int("axis")?;
    let Some(axis) = usize::try_from(axis).ok().filter(|&a| a < shape.len()) else {
        return cx.fail(format_args!(
            "axis {axis} is out of range for rank {}",
            shape.len()
        ));
    };
    for (i, (&v, elem)) in cx.results().iter().zip(&elems).enumerate() {
        let mut reduced = shape.to_vec();
        reduced.remove(axis);
        let expected = if reduced.is_empty() {
            (*elem).clone()
        } else {
            Type::tensor(reduced, (*elem).clone())
        };
        if *cx.ty(v) != expected {
            return cx.fail(format_args!(
                "result #{i} must be {} (the operand reduced along axis {axis}), but is {}",
                q(&expected),
                q(cx.ty(v))
            ));
        }
    }
    check_combiner_args(cx, &elems)
}

/// `tt.scan`: a running combination along `axis`; results have the operand types.
pub(super) fn scan(cx: &OpCx) -> Check {
    let (shape, elems) = combined_operands(cx)?;
    let axis = cx.required_int("axis")?;
    if usize::try_from(axis).map_or(true, |a| a >= shape.len()) {
        return cx.fail(format_args!(
            "axis {axis} is out of range for rank {}",
            shape.len()
        ));
    }
    cx.required_bool("reverse")?;
    let operands = cx.operand_types();
    let results = cx.result_types();
    if operands != results {
        return cx.fail(format_args!(
            "results {} must have the operand types {}",
            q_list(&results),
            q_list(&operands)
        ));
    }
    check_combiner_args(cx, &elems)
}

/// `tt.reduce.return` / `tt.scan.return`: one value per operand of the
/// parent, of that operand's element type.
pub(super) fn combiner_return(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let Some((parent, _)) = cx.parent() else {
        return Ok(());
    };
    let parent_opcode = cx.dfg().opcode(parent);
    let expected_parent = if cx.opcode == Opcode::ReduceReturn {
        Opcode::Reduce
    } else {
        Opcode::Scan
    };
    if parent_opcode != expected_parent {
        // Reported by the structural checks.
        return Ok(());
    }
    let elems: Vec<&Type> = cx
        .operand_types_of(parent)
        .into_iter()
        .map(Type::element)
        .collect();
    let returned = cx.operand_types();
    if returned.len() != elems.len() {
        return cx.fail(format_args!(
            "returns {} but `{}` combines {}",
            plural(returned.len(), "value"),
            parent_opcode.name(),
            plural(elems.len(), "operand")
        ));
    }
    for (i, (got, want)) in returned.iter().zip(&elems).enumerate() {
        if got != want {
            return cx.fail(format_args!(
                "operand #{i} has type {} but the combiner of `{}` works on {}",
                q(got),
                parent_opcode.name(),
                q(want)
            ));
        }
    }
    Ok(())
}

/// `tt.fp_to_fp`: float to float of the same shape; narrowing needs a
/// rounding mode.
pub(super) fn fp_to_fp(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [dst] = cx.results_exact::<1>()?;
    if !is_float_like(src) || !is_float_like(dst) {
        return cx.fail(format_args!(
            "converts between floats, but got {} to {}",
            q(src),
            q(dst)
        ));
    }
    if !same_shape(src, dst) {
        return cx.fail(format_args!(
            "operand {} and result {} must have the same shape",
            q(src),
            q(dst)
        ));
    }
    let rounding = cx.optional_enum("rounding", &["rtne", "rtz"])?;
    let bits = |t: &Type| t.element().float_type().map_or(0, FloatType::bits);
    if bits(dst) < bits(src) && rounding.is_none() {
        return cx.fail(format_args!(
            "narrowing {} to {} requires a rounding mode (`rounding = rtne` or `rtz`)",
            q(src),
            q(dst)
        ));
    }
    Ok(())
}

/// `tt.bitcast`: reinterprets elements of equal width (pointers only as
/// other pointers).
pub(super) fn bitcast(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [dst] = cx.results_exact::<1>()?;
    if !same_shape(src, dst) {
        return cx.fail(format_args!(
            "operand {} and result {} must have the same shape",
            q(src),
            q(dst)
        ));
    }
    let (s, d) = (src.element(), dst.element());
    match (s, d) {
        (Type::Ptr { addr_space: a, .. }, Type::Ptr { addr_space: b, .. }) if a != b => {
            cx.fail(format_args!(
                "cannot cast pointers between address spaces ({} to {})",
                q(src),
                q(dst)
            ))
        }
        (Type::Ptr { .. }, Type::Ptr { .. }) => Ok(()),
        (Type::Ptr { .. }, _) | (_, Type::Ptr { .. }) => cx.fail(format_args!(
            "cannot cast between a pointer and a non-pointer ({} to {})",
            q(src),
            q(dst)
        )),
        _ if super::shapes::elem_bits(src) != super::shapes::elem_bits(dst) => {
            cx.fail(format_args!(
                "operand {} and result {} must have the same bit width",
                q(src),
                q(dst)
            ))
        }
        _ => Ok(()),
    }
}

/// `tt.extern_elementwise`: a library call applied elementwise; every
/// operand has the result's shape.
pub(super) fn extern_elementwise(cx: &OpCx) -> Check {
    let [result] = cx.results_exact::<1>()?;
    if let Some(bad) = cx
        .operand_types()
        .into_iter()
        .find(|t| !same_shape(t, result))
    {
        return cx.fail(format_args!(
            "operand {} must have the shape of the result {}",
            q(bad),
            q(result)
        ));
    }
    cx.required_string("libname")?;
    cx.required_string("libpath")?;
    cx.required_string("symbol")?;
    cx.required_bool("pure")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::{FloatType, Type};
    use crate::verifier::test_builder::{i32_attr, Builder};
    use crate::Attribute;

    fn t(shape: &[i64], elem: Type) -> Type {
        Type::tensor(shape.to_vec(), elem)
    }

    #[test]
    fn dot_shapes() {
        let f16 = Type::Float(FloatType::F16);
        let mut b = Builder::kernel(&[
            t(&[64, 32], f16.clone()),
            t(&[32, 16], f16.clone()),
            t(&[64, 16], Type::F32),
            t(&[64, 64], f16.clone()),
        ]);
        let (a, bm, c, wrong) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3));
        b.op(Opcode::Dot, &[a, bm, c], &[t(&[64, 16], Type::F32)]);
        b.op(Opcode::Dot, &[a, wrong, c], &[t(&[64, 16], Type::F32)]);
        b.op(Opcode::Dot, &[bm, bm, c], &[t(&[64, 16], Type::F32)]);
        b.op(Opcode::Dot, &[a, bm, c], &[t(&[64, 16], f16.clone())]);
        b.ret();
        b.assert_errors(&[
            "`tt.dot` operand shapes do not compose: `tensor<64x32xf16>` * `tensor<64x64xf16>` (K is 32 vs 64)",
            "`tt.dot` operand shapes do not compose",
            "`tt.dot` result type `tensor<64x16xf16>` must be the accumulator type `tensor<64x16xf32>`",
        ]);
    }

    #[test]
    fn reduce_region_arity_and_types() {
        let mut b = Builder::kernel(&[t(&[4, 8], Type::F32)]);
        let x = b.arg(0);
        let good = b.add(
            Opcode::Reduce,
            &[x],
            &[t(&[4], Type::F32)],
            &[("axis", i32_attr(1))],
        );
        let body = b.region(good, &[Type::F32, Type::F32]);
        b.within(body, |b| {
            let (l, r) = (b.block_arg(body, 0), b.block_arg(body, 1));
            let s = b.op(Opcode::AddF, &[l, r], &[Type::F32]);
            b.op(Opcode::ReduceReturn, &[s], &[]);
        });
        let bad = b.add(
            Opcode::Reduce,
            &[x],
            &[t(&[8], Type::F32)],
            &[("axis", i32_attr(0))],
        );
        let body = b.region(bad, &[Type::F32, Type::F32, Type::F32]);
        b.within(body, |b| {
            let (l, r) = (b.block_arg(body, 0), b.block_arg(body, 1));
            b.op(Opcode::ReduceReturn, &[l, r], &[]);
        });
        b.ret();
        b.assert_errors(&[
            "`tt.reduce` combiner region must take 2 arguments (two per operand), but takes 3",
            "`tt.reduce.return` returns 2 values but `tt.reduce` combines 1 operand",
        ]);
    }

    #[test]
    fn scan_and_fp_to_fp() {
        let f8 = Type::Float(FloatType::F8E4M3FN);
        let mut b = Builder::kernel(&[t(&[16], Type::F32)]);
        let x = b.arg(0);
        let scan = b.add(
            Opcode::Scan,
            &[x],
            &[t(&[16], Type::F32)],
            &[("axis", i32_attr(0))],
        );
        let body = b.region(scan, &[Type::F32, Type::F32]);
        b.within(body, |b| {
            let l = b.block_arg(body, 0);
            b.op(Opcode::ScanReturn, &[l], &[]);
        });
        b.op(Opcode::FpToFp, &[x], &[t(&[16], f8.clone())]);
        b.op_attrs(
            Opcode::FpToFp,
            &[x],
            &[t(&[16], f8)],
            &[("rounding", Attribute::Enum("rtne".into()))],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.scan` is missing its required attribute `reverse`",
            "`tt.fp_to_fp` narrowing `tensor<16xf32>` to `tensor<16xf8E4M3FN>` requires a rounding mode",
        ]);
    }

    #[test]
    fn program_ids_and_bitcasts() {
        let mut b = Builder::kernel(&[Type::F32, Type::ptr(Type::F32)]);
        let (f, p) = (b.arg(0), b.arg(1));
        b.op_attrs(
            Opcode::GetProgramId,
            &[],
            &[Type::I32],
            &[("axis", i32_attr(3))],
        );
        b.op_attrs(
            Opcode::GetNumPrograms,
            &[],
            &[Type::I64],
            &[("axis", i32_attr(0))],
        );
        b.op(Opcode::Bitcast, &[f], &[Type::I32]);
        b.op(Opcode::Bitcast, &[f], &[Type::I64]);
        b.op(Opcode::Bitcast, &[p], &[Type::ptr(Type::I8)]);
        b.op(Opcode::Bitcast, &[p], &[Type::I64]);
        b.ret();
        b.assert_errors(&[
            "`tt.get_program_id` axis must be 0, 1 or 2 (x, y or z), but is 3",
            "`tt.get_num_programs` result must be `i32`, but is `i64`",
            "`tt.bitcast` operand `f32` and result `i64` must have the same bit width",
            "`tt.bitcast` cannot cast between a pointer and a non-pointer",
        ]);
    }

    #[test]
    fn dot_scaled_formats_and_scales() {
        let fp4 = |r, c| t(&[r, c], Type::I8);
        let mut b = Builder::kernel(&[
            fp4(128, 32),
            fp4(32, 128),
            t(&[128, 128], Type::F32),
            fp4(128, 2),
            fp4(128, 4),
            t(&[64, 128], Type::Float(FloatType::F8E4M3FN)),
            fp4(128, 8),
        ]);
        let (a, bm, c, scale, wide_scale, fp8) =
            (b.arg(0), b.arg(1), b.arg(2), b.arg(3), b.arg(4), b.arg(5));
        let fine_scale = b.arg(6);
        let formats = |x: &str, y: &str| {
            [
                ("a_elem_type", Attribute::Enum(x.into())),
                ("b_elem_type", Attribute::Enum(y.into())),
            ]
        };
        let acc = || t(&[128, 128], Type::F32);
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c, scale, scale],
            &[acc()],
            &formats("e2m1", "e2m1"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c],
            &[acc()],
            &formats("e2m1", "e2m1"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, fp8, c],
            &[acc()],
            &formats("e2m1", "e4m3"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c, scale, wide_scale],
            &[acc()],
            &formats("e2m1", "e2m1"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c],
            &[acc()],
            &formats("e2m1", "bf16"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c, scale],
            &[acc()],
            &formats("e2m1", "e2m1"),
        );
        b.op_attrs(
            Opcode::DotScaled,
            &[a, bm, c, fine_scale, scale],
            &[acc()],
            &formats("e2m1", "e2m1"),
        );
        b.ret();
        b.assert_errors(&[
            "`tt.dot_scaled` scales of A and B must cover the same number of elements (32 vs 16)",
            "`tt.dot_scaled` operand B in format `bf16` must hold `bf16`, but is `tensor<32x128xi8>`",
            "`tt.dot_scaled` needs the attribute `operandSegmentSizes` to tell its 4 operands apart",
            "`tt.dot_scaled` scale of A `tensor<128x8xi8>` must hold one scale per 16 or 32 elements of K = 64",
        ]);
    }

    #[test]
    fn extern_elementwise_shapes_and_attributes() {
        let mut b = Builder::kernel(&[t(&[8], Type::F32), Type::F32]);
        let (v, s) = (b.arg(0), b.arg(1));
        let lib = [
            ("libname", Attribute::String(String::new())),
            ("libpath", Attribute::String(String::new())),
            ("symbol", Attribute::String("__nv_sinf".into())),
            ("pure", Attribute::Bool(true)),
        ];
        b.op_attrs(Opcode::ExternElementwise, &[v], &[t(&[8], Type::F32)], &lib);
        b.op_attrs(
            Opcode::ExternElementwise,
            &[v, s],
            &[t(&[8], Type::F32)],
            &lib,
        );
        b.op_attrs(
            Opcode::ExternElementwise,
            &[v],
            &[t(&[8], Type::F32)],
            &lib[..3],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.extern_elementwise` operand `f32` must have the shape of the result `tensor<8xf32>`",
            "`tt.extern_elementwise` is missing its required attribute `pure`",
        ]);
    }
}
