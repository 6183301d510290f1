//! Typed access to node attributes.

use crate::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};

pub(crate) fn find<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

pub(crate) fn int(node: &NodeProto, name: &str) -> Option<i64> {
    find(node, name)
        .filter(|a| a.r#type() == AttributeType::Int)
        .map(|a| a.i())
}

pub(crate) fn ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    find(node, name)
        .filter(|a| a.r#type() == AttributeType::Ints)
        .map(|a| a.ints.clone())
}

pub(crate) fn string(node: &NodeProto, name: &str) -> Option<String> {
    find(node, name)
        .filter(|a| a.r#type() == AttributeType::String)
        .map(|a| String::from_utf8_lossy(a.s()).into_owned())
}
