//! Assignment cost: hash, bucket and arm for one unit ID. Target: under 200 ns.

use criterion::{Criterion, black_box, criterion_group, criterion_main};

use canary_router::assign::{OverrideHits, Split, assign, bucket};

fn bench(c: &mut Criterion) {
    let split = Split::from_weights(&[9000, 1000]);
    c.bench_function("assign/hash+bucket+arm", |b| {
        b.iter(|| {
            assign(
                black_box("imgclf-lr-1"),
                black_box("f3b1c2d4e5a6978812345678abcdef01"),
                &split,
                OverrideHits::default(),
            )
        })
    });
    c.bench_function("assign/bucket_only", |b| {
        b.iter(|| bucket(black_box("imgclf-lr-1"), black_box("user-42")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
