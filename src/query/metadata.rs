//! Field names in query text: `team:sales` means the metadata field `team` when the index has no
//! field `team`, and field names match whatever their case (`Source:Twitter`).
//!
//! The query text is parsed with tantivy's grammar; every field name the schema does not know is
//! rewritten to the JSON path `meta.<name>` (lowercased, as [`crate::index`] indexes metadata names)
//! before the parser resolves fields. Values need nothing here: the exact-value fields and the
//! metadata are indexed lowercased, and the parser runs the value through the same analyzer.

use tantivy::query::{Query, QueryParser, QueryParserError};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::Schema;

use crate::error::Result;
use crate::index::field_names;

/// Parses `text` (already checked against the limits) with `parser`, reading unknown field names as
/// metadata fields.
pub(super) fn parse_with_metadata(
    parser: &QueryParser,
    schema: &Schema,
    text: &str,
) -> Result<Box<dyn Query>> {
    let ast = tantivy::query_grammar::parse_query(text)
        .map_err(|_| QueryParserError::SyntaxError(text.to_string()))?;
    Ok(parser.build_query_from_user_input_ast(rewrite(ast, schema)?)?)
}

/// The metadata path of the field `name` (`meta.<name lowercased>`); names with control characters
/// are never indexed (see [`crate::index`]) and match nothing.
pub(super) fn metadata_path(name: &str) -> String {
    format!("{}.{}", field_names::META, name.to_lowercase())
}

/// A query for the exact value `value` in the field (or metadata path) `field`, the value analysed
/// as the field's values are (so in any case for the exact-value fields and metadata).
pub(super) fn value_filter(
    parser: &QueryParser,
    field: &str,
    value: &str,
) -> Result<Box<dyn Query>> {
    if field.chars().any(char::is_control) {
        return Ok(Box::new(tantivy::query::EmptyQuery));
    }
    let literal = UserInputLiteral {
        field_name: Some(field.to_string()),
        phrase: value.to_string(),
        delimiter: tantivy::query_grammar::Delimiter::DoubleQuotes,
        slop: 0,
        prefix: false,
    };
    let ast = UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(literal)));
    Ok(parser.build_query_from_user_input_ast(ast)?)
}

fn rewrite(
    ast: UserInputAst,
    schema: &Schema,
) -> std::result::Result<UserInputAst, QueryParserError> {
    Ok(match ast {
        UserInputAst::Clause(clauses) => UserInputAst::Clause(
            clauses
                .into_iter()
                .map(|(occur, clause)| Ok((occur, rewrite(clause, schema)?)))
                .collect::<std::result::Result<_, QueryParserError>>()?,
        ),
        UserInputAst::Boost(inner, boost) => {
            UserInputAst::Boost(Box::new(rewrite(*inner, schema)?), boost)
        }
        UserInputAst::Leaf(leaf) => UserInputAst::Leaf(Box::new(rewrite_leaf(*leaf, schema)?)),
    })
}

fn rewrite_leaf(
    leaf: UserInputLeaf,
    schema: &Schema,
) -> std::result::Result<UserInputLeaf, QueryParserError> {
    // tantivy separates the segments of a JSON path with control bytes: a name holding one is
    // no field (and would trip an assertion in tantivy).
    if let Some(name) = leaf_field(&leaf) {
        if name.chars().any(char::is_control) {
            return Err(QueryParserError::FieldDoesNotExist(
                name.escape_default().to_string(),
            ));
        }
    }
    let rename = |field: Option<String>| field.map(|name| resolve_field_name(&name, schema));
    Ok(match leaf {
        UserInputLeaf::Literal(mut literal) => {
            literal.field_name = rename(literal.field_name);
            UserInputLeaf::Literal(literal)
        }
        UserInputLeaf::Range {
            field,
            lower,
            upper,
        } => UserInputLeaf::Range {
            field: rename(field),
            lower,
            upper,
        },
        UserInputLeaf::Set { field, elements } => UserInputLeaf::Set {
            field: rename(field),
            elements,
        },
        UserInputLeaf::Exists { field } => UserInputLeaf::Exists {
            field: resolve_field_name(&field, schema),
        },
        other => other,
    })
}

fn leaf_field(leaf: &UserInputLeaf) -> Option<&str> {
    match leaf {
        UserInputLeaf::Literal(literal) => literal.field_name.as_deref(),
        UserInputLeaf::Range { field, .. } | UserInputLeaf::Set { field, .. } => field.as_deref(),
        UserInputLeaf::Exists { field } => Some(field),
        _ => None,
    }
}

/// The schema's field for `name` (as written, else lowercased), else the metadata path
/// `meta.<name lowercased>`.
fn resolve_field_name(name: &str, schema: &Schema) -> String {
    if schema.find_field(name).is_some() {
        return name.to_string();
    }
    let lowered = name.to_lowercase();
    if schema.find_field(&lowered).is_some() {
        return lowered;
    }
    if schema.get_field(field_names::META).is_err() {
        // An index written before metadata was indexed: the parser names the unknown field.
        return name.to_string();
    }
    metadata_path(&lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_become_metadata_paths() {
        let schema = crate::index::schema();
        assert_eq!(resolve_field_name("source", &schema), "source");
        assert_eq!(resolve_field_name("Source", &schema), "source");
        assert_eq!(resolve_field_name("Team", &schema), "meta.team");
        assert_eq!(resolve_field_name("meta.team", &schema), "meta.team");
    }
}
