//! Flat geometry for legacy coordinate pairs (`$box`, `$polygon`,
//! `$center`, `$near` on a `2d` index): points on a boundary are inside,
//! as in MongoDB.

/// A point in the plane.
pub type P2 = (f64, f64);

/// Whether `p` lies on the segment from `a` to `b`.
pub fn on_segment(p: P2, a: P2, b: P2) -> bool {
    let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    let scale = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1e-300);
    if cross.abs() > 1e-12 * scale * scale.max(1.0) {
        return false;
    }
    let eps = 1e-12 * scale.max(1.0);
    p.0 >= a.0.min(b.0) - eps
        && p.0 <= a.0.max(b.0) + eps
        && p.1 >= a.1.min(b.1) - eps
        && p.1 <= a.1.max(b.1) + eps
}

/// Whether `p` is inside the polygon `ring` (no closing repeat needed); a
/// point on an edge counts as inside when `boundary` is true.
pub fn in_ring(p: P2, ring: &[P2], boundary: bool) -> bool {
    let n = ring.len();
    if n == 0 {
        return false;
    }
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        if on_segment(p, a, b) {
            return boundary;
        }
        if (a.1 > p.1) != (b.1 > p.1) {
            let x = a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1);
            if p.0 < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// The Euclidean distance between two points.
pub fn distance(a: P2, b: P2) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_in_a_concave_polygon() {
        // An L shape.
        let l = [(0.0, 0.0), (4.0, 0.0), (4.0, 1.0), (1.0, 1.0), (1.0, 4.0), (0.0, 4.0)];
        assert!(in_ring((0.5, 3.0), &l, true));
        assert!(in_ring((3.0, 0.5), &l, true));
        assert!(!in_ring((3.0, 3.0), &l, true));
        assert!(in_ring((4.0, 0.5), &l, true), "on an edge");
        assert!(!in_ring((4.0, 0.5), &l, false));
        assert!(!in_ring((5.0, 0.5), &l, true));
    }
}
