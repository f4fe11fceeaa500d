//! Rewrites of scikit-learn ONNX exports into graphs tract can run, applied to the
//! protobuf before tract parses it. Each rewrite keeps the graph's input and output
//! names and values (checked against onnxruntime for every fixture, to 1e-5):
//!
//! - `ai.onnx.ml.Scaler` → `Sub(x, offset)` + `Mul(·, scale)` (the operator is defined as
//!   `(x - offset) * scale`, per feature).
//! - `ai.onnx.ml.ZipMap` → `Identity`: the probability tensor is served instead of a
//!   sequence of maps (V2 has no map type anyway).
//! - `ai.onnx.ml.TreeEnsembleRegressor` → `TreeEnsembleClassifier` with one class per
//!   target and the raw (pre-argmax) scores as the output; `AVERAGE` aggregation becomes
//!   `SUM` over weights divided by the tree count. tract lays out one-class ensembles as
//!   `[1-s, s]`, so a `Gather` picks `s` back out.
//! - `base_values` shorter than the class count (binary gradient boosting) are padded
//!   with zeros, as onnxruntime does.
//! - Binary `TreeEnsembleClassifier`: the label is recomputed as the argmax of the
//!   probability output (tract's own label was wrong for some binary tree models).
//!
//! After rewriting, every node's operator must be known to tract, else the model is
//! refused with the operator's name.

use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, attribute_proto::AttributeType,
    tensor_proto::DataType as PbDataType,
};

use crate::error::{Error, Result};

/// What the rewrites did, for the load log and model metadata.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RewriteLog {
    pub notes: Vec<String>,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_str(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

fn ints_attr(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints,
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn floats_attr(name: &str, floats: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats,
        ..Default::default()
    }
}

fn float_const(name: &str, values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: PbDataType::Float as i32,
        float_data: values.to_vec(),
        ..Default::default()
    }
}

fn int64_const(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: PbDataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name,
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

fn is_ml(n: &NodeProto, op: &str) -> bool {
    n.op_type == op && n.domain == "ai.onnx.ml"
}

/// Apply every rewrite to `model`'s main graph.
pub fn rewrite(model: &mut ModelProto) -> Result<RewriteLog> {
    let mut log = RewriteLog::default();
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| Error::Model("ONNX model has no graph".into()))?;
    let old_nodes = std::mem::take(&mut graph.node);
    let mut new_nodes = Vec::with_capacity(old_nodes.len() + 4);
    for (i, n) in old_nodes.into_iter().enumerate() {
        let base = if n.name.is_empty() {
            format!("mlctl_node{i}")
        } else {
            n.name.clone()
        };
        if is_ml(&n, "Scaler") {
            rewrite_scaler(graph, &n, &base, &mut new_nodes)?;
            log.notes.push(format!("Scaler '{base}' rewritten as Sub+Mul"));
        } else if is_ml(&n, "ZipMap") {
            let mut id = node("Identity", base.clone(), n.input.clone(), n.output.clone());
            id.domain = String::new();
            for out in graph.output.iter_mut().filter(|o| n.output.contains(&o.name)) {
                out.r#type = None;
            }
            new_nodes.push(id);
            log.notes
                .push(format!("ZipMap '{base}' dropped: serving the probability tensor"));
        } else if is_ml(&n, "TreeEnsembleRegressor") {
            rewrite_tree_regressor(graph, n, &base, &mut new_nodes)?;
            log.notes.push(format!(
                "TreeEnsembleRegressor '{base}' rewritten as a one-class-per-target classifier"
            ));
        } else if is_ml(&n, "TreeEnsembleClassifier") {
            let n = pad_base_values(n, &mut log)?;
            if class_count(&n) == 2 && n.output.len() == 2 {
                relabel_binary(graph, n, &base, &mut new_nodes);
                log.notes.push(format!(
                    "binary TreeEnsembleClassifier '{base}': label = argmax(probabilities)"
                ));
            } else {
                new_nodes.push(n);
            }
        } else {
            new_nodes.push(n);
        }
    }
    graph.node = new_nodes;
    Ok(log)
}

fn rewrite_scaler(graph: &mut GraphProto, n: &NodeProto, base: &str, out: &mut Vec<NodeProto>) -> Result<()> {
    let offset = attr(n, "offset").map(|a| a.floats.clone()).unwrap_or_default();
    let scale = attr(n, "scale").map(|a| a.floats.clone()).unwrap_or_default();
    let (Some(x), Some(y)) = (n.input.first(), n.output.first()) else {
        return Err(Error::Model(format!("Scaler '{base}' needs one input and one output")));
    };
    let offset_name = format!("{base}__offset");
    let scale_name = format!("{base}__scale");
    let centred = format!("{base}__centred");
    graph.initializer.push(float_const(
        &offset_name,
        if offset.is_empty() { &[0.0] } else { &offset },
    ));
    graph
        .initializer
        .push(float_const(&scale_name, if scale.is_empty() { &[1.0] } else { &scale }));
    out.push(node(
        "Sub",
        format!("{base}__sub"),
        vec![x.clone(), offset_name],
        vec![centred.clone()],
    ));
    out.push(node(
        "Mul",
        format!("{base}__mul"),
        vec![centred, scale_name],
        vec![y.clone()],
    ));
    Ok(())
}

