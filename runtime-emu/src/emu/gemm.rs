//! The TTU's float matmul kernel: `C[m×n] += A[m×k] · B[k×n]` over f32 in
//! the documented order — each output starts from its accumulator value
//! and adds its products `a[i][kk] · b[kk][j]` one at a time for `kk`
//! ascending, every product and every partial sum rounded to f32 (no fused
//! multiply-add).
//!
//! Only the order of work *between* outputs is free, so the kernel is a
//! register-blocked one: A is packed into panels of [`MR`] rows (k-major),
//! B is read in place as column strips of [`NR`] (padded into a copy only
//! when `n` is not a multiple of `NR`), and each `MR × NR` block of C is
//! held in registers while `kk` runs over the whole of K. Blocks are
//! independent, so splitting row panels over threads keeps the bits.
//! Where the CPU has AVX (detected at run time) the same code is compiled
//! with 8-wide vectors; IEEE multiplication and addition round the same at
//! every vector width, so both paths give identical bits.

use std::borrow::Cow;

use rayon::prelude::*;

/// Columns per B panel (and per register block).
const NR: usize = 16;
/// Rows per A panel (and per register block).
const MR: usize = 6;

/// Adds `a · b` to `c` (all row-major: `a` is `m×k`, `b` is `k×n`, `c` is
/// `m×n`), splitting rows over threads when `parallel`.
pub fn matmul_f32(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    (m, n, k): (usize, usize, usize),
    parallel: bool,
) {
    assert_eq!(a.len(), m * k, "A is not m×k");
    assert_eq!(b.len(), k * n, "B is not k×n");
    assert_eq!(c.len(), m * n, "C is not m×n");
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // B with a row length (`ldb`) that is a multiple of NR.
    let (b, ldb) = if n.is_multiple_of(NR) {
        (Cow::Borrowed(b), n)
    } else {
        (Cow::Owned(pad_columns(b, k, n)), n.next_multiple_of(NR))
    };
    let simd = Simd::detect();
    let job = |(p, rows): (usize, &mut [f32])| {
        let a_panel = pack_a(&a[p * MR * k..], rows.len() / n, k);
        match simd {
            Some(avx) => row_panel_avx(avx, &a_panel, &b, ldb, rows, n),
            None => row_panel(&a_panel, &b, ldb, rows, n),
        }
    };
    if parallel {
        c.par_chunks_mut(MR * n).enumerate().for_each(job);
    } else {
        c.chunks_mut(MR * n).enumerate().for_each(job);
    }
}

/// `b` (`k × n`) with zero columns appended up to a multiple of [`NR`].
fn pad_columns(b: &[f32], k: usize, n: usize) -> Vec<f32> {
    let ldb = n.next_multiple_of(NR);
    let mut out = vec![0f32; k * ldb];
    for (dst, src) in out.chunks_exact_mut(ldb).zip(b.chunks_exact(n)) {
        dst[..n].copy_from_slice(src);
    }
    out
}

/// The first `rows` (≤ [`MR`]) rows of `a` as one `k × MR` k-major panel
/// (`[kk][row]`), padded with zero rows.
fn pack_a(a: &[f32], rows: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; k * MR];
    for r in 0..rows {
        for (kk, &v) in a[r * k..(r + 1) * k].iter().enumerate() {
            out[kk * MR + r] = v;
        }
    }
    out
}

/// One row panel of C (`rows.len() / n` ≤ [`MR`] rows): every `MR × NR`
/// block through [`block`]. Inlined into each instruction-set variant.
#[inline(always)]
fn row_panel(a_panel: &[f32], b: &[f32], ldb: usize, rows: &mut [f32], n: usize) {
    let height = rows.len() / n;
    for j0 in (0..n).step_by(NR) {
        let w = NR.min(n - j0);
        let mut acc = [[0f32; NR]; MR];
        for (r, acc_row) in acc.iter_mut().enumerate().take(height) {
            acc_row[..w].copy_from_slice(&rows[r * n + j0..r * n + j0 + w]);
        }
        block(a_panel, &b[j0..], ldb, &mut acc);
        for (r, acc_row) in acc.iter().enumerate().take(height) {
            rows[r * n + j0..r * n + j0 + w].copy_from_slice(&acc_row[..w]);
        }
    }
}

/// The register block: for `kk` ascending, `acc[r][c] += a[kk][r] ·
/// b[kk·ldb + c]` (a rounded product, then a rounded sum).
#[inline(always)]
fn block(a_panel: &[f32], b: &[f32], ldb: usize, acc: &mut [[f32; NR]; MR]) {
    let mut t = *acc;
    for (kk, ak) in a_panel.chunks_exact(MR).enumerate() {
        let bk: &[f32; NR] = b[kk * ldb..kk * ldb + NR]
            .try_into()
            .expect("a strip of NR columns");
        for (row, &av) in t.iter_mut().zip(ak) {
            for (x, &bv) in row.iter_mut().zip(bk) {
                *x += av * bv;
            }
        }
    }
    *acc = t;
}

/// Proof that the running CPU has AVX: only [`Simd::detect`] makes one.
#[derive(Copy, Clone)]
struct Simd(());

impl Simd {
    fn detect() -> Option<Simd> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            return Some(Simd(()));
        }
        None
    }
}

/// [`row_panel`] compiled with AVX.
fn row_panel_avx(_avx: Simd, a_panel: &[f32], b: &[f32], ldb: usize, rows: &mut [f32], n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn with_avx(a_panel: &[f32], b: &[f32], ldb: usize, rows: &mut [f32], n: usize) {
            row_panel(a_panel, b, ldb, rows, n);
        }
        // SAFETY: a `Simd` exists only when AVX was detected on this CPU,
        // which is all that calling an `avx` function requires.
        #[allow(unsafe_code)]
        unsafe {
            with_avx(a_panel, b, ldb, rows, n)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    row_panel(a_panel, b, ldb, rows, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented order, written out plainly.
    fn reference(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        for i in 0..m {
            for j in 0..n {
                let mut x = c[i * n + j];
                for kk in 0..k {
                    x += a[i * k + kk] * b[kk * n + j];
                }
                c[i * n + j] = x;
            }
        }
    }

    /// Values whose sums round differently in different orders.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let h = (i ^ seed).wrapping_mul(0x9E37_79B9).rotate_left(13);
                let mag = (h % 2000) as f32 / 7.0 - 140.0;
                mag * 2f32.powi((h >> 20) as i32 % 24 - 12)
            })
            .collect()
    }

    #[test]
    fn blocked_kernel_keeps_every_bit_of_the_plain_order() {
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (4, 16, 33), (9, 37, 64), (17, 130, 5)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let c0 = values(m * n, 3);
            let mut want = c0.clone();
            reference(&a, &b, &mut want, m, n, k);
            for parallel in [false, true] {
                let mut got = c0.clone();
                matmul_f32(&a, &b, &mut got, (m, n, k), parallel);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{m}×{n}×{k}");
            }
        }
    }
}
