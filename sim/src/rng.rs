//! A tiny deterministic RNG (SplitMix64), shared by both simulators. No `rand` crate: the simulated
//! estate and tenant must be byte-for-byte reproducible from their seed on every platform and every
//! build (and the tenant's people share the estate's domain SID for the same seed).

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state word, passes BigCrush, and any seed —
/// including 0 — is fine.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent stream for a sub-part (machine, day, …) of the generation, so parts do not
    /// shift each other when one of them changes.
    pub(crate) fn derive(seed: u64, a: u64, b: u64) -> Self {
        let mut r = Rng::new(seed ^ a.wrapping_mul(0xA076_1D64_78BD_642F));
        let x = r.next_u64() ^ b.wrapping_mul(0xE703_7ED1_A0B4_28DB);
        Rng::new(x)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`), without modulo bias worth mentioning (Lemire's multiply).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }

    /// Uniform in `lo..hi` for signed tick arithmetic.
    pub(crate) fn range_i(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi.abs_diff(lo)) as i64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// A lowercase GUID in braces, as Windows renders `LogonGuid`.
    pub(crate) fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{{{:08x}-{:04x}-{:04x}-{:04x}-{:012x}}}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// A lowercase version-4 UUID without braces, as Microsoft Graph prints ids.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// A logon id as Windows prints it (`0x` + lowercase hex, no padding).
    pub(crate) fn logon_id(&mut self) -> String {
        format!("0x{:x}", self.range(0x10_0000, 0x4000_0000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_bounds_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.range(10, 20);
            assert!((10..20).contains(&x));
            b.range(10, 20);
        }
        assert_eq!(Rng::new(1).range(5, 5), 5);
        assert_ne!(
            Rng::derive(1, 2, 3).next_u64(),
            Rng::derive(1, 3, 2).next_u64()
        );
    }
}
