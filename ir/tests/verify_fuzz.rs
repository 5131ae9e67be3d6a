//! Byte-level mutations of real kernels never make `parse + verify` panic:
//! whatever the damage, the answer is a module or a list of diagnostics.

mod verify_support;

use proptest::prelude::*;
use verify_support::{find_files, read_lossy, shared_corpus_dir};

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
    find_files(&shared_corpus_dir(), "kernel.ttir")
        .iter()
        .map(|p| read_lossy(p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

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
