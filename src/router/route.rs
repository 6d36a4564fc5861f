//! Which route a path names, with or without an API Gateway stage prefix.

/// The routes the router answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /predict`.
    Predict,
    /// `POST /feedback`.
    Feedback,
    /// `GET /health`.
    Health,
    /// Anything else (a 404 with its record).
    Unknown,
}

impl Route {
    /// Matches a path with or without one leading stage segment (`/prod/predict` is `/predict`).
    pub fn of(path: &str) -> Route {
        let path = path.split('?').next().unwrap_or("");
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let last = match (segments.next(), segments.next(), segments.next()) {
            (Some(one), None, None) | (Some(_), Some(one), None) => one,
            _ => return Route::Unknown,
        };
        match last {
            "predict" => Route::Predict,
            "feedback" => Route::Feedback,
            "health" => Route::Health,
            _ => Route::Unknown,
        }
    }

    /// The path as the contract writes it, for messages.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Predict => "/predict",
            Route::Feedback => "/feedback",
            Route::Health => "/health",
            Route::Unknown => "/",
        }
    }
}

/// Matches a path; see [`Route::of`].
pub fn route(path: &str) -> Route {
    Route::of(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_stage() {
        assert_eq!(route("/predict"), Route::Predict);
        assert_eq!(route("/prod/predict"), Route::Predict);
        assert_eq!(route("/prod/predict/"), Route::Predict);
        assert_eq!(route("//prod//predict"), Route::Predict);
        assert_eq!(route("/feedback?x=1"), Route::Feedback);
        assert_eq!(route("/v1/health"), Route::Health);
        assert_eq!(route("/a/b/predict"), Route::Unknown);
        assert_eq!(route("/"), Route::Unknown);
        assert_eq!(route(""), Route::Unknown);
        assert_eq!(route("/prod"), Route::Unknown);
        assert_eq!(route("/predict/x"), Route::Unknown);
    }
}