fn class_count(n: &NodeProto) -> usize {
    attr(n, "classlabels_int64s")
        .map(|a| a.ints.len())
        .filter(|&l| l > 0)
        .or_else(|| attr(n, "classlabels_strings").map(|a| a.strings.len()))
        .unwrap_or(0)
}

fn pad_base_values(mut n: NodeProto, log: &mut RewriteLog) -> Result<NodeProto> {
    let classes = class_count(&n);
    if let Some(a) = n.attribute.iter_mut().find(|a| a.name == "base_values")
        && !a.floats.is_empty()
        && a.floats.len() < classes
    {
        let from = a.floats.len();
        a.floats.resize(classes, 0.0);
        log.notes.push(format!("base_values padded from {from} to {classes}"));
    }
    Ok(n)
}

/// Recompute a binary classifier's label as `classlabels[argmax(probabilities)]`.
fn relabel_binary(graph: &mut GraphProto, mut n: NodeProto, base: &str, out: &mut Vec<NodeProto>) {
    let label = n.output[0].clone();
    let probs = n.output[1].clone();
    let raw_label = format!("{base}__tract_label");
    n.output[0] = raw_label;
    out.push(n.clone());
    let argmax = format!("{base}__argmax");
    let mut am = node(
        "ArgMax",
        format!("{base}__argmax_node"),
        vec![probs],
        vec![argmax.clone()],
    );
    am.attribute.push(int_attr("axis", 1));
    am.attribute.push(int_attr("keepdims", 0));
    out.push(am);
    let labels_name = format!("{base}__classlabels");
    if let Some(a) = attr(&n, "classlabels_int64s").filter(|a| !a.ints.is_empty()) {
        graph.initializer.push(int64_const(&labels_name, &a.ints));
    } else if let Some(a) = attr(&n, "classlabels_strings") {
        graph.initializer.push(TensorProto {
            name: labels_name.clone(),
            dims: vec![a.strings.len() as i64],
            data_type: PbDataType::String as i32,
            string_data: a.strings.clone(),
            ..Default::default()
        });
    }
    let mut gather = node(
        "Gather",
        format!("{base}__label_gather"),
        vec![labels_name, argmax],
        vec![label],
    );
    gather.attribute.push(int_attr("axis", 0));
    out.push(gather);
}

fn rewrite_tree_regressor(graph: &mut GraphProto, n: NodeProto, base: &str, out: &mut Vec<NodeProto>) -> Result<()> {
    let n_targets = attr(&n, "n_targets").map(|a| a.i).unwrap_or(1).max(1) as usize;
    let aggregate = attr_str(&n, "aggregate_function").unwrap_or_else(|| "SUM".into());
    let n_trees = attr(&n, "nodes_treeids")
        .map(|a| {
            let mut ids = a.ints.clone();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        })
        .unwrap_or(1)
        .max(1);
    let weight_scale = match aggregate.as_str() {
        "SUM" => 1.0,
        "AVERAGE" => 1.0 / n_trees as f32,
        other => {
            return Err(Error::Model(format!(
                "unsupported operator ai.onnx.ml.TreeEnsembleRegressor with aggregate_function={other} (node '{base}'): only SUM and AVERAGE are served"
            )));
        }
    };
    let Some(y) = n.output.first().cloned() else {
        return Err(Error::Model(format!("TreeEnsembleRegressor '{base}' has no output")));
    };
    let mut leaf_ids_all_zero = true;
    let mut attrs = Vec::with_capacity(n.attribute.len() + 1);
    for a in n.attribute {
        match a.name.as_str() {
            "n_targets" | "aggregate_function" => {}
            "target_ids" => {
                leaf_ids_all_zero = a.ints.iter().all(|&i| i == 0);
                attrs.push(AttributeProto {
                    name: "class_ids".into(),
                    ..a
                });
            }
            "target_nodeids" => attrs.push(AttributeProto {
                name: "class_nodeids".into(),
                ..a
            }),
            "target_treeids" => attrs.push(AttributeProto {
                name: "class_treeids".into(),
                ..a
            }),
            "target_weights" => {
                let floats = a.floats.iter().map(|w| w * weight_scale).collect();
                attrs.push(floats_attr("class_weights", floats));
            }
            "base_values" => {
                let mut floats = a.floats.clone();
                floats.resize(n_targets, 0.0);
                attrs.push(floats_attr("base_values", floats));
            }
            _ => attrs.push(a),
        }
    }
    attrs.push(ints_attr("classlabels_int64s", (0..n_targets as i64).collect()));
    let scores = format!("{base}__scores");
    let mut cls = node(
        "TreeEnsembleClassifier",
        base.to_string(),
        n.input.clone(),
        vec![format!("{base}__label"), scores.clone()],
    );
    cls.domain = "ai.onnx.ml".into();
    cls.attribute = attrs;
    out.push(cls);
    // tract's "binary result layout" turns a single scored column into [1-s, s].
    if n_targets < 3 && leaf_ids_all_zero {
        let idx = format!("{base}__pick");
        graph.initializer.push(int64_const(&idx, &[1]));
        let mut g = node("Gather", format!("{base}__pick_node"), vec![scores, idx], vec![y]);
        g.attribute.push(int_attr("axis", 1));
        out.push(g);
    } else {
        out.push(node("Identity", format!("{base}__out"), vec![scores], vec![y]));
    }
    Ok(())
}

