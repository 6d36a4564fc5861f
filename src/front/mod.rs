//! The front doors, thin shells around the one router: Lambda (lambda_http events), `serve`
//! (a local HTTP/1.1 server, with config file reloads), and the HTTP accept loop that `serve`
//! and the emulator share.

pub mod lambda;
pub mod serve;
pub mod server;
pub mod watch;
