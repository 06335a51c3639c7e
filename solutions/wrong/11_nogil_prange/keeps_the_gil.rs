// Wrong: a parallel loop, but run while holding the GIL (no `with nogil:`).
// Fails: share of the loop holding the GIL

fn nogil_sum(_py: &mut GilGuard<'_>, n: u64) -> u64 {
    use rayon::prelude::*;

    (0..n).into_par_iter().map(term).sum()
}
