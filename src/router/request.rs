//! The request and response both front doors hand over and take back.

use bytes::Bytes;
use http::{HeaderMap, Method};

/// Largest request body accepted: Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// A request as both front doors hand it over.
#[derive(Debug, Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// The path, possibly with an API Gateway stage prefix (`/prod/predict`).
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// Already decoded from base64 where the event carried it so. Front doors that stream
    /// pass at most `MAX_BODY_BYTES + 1` bytes, enough to know it is too large.
    pub body: Bytes,
    /// Unique per request: API Gateway's or Lambda's where there is one.
    pub request_id: String,
}

/// The response both front doors send back.
pub type Response = http::Response<Bytes>;
