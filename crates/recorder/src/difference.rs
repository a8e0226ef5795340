//! Where a value differs from the registered ones, in words an admin can act on:
//! "redirect_uri differs from the registered one at character 23".

/// Why `given` (the value of `parameter`) is none of `registered`: compared with the
/// registered value it shares the longest beginning with, at the first character that differs
/// (counted from 1, in characters).
pub fn first_difference(parameter: &str, given: &str, registered: &[String]) -> String {
    let common = |candidate: &str| {
        given
            .chars()
            .zip(candidate.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let Some(closest) = registered.iter().max_by_key(|candidate| common(candidate)) else {
        return format!("{parameter} {given:?} is not registered: the app has none registered");
    };
    let shared = common(closest);
    let at = shared + 1;
    let (given_rest, closest_rest): (String, String) = (
        given.chars().skip(shared).collect(),
        closest.chars().skip(shared).collect(),
    );
    match (given_rest.chars().next(), closest_rest.chars().next()) {
        (None, None) => format!("{parameter} {given:?} is registered"),
        (None, Some(_)) => format!(
            "{parameter} {given:?} is shorter than the registered {closest:?}: it ends before \
             character {at} ({closest_rest:?} is missing)"
        ),
        (Some(_), None) => format!(
            "{parameter} {given:?} is longer than the registered {closest:?}: {given_rest:?} \
             was added from character {at}"
        ),
        (Some(given_char), Some(registered_char)) => format!(
            "{parameter} differs from the registered one ({closest:?}) at character {at}: \
             {given_char:?} where the registered one has {registered_char:?}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|uri| uri.to_string()).collect()
    }

    #[test]
    fn the_closest_registered_value_names_the_character() {
        let uris = registered(&[
            "https://events.example.org/callback",
            "https://other.example/cb",
        ]);
        assert_eq!(
            first_difference("redirect_uri", "https://events.example.org/Callback", &uris),
            "redirect_uri differs from the registered one (\"https://events.example.org/callback\") \
             at character 28: 'C' where the registered one has 'c'"
        );
        assert!(first_difference(
            "redirect_uri",
            "https://events.example.org/callback/",
            &uris
        )
        .contains("\"/\" was added from character 36"));
        assert!(
            first_difference("redirect_uri", "https://events.example.org/call", &uris)
                .contains("ends before character 32 (\"back\" is missing)")
        );
        assert!(first_difference("redirect_uri", "x", &[]).contains("none registered"));
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        let uris = registered(&["https://é.example/a"]);
        assert!(
            first_difference("redirect_uri", "https://é.example/b", &uris)
                .contains("at character 19")
        );
    }
}
