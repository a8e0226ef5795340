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

/// A change that cannot be undone goes ahead only when the admin typed the name of what it
/// removes (`name`, exactly, spaces around it aside); `what` says what they were about to do.
pub(super) fn confirmed(typed: &str, name: &str, what: &str) -> Result<(), AppError> {
    if typed.trim() == name.trim() {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "Type {} to confirm that you want to {what}.",
            name.trim()
        )))
    }
}

/// A whole number typed into `field`.
pub(super) fn minutes(field: &str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::Invalid(format!("{field}: enter a whole number.")))
}
