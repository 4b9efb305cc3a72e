//! Spherical geometry on unit vectors: great-circle distances, arcs
//! (edges are the shorter great-circle arc between their ends), and rings
//! (the region a ring bounds is the smaller of the two, as MongoDB reads
//! GeoJSON polygons).
//!
//! A ring is tested through the gnomonic projection centred inside it,
//! which maps great circles to straight lines: a point is in the ring when
//! its projection is in the projected (planar) polygon. That works for any
//! ring that fits in an open hemisphere, including rings across the
//! antimeridian or around a pole.

use super::planar::{self, P2};

/// A point on the unit sphere.
pub type V3 = [f64; 3];

/// Tolerance for "on the line" tests, in radians (about 0.6 mm on Earth).
const ON_EPS: f64 = 1e-10;

/// The unit vector of a longitude/latitude in degrees.
pub fn from_lng_lat(lng: f64, lat: f64) -> V3 {
    let (lng, lat) = (lng.to_radians(), lat.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

pub fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn normalize(a: V3) -> Option<V3> {
    let n = norm(a);
    (n > 1e-15).then(|| scale(a, 1.0 / n))
}

/// The great-circle angle between two unit vectors, in radians.
pub fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// Whether `p`, on the great circle through `a` and `b` (with unit normal
/// `n`), lies on the shorter arc from `a` to `b`.
fn between(p: V3, a: V3, b: V3, n: V3) -> bool {
    dot(cross(a, p), n) >= -1e-15 && dot(cross(p, b), n) >= -1e-15 && dot(p, add(a, b)) > 0.0
}

/// Whether `p` lies on the arc from `a` to `b`.
pub fn on_arc(p: V3, a: V3, b: V3) -> bool {
    let Some(n) = normalize(cross(a, b)) else {
        return angle(p, a) <= ON_EPS;
    };
    if dot(n, p).abs() > ON_EPS {
        return false;
    }
    if angle(p, a) <= ON_EPS || angle(p, b) <= ON_EPS {
        return true;
    }
    between(p, a, b, n)
}

fn sign(x: f64) -> i8 {
    if x > 1e-15 {
        1
    } else if x < -1e-15 {
        -1
    } else {
        0
    }
}

/// Whether two arcs meet (cross or touch).
pub fn arcs_intersect(a: V3, b: V3, c: V3, d: V3) -> bool {
    // The arcs cross properly when the four orientations agree (this also
    // rules out the antipodal intersection of the two great circles).
    let acb = -sign(dot(cross(a, b), c));
    let bda = sign(dot(cross(a, b), d));
    let cbd = -sign(dot(cross(c, d), b));
    let dac = sign(dot(cross(c, d), a));
    if acb != 0 && acb == bda && bda == cbd && cbd == dac {
        return true;
    }
    on_arc(a, c, d) || on_arc(b, c, d) || on_arc(c, a, b) || on_arc(d, a, b)
}

/// Whether two arcs cross at a point inside both (not at an end).
pub fn arcs_cross_properly(a: V3, b: V3, c: V3, d: V3) -> bool {
    let acb = -sign(dot(cross(a, b), c));
    let bda = sign(dot(cross(a, b), d));
    let cbd = -sign(dot(cross(c, d), b));
    let dac = sign(dot(cross(c, d), a));
    acb != 0 && acb == bda && bda == cbd && cbd == dac
}

/// The angle from `p` to the nearest point of the arc from `a` to `b`.
pub fn distance_to_arc(p: V3, a: V3, b: V3) -> f64 {
    let ends = angle(p, a).min(angle(p, b));
    let Some(n) = normalize(cross(a, b)) else { return ends };
    // The point of the great circle nearest to p.
    let Some(q) = normalize(sub(p, scale(n, dot(p, n)))) else { return ends };
    if between(q, a, b, n) {
        dot(p, n).abs().min(1.0).asin().min(ends)
    } else {
        ends
    }
}

/// A closed ring of a polygon, ready for containment tests.
#[derive(Clone, Debug)]
pub struct Ring {
    /// The vertices, without the closing repeat of the first.
    pub verts: Vec<V3>,
    center: V3,
    e1: V3,
    e2: V3,
    projected: Vec<P2>,
}

impl Ring {
    /// A ring (at least three vertices, no closing repeat); `None` when it
    /// does not fit in a hemisphere (MongoDB's polygons bound the smaller
    /// region, which then is ambiguous to compute here).
    pub fn new(verts: Vec<V3>) -> Option<Ring> {
        let mut candidates = Vec::new();
        if let Some(c) = normalize(verts.iter().fold([0.0; 3], |s, v| add(s, *v))) {
            candidates.push(c);
        }
        // The centre of the boundary weighted by edge length.
        let mut s = [0.0; 3];
        for (i, a) in verts.iter().enumerate() {
            let b = verts[(i + 1) % verts.len()];
            if let Some(m) = normalize(add(*a, b)) {
                s = add(s, scale(m, angle(*a, b)));
            }
        }
        if let Some(c) = normalize(s) {
            candidates.push(c);
        }
        let center = candidates.into_iter().find(|c| verts.iter().all(|v| dot(*v, *c) > 1e-9))?;
        // A basis of the tangent plane at the centre.
        let helper = if center[0].abs() < 0.9 { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
        let e1 = normalize(cross(center, helper))?;
        let e2 = cross(center, e1);
        let mut ring = Ring { verts, center, e1, e2, projected: Vec::new() };
        ring.projected = ring.verts.iter().map(|v| ring.project(*v)).collect();
        Some(ring)
    }

    fn project(&self, p: V3) -> P2 {
        let d = dot(p, self.center);
        (dot(p, self.e1) / d, dot(p, self.e2) / d)
    }

    /// Whether `p` is inside the ring; a point on the ring counts as
    /// inside when `boundary` is true.
    pub fn contains(&self, p: V3, boundary: bool) -> bool {
        if dot(p, self.center) <= 1e-12 {
            return false;
        }
        if self.on_boundary(p) {
            return boundary;
        }
        planar::in_ring(self.project(p), &self.projected, boundary)
    }

    /// Whether `p` lies on one of the ring's edges.
    pub fn on_boundary(&self, p: V3) -> bool {
        self.edges().any(|(a, b)| on_arc(p, a, b))
    }

    /// The edges, closing back to the first vertex.
    pub fn edges(&self) -> impl Iterator<Item = (V3, V3)> + '_ {
        let n = self.verts.len();
        (0..n).map(move |i| (self.verts[i], self.verts[(i + 1) % n]))
    }

    /// Two non-adjacent edges that cross, if any (a ring must not).
    pub fn self_crossing(&self) -> Option<(usize, usize)> {
        let n = self.verts.len();
        if n > 2000 {
            return None; // too costly to check; accepted as is
        }
        for i in 0..n {
            for j in i + 2..n {
                if i == 0 && j == n - 1 {
                    continue; // adjacent through the closing edge
                }
                let (a, b) = (self.verts[i], self.verts[(i + 1) % n]);
                let (c, d) = (self.verts[j], self.verts[(j + 1) % n]);
                if arcs_intersect(a, b, c, d) {
                    return Some((i, j));
                }
            }
        }
        None
    }
}

/// A polygon: an outer ring and holes.
#[derive(Clone, Debug)]
pub struct SpherePolygon {
    pub rings: Vec<Ring>,
}

impl SpherePolygon {
    /// Whether `p` is in the polygon (its boundary included, a hole's
    /// inside excluded).
    pub fn contains(&self, p: V3) -> bool {
        let Some((outer, holes)) = self.rings.split_first() else { return false };
        outer.contains(p, true) && !holes.iter().any(|h| h.contains(p, false))
    }

    /// The angle from `p` to the polygon (0 inside).
    pub fn distance(&self, p: V3) -> f64 {
        if self.contains(p) {
            return 0.0;
        }
        self.edges().map(|(a, b)| distance_to_arc(p, a, b)).fold(f64::INFINITY, f64::min)
    }

    /// The edges of all rings.
    pub fn edges(&self) -> impl Iterator<Item = (V3, V3)> + '_ {
        self.rings.iter().flat_map(Ring::edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arcs_meet_only_on_the_near_side() {
        let a = from_lng_lat(0.0, 0.0);
        let b = from_lng_lat(90.0, 0.0);
        assert!(arcs_intersect(a, b, from_lng_lat(45.0, 10.0), from_lng_lat(45.0, -10.0)));
        // The same meridian on the far side of the globe.
        assert!(!arcs_intersect(a, b, from_lng_lat(-135.0, 10.0), from_lng_lat(-135.0, -10.0)));
        // Touching at an end.
        assert!(arcs_intersect(a, b, b, from_lng_lat(90.0, 10.0)));
        assert!(!arcs_cross_properly(a, b, b, from_lng_lat(90.0, 10.0)));
    }

    #[test]
    fn distance_to_an_arc_uses_the_perpendicular_inside_the_arc() {
        let a = from_lng_lat(0.0, 0.0);
        let b = from_lng_lat(10.0, 0.0);
        let d = distance_to_arc(from_lng_lat(5.0, 3.0), a, b);
        assert!((d.to_degrees() - 3.0).abs() < 1e-9, "{}", d.to_degrees());
        let d = distance_to_arc(from_lng_lat(12.0, 0.0), a, b);
        assert!((d.to_degrees() - 2.0).abs() < 1e-9);
    }
}
