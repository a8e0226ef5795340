//! Reading the dashboard's text fields: one value per line, whole numbers.

use crate::error::AppError;

/// The non-empty lines of a text area, trimmed.
pub(super) fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A whole number typed into `field`.
pub(super) fn minutes(field: &str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::Invalid(format!("{field}: enter a whole number.")))
}
