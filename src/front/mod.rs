//! The front doors, thin shells around the one router: Lambda (lambda_http events), `serve`
//! (a local HTTP/1.1 server, with config file reloads), the HTTP accept loop that `serve`
//! and the emulator share, and the sources that change the config while it runs (a watched file,
//! AWS AppConfig).

pub mod appconfig;
pub mod lambda;
pub mod refresh;
pub mod respond;
pub mod serve;
pub mod server;
pub mod validator;
pub mod watch;
