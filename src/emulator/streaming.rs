//! InvokeEndpointWithResponseStream's body: the answer as payload-part frames as the model
//! produces them (a `tokens` model one event at a time, any other model its whole answer in one
//! part), with the variant's mid-stream fault, until the client stops reading.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{Semaphore, mpsc};

use super::eventstream::{Damage, Frame, encode};
use super::models::{StreamFault, StreamFaultKind};
use super::tokens::TokenModel;

/// What a stream sends.
pub(crate) enum Source {
    /// A model's whole answer, as one part.
    Whole(Bytes),
    /// A `tokens` model's events; `gate` holds it at `hold_after` until a test opens it.
    Tokens {
        model: TokenModel,
        gate: Arc<Semaphore>,
    },
    /// A container's streamed answer, one part per chunk as it arrives.
    Container(Incoming),
}

/// Sends the frames of `source` into `tx`; stops early when the receiver is gone (the client
/// hung up) or the fault ends the stream.
pub(crate) async fn pump(source: Source, fault: Option<StreamFault>, tx: mpsc::Sender<Bytes>) {
    let mut sent = 0u32;
    match source {
        Source::Whole(body) => {
            let _ = send(&tx, body, fault, &mut sent).await;
        }
        Source::Tokens { model, gate } => {
            for i in 0..model.tokens {
                if model.hold_after == Some(i) {
                    match gate.acquire().await {
                        Ok(permit) => permit.forget(),
                        Err(_) => return,
                    }
                }
                if model.delay_ms > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(model.delay_ms / 1000.0)).await;
                }
                if send(&tx, model.event(i), fault, &mut sent).await.is_err() {
                    return;
                }
            }
        }
        Source::Container(mut body) => loop {
            match body.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if !data.is_empty() && send(&tx, data, fault, &mut sent).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    // The container broke off: SageMaker reports a ModelStreamError.
                    let frame = Frame::ModelStreamError {
                        message: format!("the container's stream broke off: {e}"),
                        error_code: "ModelStreamError".into(),
                    };
                    let _ = tx.send(encode(&frame, Damage::None)).await;
                    return;
                }
            }
        },
    }
    // A fault set after the last part still happens, at the end.
    if let Some(f) = fault
        && f.after_parts >= sent
    {
        let _ = tx
            .send(fault_frame(f.kind, Bytes::from_static(b"late")))
            .await;
    }
}

/// Sends one part, or the fault in its place when its turn has come; `Err` when the stream
/// is over (the fault ended it or nobody reads it).
async fn send(
    tx: &mpsc::Sender<Bytes>,
    part: Bytes,
    fault: Option<StreamFault>,
    sent: &mut u32,
) -> Result<(), ()> {
    if let Some(f) = fault
        && f.after_parts == *sent
    {
        let _ = tx.send(fault_frame(f.kind, part)).await;
        // Past the fault's turn, so the end-of-stream check does not fire it again.
        *sent = sent.saturating_add(1).max(f.after_parts.saturating_add(1));
        return Err(());
    }
    tx.send(encode(&Frame::Part(part), Damage::None))
        .await
        .map_err(|_| ())?;
    *sent = sent.saturating_add(1);
    Ok(())
}

fn fault_frame(kind: StreamFaultKind, part: Bytes) -> Bytes {
    match kind {
        StreamFaultKind::ModelStreamError => encode(
            &Frame::ModelStreamError {
                message: "Model stream error: fault injected mid-stream".into(),
                error_code: "500".into(),
            },
            Damage::None,
        ),
        StreamFaultKind::InternalStreamFailure => encode(
            &Frame::InternalStreamFailure("Internal stream failure: fault injected".into()),
            Damage::None,
        ),
        StreamFaultKind::Truncate => encode(&Frame::Part(part), Damage::CutShort),
        StreamFaultKind::BadCrc => encode(&Frame::Part(part), Damage::BadCrc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::tokens::TokenFormat;
    use aws_smithy_eventstream::frame::read_message_from;

    fn model(tokens: u32) -> TokenModel {
        TokenModel {
            format: TokenFormat::Tgi,
            tokens,
            delay_ms: 0.0,
            token_bytes: 0,
            hold_after: None,
        }
    }

    async fn frames(source: Source, fault: Option<StreamFault>) -> Vec<Bytes> {
        let (tx, mut rx) = mpsc::channel(64);
        pump(source, fault, tx).await;
        let mut out = Vec::new();
        while let Some(f) = rx.recv().await {
            out.push(f);
        }
        out
    }

    fn tokens(m: &TokenModel) -> Source {
        Source::Tokens {
            model: m.clone(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    #[tokio::test]
    async fn parts_carry_the_events_in_order() {
        let m = model(4);
        let got: Vec<u8> = frames(tokens(&m), None)
            .await
            .iter()
            .flat_map(|f| read_message_from(&f[..]).unwrap().payload().to_vec())
            .collect();
        assert_eq!(got, m.stream_bytes());
    }

    #[tokio::test]
    async fn a_fault_replaces_its_part_and_ends_the_stream() {
        let m = model(5);
        let fault = |kind| {
            Some(StreamFault {
                after_parts: 2,
                kind,
            })
        };
        let f = frames(tokens(&m), fault(StreamFaultKind::ModelStreamError)).await;
        assert_eq!(f.len(), 3);
        let last = read_message_from(&f[2][..]).unwrap();
        assert!(
            last.headers()
                .iter()
                .any(|h| h.name().as_str() == ":exception-type")
        );
        for kind in [StreamFaultKind::Truncate, StreamFaultKind::BadCrc] {
            let f = frames(tokens(&m), fault(kind)).await;
            assert_eq!(f.len(), 3);
            assert!(read_message_from(&f[2][..]).is_err());
        }
        // Set past the end: it comes after the last part.
        let late = Some(StreamFault {
            after_parts: 9,
            kind: StreamFaultKind::InternalStreamFailure,
        });
        assert_eq!(frames(tokens(&m), late).await.len(), 6);
        assert_eq!(
            frames(Source::Whole(Bytes::from_static(b"{}")), None)
                .await
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_held_stream_waits_for_its_gate() {
        let mut m = model(3);
        m.hold_after = Some(1);
        let gate = Arc::new(Semaphore::new(0));
        let (tx, mut rx) = mpsc::channel(64);
        let task = tokio::spawn(pump(
            Source::Tokens {
                model: m,
                gate: Arc::clone(&gate),
            },
            None,
            tx,
        ));
        assert!(rx.recv().await.is_some());
        tokio::task::yield_now().await;
        assert!(rx.try_recv().is_err(), "held after the first token");
        gate.add_permits(1);
        assert!(rx.recv().await.is_some());
        assert!(rx.recv().await.is_some());
        task.await.unwrap();
    }
}
