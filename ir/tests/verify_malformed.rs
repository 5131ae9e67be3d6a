//! Malformed TTIR is rejected with a located message that names the
//! problem, through the combined `parse + verify` path every maiac command
//! uses (`maiac_ir::check_text`).
//!
//! Each file in `tests/data/malformed/` is a real kernel with one thing
//! broken. A case says which line the first diagnostic must point at (found
//! by a marker string, so the fixtures can be edited freely) and what its
//! message must mention: every group must match, by any of its words.

mod verify_support;

use std::collections::BTreeSet;

use maiac_ir::Diagnostic;
use verify_support::{malformed_dir, read_lossy, render_all};

/// Which layer must catch the problem.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// The text is not TTIR: `parse_module` fails.
    Parse,
    /// The text parses but the module is ill-typed: `verify` fails.
    Verify,
    /// Either layer may catch it (e.g. a type mismatch the pretty syntax
    /// already exposes to the parser).
    Either,
}

struct Case {
    file: &'static str,
    stage: Stage,
    /// A string on the line the first diagnostic must point at; `None` when
    /// only the presence of a position is required (end-of-input errors).
    line_of: Option<&'static str>,
    /// Groups of alternatives; the message must contain one word of each group.
    mentions: &'static [&'static [&'static str]],
}

const CASES: &[Case] = &[
    Case {
        file: "empty.ttir",
        stage: Stage::Parse,
        line_of: None,
        mentions: &[&["empty", "expected", "module", "end of"]],
    },
    Case {
        file: "truncated.ttir",
        stage: Stage::Parse,
        line_of: None,
        mentions: &[&["end of", "unexpected", "expected", "truncated", "eof"]],
    },
    Case {
        file: "garbage_text.ttir",
        stage: Stage::Parse,
        line_of: None,
        mentions: &[&[
            "expected",
            "unexpected",
            "invalid",
            "unknown",
            "unrecognized",
        ]],
    },
    Case {
        file: "garbage_bytes.ttir",
        stage: Stage::Parse,
        line_of: None,
        mentions: &[&[
            "expected",
            "unexpected",
            "invalid",
            "unknown",
            "unrecognized",
        ]],
    },
    Case {
        file: "unknown_op.ttir",
        stage: Stage::Parse,
        line_of: Some("tt.frobnicate"),
        mentions: &[&["tt.frobnicate"]],
    },
    Case {
        file: "undefined_value.ttir",
        stage: Stage::Parse,
        line_of: Some("%nope"),
        mentions: &[&["%nope"]],
    },
    Case {
        file: "undefined_loc.ttir",
        stage: Stage::Parse,
        line_of: Some("#loc99"),
        mentions: &[&["#loc99", "loc99"]],
    },
    Case {
        file: "duplicate_definition.ttir",
        stage: Stage::Parse,
        line_of: Some("%x_6 = tt.load %y_7"),
        mentions: &[&["%x_6"], &["redefin", "duplicate", "already"]],
    },
    Case {
        file: "type_mismatch.ttir",
        stage: Stage::Verify,
        line_of: Some("%2 = arith.addi"),
        mentions: &[&["`arith.addi`"], &["integer"], &["tensor<1024xf32>"]],
    },
    Case {
        file: "shape_mismatch.ttir",
        stage: Stage::Verify,
        line_of: Some("tt.make_range"),
        mentions: &[&["`tt.make_range`"], &["[0, 512)"]],
    },
    Case {
        file: "unbalanced_braces.ttir",
        stage: Stage::Parse,
        line_of: None,
        mentions: &[&[
            "}",
            "brace",
            "expected",
            "end of",
            "unclosed",
            "unbalanced",
            "unterminated",
        ]],
    },
    Case {
        file: "absurd_shape.ttir",
        stage: Stage::Verify,
        line_of: Some("%big ="),
        mentions: &[&["tensor too large"]],
    },
    Case {
        file: "absurd_shape_overflow.ttir",
        stage: Stage::Parse,
        line_of: Some("%big ="),
        mentions: &[&[
            "too large",
            "overflow",
            "out of range",
            "invalid",
            "dimension",
        ]],
    },
    Case {
        file: "swapped_operands.ttir",
        stage: Stage::Either,
        line_of: Some("%x_5 = tt.addptr"),
        mentions: &[&["pointer", "ptr", "type"]],
    },
    Case {
        file: "swapped_operands_generic.ttir",
        stage: Stage::Verify,
        line_of: Some("%x_5 ="),
        mentions: &[&["`tt.addptr`"], &["pointer"], &["swapped"]],
    },
    Case {
        file: "reduce_region_arity.ttir",
        stage: Stage::Verify,
        line_of: Some("%x_6 = \"tt.reduce\""),
        mentions: &[&["`tt.reduce`"], &["2 arguments"], &["takes 3"]],
    },
    Case {
        file: "reduce_return_arity.ttir",
        stage: Stage::Verify,
        line_of: Some("tt.reduce.return %x_13, %x_13"),
        mentions: &[&["`tt.reduce.return`"], &["2 values"]],
    },
    Case {
        file: "yield_type_mismatch.ttir",
        stage: Stage::Verify,
        line_of: Some("scf.yield %cols_12"),
        mentions: &[&["`scf.yield`"], &["tensor<256xi32>"], &["tensor<256xf32>"]],
    },
    Case {
        file: "use_before_def.ttir",
        stage: Stage::Either,
        line_of: Some("%offs_0 = arith.muli %pid"),
        mentions: &[
            &["%pid"],
            &[
                "before",
                "undefined",
                "not defined",
                "dominate",
                "undeclared",
            ],
        ],
    },
    Case {
        file: "missing_return.ttir",
        stage: Stage::Verify,
        line_of: Some("tt.func public"),
        mentions: &[&["`tt.return`"], &["must end with"]],
    },
    Case {
        file: "bad_int_width.ttir",
        stage: Stage::Verify,
        line_of: Some("tt.func public"),
        mentions: &[&["`i7`"]],
    },
    Case {
        file: "non_power_of_two.ttir",
        stage: Stage::Verify,
        line_of: Some("%odd ="),
        mentions: &[&["power-of-two"], &["tensor<1000xi32>"]],
    },
    Case {
        file: "cast_direction.ttir",
        stage: Stage::Verify,
        line_of: Some("%h = arith.extf"),
        mentions: &[&["`arith.extf`"], &["wider"]],
    },
    Case {
        file: "call_undefined.ttir",
        stage: Stage::Verify,
        line_of: Some("tt.call"),
        mentions: &[&["@missing_helper"]],
    },
    Case {
        file: "bad_predicate.ttir",
        stage: Stage::Either,
        line_of: Some("arith.cmpi less"),
        mentions: &[&["less"]],
    },
    Case {
        file: "zero_width_int.ttir",
        stage: Stage::Either,
        line_of: Some("arith.constant 1024 : i0"),
        mentions: &[&["i0"]],
    },
    Case {
        file: "wrong_terminator.ttir",
        stage: Stage::Verify,
        line_of: Some("scf.yield loc"),
        mentions: &[&["`scf.yield`"]],
    },
];

/// The 1-based line of the first line containing `marker`.
fn line_of(text: &str, marker: &str) -> u32 {
    let index = text
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("marker {marker:?} not found"));
    index as u32 + 1
}

