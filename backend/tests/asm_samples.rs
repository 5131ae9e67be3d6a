//! The hand-written assembly programs under `backend/asm/`: they assemble,
//! pass the machine checks, and survive disassembly, reassembly, encoding
//! and decoding unchanged. Their disassembly is snapshotted.

use maiac_backend::asm::{assemble, disassemble};
use maiac_backend::binary::{decode, encode};
use maiac_backend::machine::builtin;

const SAMPLES: [(&str, &str); 3] = [
    ("vec_add", include_str!("../asm/vec_add.s")),
    ("softmax_rows", include_str!("../asm/softmax_rows.s")),
    ("gemm_mxfp4", include_str!("../asm/gemm_mxfp4.s")),
];

#[test]
fn samples_round_trip_through_text_and_binary() {
    let tiny = builtin("tiny").unwrap();
    for (name, text) in SAMPLES {
        let module = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        tiny.check_module(&module)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        tiny.check_compatible(&module).unwrap();
        let text2 = disassemble(&module);
        let module2 =
            assemble(&text2).unwrap_or_else(|e| panic!("{name} reassembly: {e}\n{text2}"));
        assert_eq!(module2, module, "{name}: text round trip");
        let bytes = encode(&module).unwrap();
        assert_eq!(encode(&module2).unwrap(), bytes, "{name}: binaries differ");
        assert_eq!(decode(&bytes).unwrap(), module, "{name}: binary round trip");
        assert_eq!(disassemble(&decode(&bytes).unwrap()), text2);
    }
}

#[test]
fn disassembly_snapshots() {
    for (name, text) in SAMPLES.iter().take(2) {
        let module = assemble(text).unwrap();
        insta::assert_snapshot!(*name, disassemble(&module));
    }
}
