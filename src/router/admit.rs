//! Stage 1, admission, shared by `/predict` and `/feedback`: the method and the body size,
//! checked before anything else is read.

use bytes::Bytes;
use http::{HeaderValue, Method, header};

use super::request::{MAX_BODY_BYTES, Response};
use super::respond::Failure;
use super::route::Route;
use super::ticket::{Reached, Ticket};
use crate::error::ErrorKind;
use crate::record::RecordSink;

/// Refuses anything but a POST within the size limit.
pub(crate) fn admit(route: Route, method: &Method, body: &Bytes) -> Result<(), Failure> {
    if method != Method::POST {
        return Err(Failure::new(
            ErrorKind::MethodNotAllowed,
            format!("use POST {}", route.path()),
        ));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Failure::too_large());
    }
    Ok(())
}

/// Answers an admission failure, with `Allow` on a 405.
pub(crate) fn refuse<S: RecordSink>(ticket: Ticket<'_, S>, failure: Failure) -> Response {
    let method_not_allowed = failure.kind == ErrorKind::MethodNotAllowed;
    let mut resp = ticket.fail(Reached::Admission, failure);
    if method_not_allowed {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_checks_method_then_size() {
        let small = Bytes::from_static(b"{}");
        assert_eq!(admit(Route::Predict, &Method::POST, &small), Ok(()));
        let err = admit(Route::Feedback, &Method::GET, &small).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MethodNotAllowed);
        assert_eq!(err.message, "use POST /feedback");
        let big = Bytes::from(vec![b' '; MAX_BODY_BYTES + 1]);
        let err = admit(Route::Predict, &Method::POST, &big).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PayloadTooLarge);
    }
}
