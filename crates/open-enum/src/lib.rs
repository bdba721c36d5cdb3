//! `open_enum!`: a string enum whose known values are variants and whose every other value is
//! kept as `Unknown(text)`. IBM adds values over time (a new model or resource status), and a
//! newer operator may write a status value an older one does not know (a rollback): neither may
//! fail a read. On the wire the value is a plain JSON string, written back as it was read.
//!
//! Used by the IBM wire types (`watson-client`) and the status values of the Kubernetes API types
//! (`speech-crd`, which adds a `type: string` schema).
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod __private {
    pub use serde;
}

/// Declares an open string enum:
///
/// ```
/// open_enum::open_enum! {
///     /// A model's status.
///     pub enum Status {
///         /// Trained and usable.
///         Available = "available",
///     }
/// }
/// assert_eq!(Status::parse("available"), Status::Available);
/// assert_eq!(Status::parse("queued"), Status::Unknown("queued".into()));
/// assert_eq!(Status::Unknown("queued".into()).as_str(), "queued");
/// ```
///
/// The enum gets an `Unknown(String)` variant, `KNOWN` (every known text), `parse` (never fails),
/// `as_str`, `Display`, `From<&str>`, and serde as a string.
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept as written.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($text),*];

            /// The value for a string; never fails (an unknown string is `Unknown`).
            pub fn parse(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )*
                    other => Self::Unknown(other.to_string()),
                }
            }

            /// The string as written ([`Self::parse`] gives the value back).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Unknown(text) => text,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::parse(text)
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as $crate::__private::serde::Deserialize>::deserialize(d)?;
                ::std::result::Result::Ok(Self::parse(&text))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    open_enum! {
        /// A test enum.
        pub enum Colour {
            /// Red.
            Red = "red",
            /// Green.
            Green = "green",
        }
    }

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        for text in Colour::KNOWN {
            let json = serde_json::to_string(text).expect("json");
            let value: Colour = serde_json::from_str(&json).expect("json");
            assert_eq!(value.as_str(), *text);
            assert_eq!(serde_json::to_string(&value).expect("json"), json);
        }
        let blue: Colour = serde_json::from_str("\"blue\"").expect("an unknown value reads");
        assert_eq!(blue, Colour::Unknown("blue".into()));
        assert_eq!(serde_json::to_string(&blue).expect("json"), "\"blue\"");
        assert_eq!(Colour::from("green"), Colour::Green);
        assert_eq!(Colour::Red.to_string(), "red");
    }
}
