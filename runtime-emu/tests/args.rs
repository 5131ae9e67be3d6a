//! `arg` passes integer scalars sign-extended from their declared width
//! (docs/isa.md), whatever raw bits the launch carries.

mod common;

use common::*;
use maiac_runtime_emu::emu::RunOptions;

#[test]
fn narrow_integer_arguments_arrive_sign_extended() {
    let text = r#".kernel "arg_width"
.machine "tiny"
.arg "out" ptr i64
.arg "v" scalar i8
.dispatch round_robin tiles=1
.tile
    arg r1, 0
    arg r2, 1
    st.w8 r2, tsram[0]
    dma.copy i64 src=tsram[0] dst=hbm[r1] dims=[(1 1 1)] signal=t0
    halt
"#;
    let m = machine("tiny");
    let module = module_for(text, &m);
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![Arg::Buffer(vec![0u8; 8]), Arg::Scalar(0xFF)],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.buffers[0], (-1i64).to_le_bytes());
}