fn check_case(case: &Case) -> Result<(), String> {
    let path = malformed_dir().join(case.file);
    let text = read_lossy(&path);
    // A panic is a bug like any other wrong answer: report it with the rest.
    let outcome = std::panic::catch_unwind(|| maiac_ir::check_text(&text, case.file));
    let diagnostics: Vec<Diagnostic> = match outcome {
        Err(_) => return Err(format!("{}: check_text panicked", case.file)),
        Ok(Ok(_)) => return Err(format!("{}: accepted, but it is malformed", case.file)),
        Ok(Err(d)) => d,
    };
    let shown = render_all(&diagnostics, &text);
    let parsed = maiac_ir::parser::parse_module(&text, case.file).is_ok();
    let caught_by = if parsed { Stage::Verify } else { Stage::Parse };
    if case.stage != Stage::Either && case.stage != caught_by {
        return Err(format!(
            "{}: should be caught by {:?} but was caught by {caught_by:?}\n{shown}",
            case.file, case.stage
        ));
    }
    let first = diagnostics
        .first()
        .ok_or_else(|| format!("{}: rejected without a diagnostic", case.file))?;
    if first.file != case.file {
        return Err(format!(
            "{}: diagnostic names file {:?}\n{shown}",
            case.file, first.file
        ));
    }
    let Some(pos) = first.pos else {
        return Err(format!(
            "{}: diagnostic has no position\n{shown}",
            case.file
        ));
    };
    if let Some(marker) = case.line_of {
        let expected = line_of(&text, marker);
        if pos.line != expected {
            return Err(format!(
                "{}: points at line {}, expected {expected}\n{shown}",
                case.file, pos.line
            ));
        }
    }
    let message = first.message.to_lowercase();
    for group in case.mentions {
        if !group
            .iter()
            .any(|word| message.contains(&word.to_lowercase()))
        {
            return Err(format!(
                "{}: message should mention one of {group:?}\n{shown}",
                case.file
            ));
        }
    }
    Ok(())
}

#[test]
fn malformed_inputs_are_rejected_with_located_messages() {
    let failures: Vec<String> = CASES.iter().filter_map(|c| check_case(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every file in the malformed folder has a case, so none is silently skipped.
#[test]
fn every_malformed_file_has_a_case() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(malformed_dir())
        .expect("malformed dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ttir"))
        .collect();
    let covered: BTreeSet<String> = CASES
        .iter()
        .map(|c| c.file.to_string())
        .chain(std::iter::once("multiple_errors.ttir".to_string()))
        .collect();
    assert_eq!(on_disk, covered);
}

/// The verifier reports every problem, ordered by position, each with the
/// Python line its op came from.
#[test]
fn all_errors_are_reported_in_order_with_python_lines() {
    let file = "multiple_errors.ttir";
    let text = read_lossy(&malformed_dir().join(file));
    let diagnostics = maiac_ir::check_text(&text, file).expect_err("rejected");
    let shown = render_all(&diagnostics, &text);
    let lines: Vec<u32> = diagnostics
        .iter()
        .map(|d| d.pos.map_or(0, |p| p.line))
        .collect();
    assert_eq!(
        lines,
        vec![
            line_of(&text, "tt.make_range"),
            line_of(&text, "arith.cmpf"),
            line_of(&text, "arith.addi %x_6")
        ],
        "{shown}"
    );
    assert!(diagnostics[1].message.contains("`arith.cmpf`"), "{shown}");
    // `%2 = arith.addi ... loc(#loc10)` with `#loc10 = loc("kernels.py":31:30)`.
    let python = diagnostics[2].python.as_ref().map(ToString::to_string);
    assert_eq!(python.as_deref(), Some("kernels.py:31:30"), "{shown}");
    let rendered = diagnostics[2].render(Some(&text));
    assert!(
        rendered.contains(&format!("--> {file}:{}:", lines[2])),
        "{rendered}"
    );
    assert!(rendered.contains("python: kernels.py:31:30"), "{rendered}");
}
