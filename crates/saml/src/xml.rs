//! Escaping for the XML this crate writes (everything variable in a document passes through
//! [`escape`]; the fixed parts are literals), and the few helpers for reading what arrives with
//! quick-xml.

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesText};
use quick_xml::XmlVersion;

use crate::RequestProblem;

fn malformed(error: impl std::fmt::Display) -> RequestProblem {
    RequestProblem::Malformed(error.to_string())
}

/// An attribute's value, with entity and character references resolved.
pub(crate) fn attribute_value(attribute: &Attribute<'_>) -> Result<String, RequestProblem> {
    attribute
        .normalized_value(XmlVersion::Implicit1_0)
        .map(|value| value.into_owned())
        .map_err(malformed)
}

/// A run of text between references.
pub(crate) fn text(text: &BytesText<'_>) -> Result<String, RequestProblem> {
    text.xml10_content()
        .map(|value| value.into_owned())
        .map_err(malformed)
}

/// `&amp;`, `&#233;` and the like inside text: only XML's predefined entities exist here (DTDs
/// are refused, so no other can have been declared).
pub(crate) fn reference(reference: &BytesRef<'_>) -> Result<String, RequestProblem> {
    if let Some(character) = reference.resolve_char_ref().map_err(malformed)? {
        return Ok(character.to_string());
    }
    let name = reference.decode().map_err(malformed)?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| malformed(format!("unknown entity &{name};")))
}

/// Text content and attribute values (double-quoted) alike.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped rather than sent broken.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_cannot_escape_their_place() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("bell\u{7}tab\t"), "belltab\t");
    }
}
