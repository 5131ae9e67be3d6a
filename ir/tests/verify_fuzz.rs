//! Mutated kernels never make `parse + verify` panic: whatever the damage,
//! the answer is a module or a list of diagnostics.
//!
//! Two levels: byte edits of the TTIR text (mostly caught by the parser),
//! and edits of a parsed module's IR (operands rewired, types changed,
//! attributes dropped, ops removed or reordered), which only the verifier
//! can catch.

mod verify_support;

use std::sync::OnceLock;

use maiac_ir::{Module, Op, Type, Value};
use proptest::prelude::*;
use verify_support::{find_files, fixtures_dir, read_lossy};

/// One edit of the text, applied at a position given as a fraction of its length.
#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: f64, len: usize },
    Insert { at: f64, bytes: Vec<u8> },
    DuplicateLine { at: f64 },
    SwapLines { a: f64, b: f64 },
    ReplaceToken { at: f64, with: &'static str },
}

const TOKENS: &[&str] = &[
    "%0",
    "}",
    "{",
    "(",
    ")",
    ",",
    ":",
    "tensor<4xi32>",
    "i1",
    "f16",
    "!tt.ptr<f32>",
    "tt.return",
    "scf.yield",
    "tt.reduce.return",
    "arith.addi",
    "tt.addptr",
    "^bb1",
    "#loc99",
    "loc(",
    "0",
    "-1",
    "2147483648",
    "tensor<0xf32>",
    "dense<",
    "\"tt.load\"(",
    "<{",
    "}>",
    "->",
    "x",
    "tensor<1x1x1x1x1x1x1x1xi8>",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at.clone(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        at.clone().prop_map(|at| Mutation::DuplicateLine { at }),
        (at.clone(), at.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (at, proptest::sample::select(TOKENS))
            .prop_map(|(at, with)| Mutation::ReplaceToken { at, with }),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let pick = |f: f64, n: usize| ((f * n as f64) as usize).min(n.saturating_sub(1));
    match m {
        Mutation::Delete { at, len } => {
            let start = pick(*at, bytes.len());
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Insert { at, bytes: new } => {
            let at = pick(*at, bytes.len());
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::DuplicateLine { at } | Mutation::SwapLines { a: at, .. } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let i = pick(*at, lines.len());
            match m {
                Mutation::SwapLines { b, .. } => {
                    let j = pick(*b, lines.len());
                    lines.swap(i, j);
                }
                _ => lines.insert(i, lines[i]),
            }
            return lines.join("\n");
        }
        Mutation::ReplaceToken { at, with } => {
            let start = pick(*at, bytes.len());
            let end = bytes[start..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(bytes.len(), |p| start + p);
            bytes.splice(start..end, with.bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn corpus() -> Vec<String> {
    // The committed fixtures (copies of the public corpus included), so the
    // test does not depend on anything outside the repository.
    find_files(&fixtures_dir().join("corpus"), "kernel.ttir")
        .iter()
        .map(|p| read_lossy(p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_kernels_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let texts = corpus();
        prop_assume!(!texts.is_empty());
        let mut text = texts[pick.index(texts.len())].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        // Either outcome is fine; a rejection must carry at least one diagnostic.
        if let Err(diagnostics) = maiac_ir::check_text(&text, "fuzz.ttir") {
            prop_assert!(!diagnostics.is_empty());
        }
    }
}

/// An edit of a parsed module; indices are taken modulo the relevant count.
#[derive(Clone, Debug)]
enum IrEdit {
    /// Replace an operand with some other value of the module.
    Rewire {
        op: usize,
        operand: usize,
        value: usize,
    },
    /// Give a value another type.
    Retype { value: usize, ty: usize },
    /// Drop one attribute of an op.
    DropAttr { op: usize, attr: usize },
    /// Take an op out of its block.
    Remove { op: usize },
    /// Swap two ops of one block.
    Swap { op: usize, other: usize },
}

fn ir_edit() -> impl Strategy<Value = IrEdit> {
    let i = any::<usize>();
    prop_oneof![
        (i, i, i).prop_map(|(op, operand, value)| IrEdit::Rewire { op, operand, value }),
        (i, i).prop_map(|(value, ty)| IrEdit::Retype { value, ty }),
        (i, i).prop_map(|(op, attr)| IrEdit::DropAttr { op, attr }),
        i.prop_map(|op| IrEdit::Remove { op }),
        (i, i).prop_map(|(op, other)| IrEdit::Swap { op, other }),
    ]
}

fn type_palette() -> Vec<Type> {
    vec![
        Type::I1,
        Type::I32,
        Type::Int(7),
        Type::F32,
        Type::ptr(Type::F32),
        Type::tensor(vec![1024], Type::I32),
        Type::tensor(vec![1024], Type::ptr(Type::F32)),
        Type::tensor(vec![64, 64], Type::F32),
        Type::tensor(vec![3], Type::F32),
        Type::tensor(vec![0], Type::F32),
        Type::tensor(vec![i64::MAX, 2], Type::F32),
        Type::tensor(vec![64], Type::tensor(vec![2], Type::F32)),
        Type::ptr(Type::tensor(vec![32, 32], Type::F32)),
    ]
}

/// The laid-out ops of the module, in program order.
fn laid_out_ops(module: &Module) -> Vec<Op> {
    let mut ops = Vec::new();
    module.walk(&mut |op| ops.push(op));
    ops
}

fn apply_ir(module: &mut Module, edit: &IrEdit) {
    let ops = laid_out_ops(module);
    let values: Vec<Value> = module.dfg.values.keys().collect();
    if ops.is_empty() || values.is_empty() {
        return;
    }
    let op_at = |i: usize| ops[i % ops.len()];
    match *edit {
        IrEdit::Rewire { op, operand, value } => {
            let op = op_at(op);
            let count = module.dfg.operands(op).len();
            if count > 0 {
                module
                    .dfg
                    .set_operand(op, operand % count, values[value % values.len()]);
            }
        }
        IrEdit::Retype { value, ty } => {
            let palette = type_palette();
            module.dfg.values[values[value % values.len()]].ty =
                palette[ty % palette.len()].clone();
        }
        IrEdit::DropAttr { op, attr } => {
            let op = op_at(op);
            let names: Vec<String> = module.dfg.ops[op]
                .attrs
                .iter()
                .map(|a| a.name.clone())
                .collect();
            if !names.is_empty() {
                module.dfg.ops[op].attrs.remove(&names[attr % names.len()]);
            }
        }
        IrEdit::Remove { op } => module.layout.remove_op(op_at(op)),
        IrEdit::Swap { op, other } => {
            let op = op_at(op);
            if let Some(block) = module.layout.op_block(op) {
                let mut order = module.layout.ops(block).to_vec();
                let (a, b) = (
                    order.iter().position(|&o| o == op).unwrap_or(0),
                    other % order.len(),
                );
                order.swap(a, b);
                module.layout.set_block_ops(block, order);
            }
        }
    }
}

/// The corpus kernels, parsed once.
fn parsed_corpus() -> &'static [Module] {
    static MODULES: OnceLock<Vec<Module>> = OnceLock::new();
    MODULES.get_or_init(|| {
        corpus()
            .iter()
            .filter_map(|text| maiac_ir::check_text(text, "k.ttir").ok())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn edited_modules_never_panic_the_verifier(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(ir_edit(), 1..5),
    ) {
        let modules = parsed_corpus();
        prop_assume!(!modules.is_empty());
        let mut module = modules[pick.index(modules.len())].clone();
        for edit in &edits {
            apply_ir(&mut module, edit);
        }
        let first = maiac_ir::verifier::verify(&module);
        // Deterministic, and every rejection says something.
        prop_assert_eq!(&first, &maiac_ir::verifier::verify(&module));
        if let Err(diagnostics) = first {
            prop_assert!(!diagnostics.is_empty());
        }
    }
}
