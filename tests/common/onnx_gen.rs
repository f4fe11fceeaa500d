//! ONNX models built in code for tests that need a hostile or pathological model: an
//! allocation bomb and a long chain. Deterministic; no Python needed.

use prost::Message;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto::{Tensor as TypeTensor, Value as TypeValue};
use tract_onnx::pb::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

fn float_value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TypeTensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(if d < 0 {
                                dimension::Value::DimParam("N".into())
                            } else {
                                dimension::Value::DimValue(d)
                            }),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "mlctl-tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `y = x + ConstantOfShape([1e6, 1e6, 8])`: loading it would ask for 8·10¹² floats.
pub fn allocation_bomb() -> Vec<u8> {
    let shape = TensorProto {
        name: "shape".into(),
        dims: vec![3],
        data_type: DataType::Int64 as i32,
        int64_data: vec![1_000_000, 1_000_000, 8],
        ..Default::default()
    };
    model(GraphProto {
        name: "bomb".into(),
        node: vec![
            node("ConstantOfShape", "big", &["shape"], &["big"]),
            node("Add", "add", &["x", "big"], &["y"]),
        ],
        initializer: vec![shape],
        input: vec![float_value("x", &[1])],
        output: vec![float_value("y", &[])],
        ..Default::default()
    })
}

/// `x` ([N, 4] floats) through `n` `Relu`s in a row.
pub fn chain(n: usize) -> Vec<u8> {
    let names: Vec<String> = (0..=n)
        .map(|i| {
            if i == 0 {
                "x".into()
            } else if i == n {
                "y".into()
            } else {
                format!("t{i}")
            }
        })
        .collect();
    model(GraphProto {
        name: "chain".into(),
        node: (0..n)
            .map(|i| node("Relu", &format!("relu{i}"), &[&names[i]], &[&names[i + 1]]))
            .collect(),
        input: vec![float_value("x", &[-1, 4])],
        output: vec![float_value("y", &[-1, 4])],
        ..Default::default()
    })
}

/// Like `allocation_bomb`, but the shape is computed (`Concat` of two constants), so only
/// running the graph's constant folding reveals its size.
pub fn allocation_bomb_indirect() -> Vec<u8> {
    let int64 = |name: &str, v: Vec<i64>| TensorProto {
        name: name.into(),
        dims: vec![v.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: v,
        ..Default::default()
    };
    let mut concat = node("Concat", "shape", &["a", "b"], &["shape"]);
    concat.attribute.push(tract_onnx::pb::AttributeProto {
        name: "axis".into(),
        r#type: tract_onnx::pb::attribute_proto::AttributeType::Int as i32,
        i: 0,
        ..Default::default()
    });
    model(GraphProto {
        name: "bomb2".into(),
        node: vec![
            concat,
            node("ConstantOfShape", "big", &["shape"], &["big"]),
            node("Add", "add", &["x", "big"], &["y"]),
        ],
        initializer: vec![int64("a", vec![1_000_000]), int64("b", vec![1_000_000, 8])],
        input: vec![float_value("x", &[1])],
        output: vec![float_value("y", &[])],
        ..Default::default()
    })
}
