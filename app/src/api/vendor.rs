//! The "Send to your vendor" sheet's shared shape: facts in, plain text out. The protocols'
//! modules decide what goes on it (and that no secret does).

use crate::views::VendorFactView;

pub(super) fn fact(label: &str, value: impl Into<String>) -> VendorFactView {
    let value = value.into();
    VendorFactView {
        label: label.to_string(),
        block: value.contains('\n'),
        value,
    }
}

/// A download's file name from an app's name: `Events Portal` → `events-portal`.
pub(super) fn file_stem(name: &str) -> String {
    let stem: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() {
        "app".to_string()
    } else {
        stem
    }
}

/// The sheet as text for an e-mail: a heading, then each fact as `Label: value`, a block's
/// lines indented under its label.
pub(super) fn sheet_text(heading: &str, facts: &[VendorFactView]) -> String {
    let mut text = format!("{heading}\n\n");
    for fact in facts {
        if fact.block {
            text.push_str(&format!("{}:\n", fact.label));
            for line in fact.value.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        } else {
            text.push_str(&format!("{}: {}\n", fact.label, fact.value));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_letters_and_digits() {
        assert_eq!(file_stem("Events Portal (2026)"), "events-portal-2026");
        assert_eq!(file_stem("Café"), "caf");
        assert_eq!(file_stem("***"), "app");
    }

    #[test]
    fn blocks_are_indented_under_their_label() {
        let facts = [
            fact("Client ID", "abc"),
            fact(
                "Redirect URIs",
                "https://a.example/cb\nhttps://b.example/cb",
            ),
        ];
        assert_eq!(
            sheet_text("Settings for Events", &facts),
            "Settings for Events\n\nClient ID: abc\nRedirect URIs:\n    https://a.example/cb\n    \
             https://b.example/cb\n"
        );
    }
}
