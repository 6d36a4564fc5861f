//! `application/vnd.amazon.eventstream` frames of InvokeEndpointWithResponseStream, written
//! with the SDK's own crate (prelude, headers, both CRCs): `PayloadPart` events and the
//! `ModelStreamError` and `InternalStreamFailure` exceptions, plus the broken frames the
//! emulator injects on purpose (cut short, bad CRC).

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use serde_json::json;

/// The HTTP content type of an event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// One thing a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Answer bytes.
    Part(Bytes),
    /// The model failed mid-stream (`ModelStreamError`, with its error code).
    ModelStreamError {
        /// The message.
        message: String,
        /// The container's error code.
        error_code: String,
    },
    /// SageMaker failed mid-stream (`InternalStreamFailure`).
    InternalStreamFailure(String),
}

/// What can be written on the wire: a frame as SageMaker writes it, or a broken one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// As SageMaker writes it.
    None,
    /// The first half only: the connection ends inside the frame.
    CutShort,
    /// The message CRC is wrong.
    BadCrc,
}

fn header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

/// The frame as bytes on the wire.
pub fn encode(frame: &Frame, damage: Damage) -> Bytes {
    let message = match frame {
        // The Rust SDK refuses a PayloadPart whose :content-type is anything else.
        Frame::Part(bytes) => Message::new(bytes.clone())
            .add_header(header(":message-type", "event"))
            .add_header(header(":event-type", "PayloadPart"))
            .add_header(header(":content-type", "application/octet-stream")),
        Frame::ModelStreamError {
            message,
            error_code,
        } => exception(
            "ModelStreamError",
            json!({"Message": message, "ErrorCode": error_code}),
        ),
        Frame::InternalStreamFailure(message) => {
            exception("InternalStreamFailure", json!({"Message": message}))
        }
    };
    let mut out = BytesMut::new();
    // Writing fails only for headers or payloads past the format's limits (16 MB), which the
    // emulator's own frames never reach; an empty frame then stands for it.
    if write_message_to(&message, &mut out).is_err() {
        return Bytes::new();
    }
    match damage {
        Damage::None => {}
        Damage::CutShort => out.truncate(out.len() / 2),
        Damage::BadCrc => {
            if let Some(last) = out.last_mut() {
                *last ^= 0xff;
            }
        }
    }
    out.freeze()
}

fn exception(kind: &'static str, body: serde_json::Value) -> Message {
    Message::new(Bytes::from(body.to_string()))
        .add_header(header(":message-type", "exception"))
        .add_header(header(":exception-type", kind))
        .add_header(header(":content-type", "application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn string(m: &Message, name: &str) -> String {
        m.headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn frames_read_back_with_the_sdk_decoder() {
        let part = encode(
            &Frame::Part(Bytes::from_static(b"data: hi\n\n")),
            Damage::None,
        );
        let m = read_message_from(&part[..]).unwrap();
        assert_eq!(&m.payload()[..], b"data: hi\n\n");
        assert_eq!(string(&m, ":event-type"), "PayloadPart");
        assert_eq!(string(&m, ":content-type"), "application/octet-stream");
        let err = encode(
            &Frame::ModelStreamError {
                message: "boom".into(),
                error_code: "500".into(),
            },
            Damage::None,
        );
        let m = read_message_from(&err[..]).unwrap();
        assert_eq!(string(&m, ":message-type"), "exception");
        assert_eq!(string(&m, ":exception-type"), "ModelStreamError");
        let body: serde_json::Value = serde_json::from_slice(m.payload()).unwrap();
        assert_eq!(body["ErrorCode"], "500");
    }

    #[test]
    fn damaged_frames_are_refused() {
        let f = Frame::Part(Bytes::from_static(b"x"));
        assert!(read_message_from(&encode(&f, Damage::BadCrc)[..]).is_err());
        assert!(read_message_from(&encode(&f, Damage::CutShort)[..]).is_err());
    }
}
