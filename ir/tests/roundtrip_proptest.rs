//! Property test: randomly generated valid TTIR programs survive
//! print → parse → print unchanged, and the reparsed module has the same
//! structure (op sequence, types, attributes).

use maiac_ir::parser::parse_module;
use maiac_ir::printer::print_module;
use maiac_ir::Module;
use proptest::prelude::*;

/// One generated statement over the running tensor values.
#[derive(Clone, Debug)]
enum Stmt {
    Binary(&'static str, usize, usize),
    Unary(&'static str, usize),
    Const(f32),
    CmpSelect(&'static str, usize, usize),
    ReduceSum(usize),
    Loop(usize, u8),
    If(usize),
}

fn stmt() -> impl Strategy<Value = Stmt> {
    prop_oneof![
        (
            prop::sample::select(vec![
                "arith.addf",
                "arith.subf",
                "arith.mulf",
                "arith.divf",
                "arith.maxnumf"
            ]),
            0..8usize,
            0..8usize
        )
            .prop_map(|(op, a, b)| Stmt::Binary(op, a, b)),
        (
            prop::sample::select(vec![
                "math.exp",
                "math.sqrt",
                "math.absf",
                "arith.negf",
                "math.floor"
            ]),
            0..8usize
        )
            .prop_map(|(op, a)| Stmt::Unary(op, a)),
        any::<f32>().prop_map(Stmt::Const),
        (
            prop::sample::select(vec!["olt", "oge", "une", "uno"]),
            0..8usize,
            0..8usize
        )
            .prop_map(|(p, a, b)| Stmt::CmpSelect(p, a, b)),
        (0..8usize).prop_map(Stmt::ReduceSum),
        (0..8usize, 1..4u8).prop_map(|(a, n)| Stmt::Loop(a, n)),
        (0..8usize).prop_map(Stmt::If),
    ]
}

/// Renders a program; every statement defines one new `tensor<16xf32>`.
fn render(stmts: &[Stmt]) -> String {
    let t = "tensor<16xf32>";
    let mut body = String::new();
    let pick = |i: usize, n: usize| format!("%v{}", i % n);
    // %v0 is the loaded input; statement k defines %v(k + 1).
    for (k, s) in stmts.iter().enumerate() {
        let n = k + 1;
        let loc = format!("loc(\"gen.py\":{}:{})", k + 10, k % 7 + 1);
        let line = match s {
            Stmt::Binary(op, a, b) => format!("%v{n} = {op} {}, {} : {t} {loc}", pick(*a, n), pick(*b, n)),
            Stmt::Unary(op, a) => format!("%v{n} = {op} {} : {t} {loc}", pick(*a, n)),
            Stmt::Const(c) => format!("%v{n} = arith.constant dense<0x{:08X}> : {t} {loc}", c.to_bits()),
            Stmt::CmpSelect(p, a, b) => format!(
                "%cmp{n} = arith.cmpf {p}, {x}, {y} : {t} {loc}\n    %v{n} = arith.select %cmp{n}, {x}, {y} : tensor<16xi1>, {t} {loc}",
                x = pick(*a, n),
                y = pick(*b, n)
            ),
            Stmt::ReduceSum(a) => format!(
                "%s{n} = \"tt.reduce\"({}) <{{axis = 0 : i32}}> ({{\n    ^bb0(%l{n}: f32 loc(unknown), %r{n}: f32 loc(unknown)):\n      %q{n} = arith.addf %l{n}, %r{n} : f32 {loc}\n      tt.reduce.return %q{n} : f32 {loc}\n    }}) : ({t}) -> f32 {loc}\n    %v{n} = tt.splat %s{n} : f32 -> {t} {loc}",
                pick(*a, n)
            ),
            Stmt::Loop(a, trips) => format!(
                "%v{n} = scf.for %i{n} = %c0 to %c{trips}_i32 step %c1 iter_args(%acc{n} = {}) -> ({t})  : i32 {{\n      %w{n} = arith.addf %acc{n}, %acc{n} : {t} {loc}\n      scf.yield %w{n} : {t} {loc}\n    }} {loc}",
                pick(*a, n)
            ),
            Stmt::If(a) => format!(
                "%v{n} = scf.if %cond -> ({t}) {{\n      scf.yield {x} : {t} {loc}\n    }} else {{\n      %e{n} = arith.mulf {x}, {x} : {t} {loc}\n      scf.yield %e{n} : {t} {loc}\n    }} {loc}",
                x = pick(*a, n)
            ),
        };
        body += "    ";
        body += &line;
        body += "\n";
    }
    format!(
        r#"#loc = loc("gen.py":1:1)
module {{
  tt.func public @gen(%x_ptr: !tt.ptr<f32> {{tt.divisibility = 16 : i32}} loc("x_ptr"(#loc)), %flag: i32 loc("flag"(#loc))) attributes {{noinline = false}} {{
    %c0 = arith.constant 0 : i32 loc(#loc)
    %c1 = arith.constant 1 : i32 loc(#loc)
    %c1_i32 = arith.constant 1 : i32 loc(#loc)
    %c2_i32 = arith.constant 2 : i32 loc(#loc)
    %c3_i32 = arith.constant 3 : i32 loc(#loc)
    %cond = arith.cmpi sgt, %flag, %c0 : i32 loc(#loc)
    %r = tt.make_range {{end = 16 : i32, start = 0 : i32}} : tensor<16xi32> loc(#loc)
    %p = tt.splat %x_ptr : !tt.ptr<f32> -> tensor<16x!tt.ptr<f32>> loc(#loc)
    %q = tt.addptr %p, %r : tensor<16x!tt.ptr<f32>>, tensor<16xi32> loc(#loc)
    %v0 = tt.load %q : tensor<16x!tt.ptr<f32>> loc(#loc1)
{body}    tt.store %q, %v{last} : tensor<16x!tt.ptr<f32>> loc(#loc1)
    tt.return loc(#loc)
  }} loc(#loc)
}} loc(#loc)
#loc1 = loc("gen.py":2:5)
"#,
        last = stmts.len()
    )
}

/// A structural fingerprint: every op's name, operand/result types and attributes.
fn structure(m: &Module) -> Vec<String> {
    let mut out = Vec::new();
    m.walk(&mut |op| {
        let d = &m.dfg;
        let types: Vec<String> = d
            .operands(op)
            .iter()
            .chain(d.results(op))
            .map(|&v| d.value_type(v).to_string())
            .collect();
        out.push(format!(
            "{} {:?} {:?}",
            d.opcode(op).name(),
            types,
            d.ops[op].attrs
        ));
    });
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn print_parse_print_is_identity(stmts in prop::collection::vec(stmt(), 1..12)) {
        let text = render(&stmts);
        let m1 = parse_module(&text, "gen.ttir").map_err(|d| TestCaseError::fail(d.render(Some(&text))))?;
        maiac_ir::verifier::verify(&m1).map_err(|ds| TestCaseError::fail(ds[0].render(Some(&text))))?;
        let p1 = print_module(&m1);
        let m2 = parse_module(&p1, "gen.ttir").map_err(|d| TestCaseError::fail(d.render(Some(&p1))))?;
        let p2 = print_module(&m2);
        prop_assert_eq!(&p1, &p2);
        prop_assert_eq!(structure(&m1), structure(&m2));
    }
}