/// Every operator left must be one tract knows; else name it.
pub fn check_supported(model: &ModelProto, known: &dyn Fn(&str) -> bool) -> Result<()> {
    let Some(graph) = &model.graph else {
        return Err(Error::Model("ONNX model has no graph".into()));
    };
    for n in &graph.node {
        let domain_ok = matches!(n.domain.as_str(), "" | "ai.onnx" | "ai.onnx.ml");
        if !domain_ok || !known(&n.op_type) {
            let domain = if n.domain.is_empty() {
                "ai.onnx"
            } else {
                n.domain.as_str()
            };
            return Err(Error::Model(format!(
                "unsupported operator {domain}.{} (node '{}')",
                n.op_type, n.name
            )));
        }
    }
    Ok(())
}

/// Most elements a tensor made from a constant shape may have (2²⁸: 1 GiB of floats).
pub const MAX_CONST_ELEMENTS: u128 = 1 << 28;

/// Refuse, before tract allocates anything, graphs that ask for a tensor larger than
/// `MAX_CONST_ELEMENTS` from a constant shape (`ConstantOfShape`, `Expand`, `Reshape`… of an
/// initializer or `Constant` node) or that declare such an initializer: a model file of a
/// few bytes must not make the gateway allocate terabytes.
pub fn check_sizes(model: &ModelProto) -> Result<()> {
    let Some(graph) = &model.graph else {
        return Ok(());
    };
    let elements = |dims: &[i64]| dims.iter().try_fold(1u128, |acc, &d| acc.checked_mul(d.max(0) as u128));
    let too_big = |what: String, n: Option<u128>| {
        Error::Model(format!(
            "{what} would hold {} elements; the limit is {MAX_CONST_ELEMENTS}",
            n.map_or_else(|| "more than 2^128".to_string(), |n| n.to_string())
        ))
    };
    for t in &graph.initializer {
        let n = elements(&t.dims);
        if n.is_none_or(|n| n > MAX_CONST_ELEMENTS) {
            return Err(too_big(format!("initializer '{}'", t.name), n));
        }
    }
    // Constant int64 vectors by name: initializers and `Constant` nodes' `value`.
    let mut consts: std::collections::HashMap<&str, Vec<i64>> = std::collections::HashMap::new();
    for t in &graph.initializer {
        if let Some(v) = int64_values(t) {
            consts.insert(&t.name, v);
        }
    }
    for n in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(out), Some(t)) = (n.output.first(), n.attribute.iter().find_map(|a| a.t.as_ref()))
            && let Some(v) = int64_values(t)
        {
            consts.insert(out, v);
        }
    }
    for n in &graph.node {
        let shape_input = match n.op_type.as_str() {
            "ConstantOfShape" => n.input.first(),
            "Expand" | "Reshape" => n.input.get(1),
            _ => None,
        };
        if let Some(shape) = shape_input.and_then(|i| consts.get(i.as_str())) {
            let n_el = elements(shape);
            if n_el.is_none_or(|x| x > MAX_CONST_ELEMENTS) {
                return Err(too_big(format!("node '{}' ({} of {shape:?})", n.name, n.op_type), n_el));
            }
        }
    }
    Ok(())
}

/// The values of an INT64 tensor (from `int64_data` or little-endian `raw_data`).
fn int64_values(t: &TensorProto) -> Option<Vec<i64>> {
    if t.data_type != PbDataType::Int64 as i32 {
        return None;
    }
    if !t.int64_data.is_empty() {
        return Some(t.int64_data.clone());
    }
    t.raw_data.len().is_multiple_of(8).then(|| {
        t.raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    })
}
