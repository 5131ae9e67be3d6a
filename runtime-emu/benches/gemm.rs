//! Emulated GEMM throughput versus a plain f32 matmul (`matrixmultiply`
//! sgemm) of the same 256×256×256 shape. The ratio goes in
//! docs/performance.md under "Emulator".

use maiac_backend::asm::assemble;
use maiac_backend::machine::builtin;
use maiac_runtime_emu::emu::{run_raw, RunOptions};
use maiac_runtime_emu::launch::buffer_base;

fn main() {
    divan::main();
}

const N: usize = 256;

fn gemm_module() -> (maiac_backend::isa::Module, maiac_backend::machine::Machine) {
    let machine = builtin("tiny").expect("tiny machine");
    let text = r#".kernel "gemm"
.machine "tiny"
.arg "a" ptr bf16
.arg "b" ptr bf16
.arg "c" ptr f32
.dispatch round_robin tiles=0
.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    rdspec r5, %pid.x
    rdspec r6, %pid.y
    mul r7, r6, 65536
    add r1, r1, r7
    mul r8, r5, 256
    add r2, r2, r8
    mul r9, r6, 131072
    mul r10, r5, 512
    add r3, r3, r9
    add r3, r3, r10
    dma.copy bf16 src=hbm[r1] dst=tsram[0] dims=[(128 256 256), (256 1 1)] signal=t0
    dma.copy bf16 src=hbm[r2] dst=tsram[65536] dims=[(256 256 128), (128 1 1)] signal=t0
    ttu.matmul m=128 n=128 k=256 a=(bf16 tsram[0] 256) b=(bf16 tsram[65536] 128) out=(f32 acc[0] 128) accumulate=0 wait=[t0>=2]
    ttu.drain src=(f32 acc[0] [128,128] [128,1]) dst=(f32 tsram[131072] [128,128] [128,1]) signal=t1
    dma.copy f32 src=tsram[131072] dst=hbm[r3] dims=[(128 128 256), (128 1 1)] wait=[t1>=1]
    halt
"#;
    let mut module = assemble(text).expect("gemm assembles");
    module.machine = machine.reference();
    (module, machine)
}

/// The emulator running the whole 256³ bf16 GEMM launch (4 tiles).
#[divan::bench]
fn emulated_gemm_bf16_256(bencher: divan::Bencher) {
    let (module, machine) = gemm_module();
    let a = vec![0x3f80u16; N * N]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>();
    let args = [buffer_base(0), buffer_base(1), buffer_base(2)];
    let opts = RunOptions {
        detect_races: false,
        ..RunOptions::default()
    };
    bencher.bench(|| {
        let buffers = vec![a.clone(), a.clone(), vec![0u8; 4 * N * N]];
        run_raw(&module, &machine, [2, 2, 1], &args, buffers, &opts).expect("gemm runs")
    });
}

/// `matrixmultiply::sgemm` of the same shape.
#[divan::bench]
fn sgemm_256(bencher: divan::Bencher) {
    let a = vec![1.0f32; N * N];
    let b = vec![1.0f32; N * N];
    let mut c = vec![0.0f32; N * N];
    bencher.bench_local(|| {
        sgemm(&a, &b, &mut c);
        divan::black_box(&c);
    });
}

/// The baseline; `matrixmultiply` only offers an unsafe raw-pointer API.
fn sgemm(a: &[f32], b: &[f32], c: &mut [f32]) {
    let n = N as isize;
    #[allow(unsafe_code)]
    // SAFETY: a, b and c are N×N row-major slices matching the strides.
    unsafe {
        matrixmultiply::sgemm(
            N,
            N,
            N,
            1.0,
            a.as_ptr(),
            n,
            1,
            b.as_ptr(),
            n,
            1,
            0.0,
            c.as_mut_ptr(),
            n,
            1,
        );
    }
}
