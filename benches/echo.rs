//! The emulator's `echo` model over loopback, one keep-alive connection and a raw HTTP/1.1
//! client, so the figure is the emulator's own. Target: p50 well under 100 µs, so that the
//! emulator is never the bottleneck of a router benchmark.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use canary_router::emulator::{self, Emulator};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, mut stream) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let emu = Arc::new(Emulator::new(emulator::demo_models()).expect("demo models"));
        tokio::spawn(emulator::run(emu, listener, std::future::pending()));
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        (addr, s)
    });
    let body = r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#;
    let req = format!(
        "POST /endpoints/echo/invocations HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut buf = vec![0u8; 4096];
    c.bench_function("emulator/echo_roundtrip_loopback", |b| {
        b.iter(|| {
            rt.block_on(async {
                stream.write_all(req.as_bytes()).await.expect("write");
                let mut got = 0;
                loop {
                    got += stream.read(&mut buf[got..]).await.expect("read");
                    let text = &buf[..got];
                    if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n")
                        && got >= end + 4 + body.len()
                    {
                        break;
                    }
                }
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
