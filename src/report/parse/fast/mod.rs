//! A fast path for the router's own lines: one pass over a flat JSON object that picks the
//! fields the report reads and skips the rest (the EMF block is most of each line) without
//! building anything. It gives up (None) on anything unusual — escapes in a string it keeps,
//! a Lambda `message` wrapper, duplicate or mistyped fields, broken structure — and the caller
//! then parses the line with serde_json, which decides. On well-formed input both agree (see
//! the tests); skipped values are checked for structure, not for full JSON validity.

mod cursor;
mod field;
mod memory;
mod swar;

pub(crate) use memory::Keys;

use super::view::View;
use cursor::{Cursor, to_f64, to_u16};
use field::{Field, field, once};
use memory::{MAX_REMEMBERED, Token, memo_at};

/// Most arms a fast-path `weights` may hold.
const MAX_ARMS: usize = 16;

/// Scans one JSON object and hands its fields to `f`; None means "parse it the slow way".
pub(crate) fn scan<R>(
    json: &[u8],
    keys: &mut Keys,
    f: impl FnOnce(&View<'_, '_>) -> R,
) -> Option<R> {
    let mut c = Cursor { b: json, i: 0 };
    let mut v = View::default();
    let mut weights: [(&[u8], f64); MAX_ARMS] = [(b"", 0.0); MAX_ARMS];
    let mut n_weights: Option<usize> = None;
    let mut seen = 0u32;
    c.eat(b'{')?;
    c.ws();
    // Whatever follows the object is not looked at (the serde path tolerates it too).
    if c.peek()? != b'}' {
        let mut k = 0;
        loop {
            c.ws();
            let rest = &c.b[c.i..];
            let known = keys.tokens.get(k).filter(|t| t.matches(rest));
            let fld = match known {
                Some(t) => {
                    c.i += t.bytes.len();
                    t.field
                }
                None => {
                    let start = c.i;
                    let key = c.plain_bytes()?;
                    let compact = c.peek() == Some(b':');
                    c.eat(b':')?;
                    let fld = field(key);
                    if compact {
                        let token = Token::new(c.b[start..c.i].to_vec(), fld);
                        match keys.tokens.get_mut(k) {
                            Some(slot) => *slot = token,
                            None if k < MAX_REMEMBERED => keys.tokens.push(token),
                            None => {}
                        }
                    }
                    fld
                }
            };
            k += 1;
            match fld {
                Field::Kind => once(&mut v.kind, &mut seen, 1, c.opt_str()?)?,
                Field::Ts => once(&mut v.ts, &mut seen, 1 << 1, c.opt_id()?)?,
                Field::RequestId => once(&mut v.request_id, &mut seen, 1 << 2, c.opt_id()?)?,
                Field::Experiment => once(&mut v.experiment, &mut seen, 1 << 3, c.opt_str()?)?,
                Field::ConfigVersion => {
                    once(&mut v.config_version, &mut seen, 1 << 4, c.opt_str()?)?
                }
                Field::Unit => once(&mut v.unit, &mut seen, 1 << 5, c.opt_id()?)?,
                Field::AssignedBy => once(&mut v.assigned_by, &mut seen, 1 << 6, c.opt_str()?)?,
                Field::Arm => once(&mut v.arm, &mut seen, 1 << 7, c.opt_str()?)?,
                Field::ServedArm => once(&mut v.served_arm, &mut seen, 1 << 8, c.opt_str()?)?,
                Field::Event => once(&mut v.event, &mut seen, 1 << 9, c.opt_str()?)?,
                Field::Status => {
                    let s = if c.is_null() {
                        None
                    } else {
                        Some(to_u16(c.number()?)?)
                    };
                    once(&mut v.status, &mut seen, 1 << 10, s)?
                }
                Field::LatencyMs => once(&mut v.latency_ms, &mut seen, 1 << 11, c.opt_f64()?)?,
                Field::Value => once(&mut v.value, &mut seen, 1 << 12, c.opt_f64()?)?,
                Field::FirstByteMs => once(&mut v.first_byte_ms, &mut seen, 1 << 14, c.opt_f64()?)?,
                Field::Tokens => once(&mut v.tokens, &mut seen, 1 << 15, c.opt_f64()?)?,
                Field::Weights => {
                    let n = if c.is_null() {
                        None
                    } else {
                        Some(scan_weights(&mut c, &mut weights)?)
                    };
                    once(&mut n_weights, &mut seen, 1 << 13, n)?
                }
                // Lambda's wrapper: the serde path unwraps it.
                Field::Message => return None,
                Field::Endpoint => once(&mut v.endpoint, &mut seen, 1 << 16, c.opt_str()?)?,
                Field::InvokedVariant => {
                    once(&mut v.invoked_variant, &mut seen, 1 << 17, c.opt_str()?)?
                }
                Field::InferenceComponent => {
                    once(&mut v.inference_component, &mut seen, 1 << 18, c.opt_str()?)?
                }
                Field::TargetModel => once(&mut v.target_model, &mut seen, 1 << 19, c.opt_str()?)?,
                Field::TargetContainerHostname => once(
                    &mut v.target_container_hostname,
                    &mut seen,
                    1 << 20,
                    c.opt_str()?,
                )?,
                Field::ShadowOnly => return None,
                Field::Other => match memo_at(&mut keys.memos, k - 1) {
                    Some(memo) => c.skip_member(memo)?,
                    None => c.skip_value()?,
                },
            }
            c.ws();
            match c.peek()? {
                b',' => c.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
    }
    if let Some(n) = n_weights {
        v.weights = Some(&weights[..n]);
    }
    Some(f(&v))
}

/// `[["control", 9000], ["canary", 1000]]` into `out`; the number of arms.
fn scan_weights<'a>(c: &mut Cursor<'a>, out: &mut [(&'a [u8], f64); MAX_ARMS]) -> Option<usize> {
    c.eat(b'[')?;
    c.ws();
    if c.peek()? == b']' {
        c.i += 1;
        return Some(0);
    }
    let mut n = 0;
    loop {
        if n == MAX_ARMS {
            return None;
        }
        c.eat(b'[')?;
        c.ws();
        let name = c.plain_bytes()?;
        c.eat(b',')?;
        c.ws();
        let w = to_f64(c.number()?)?;
        c.eat(b']')?;
        out[n] = (name, w);
        n += 1;
        c.ws();
        match c.peek()? {
            b',' => c.i += 1,
            b']' => {
                c.i += 1;
                return Some(n);
            }
            _ => return None,
        }
    }
}
